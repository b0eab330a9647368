// Readiness over each process's HTTP ops server: /readyz answers 200 when the process can serve,
// 503 while it cannot, with a JSON status body either way (brokers put role and replication lag
// there). A paused (SIGSTOP) process accepts the connection but never answers: hence the timeout.
import { setTimeout as sleep } from 'node:timers/promises';
import { formatHostPort } from '../../common/addresses.js';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { logTail, pidState } from './process-control.js';

/** One /readyz probe may take this long; a healthy local process answers in a few ms. */
const PROBE_TIMEOUT_MS = 1_000;
/** How long `up` and `start` wait for a process to become ready (start-up includes TypeScript load and recovery). */
export const READY_TIMEOUT_MS = 60_000;
/** Poll interval while waiting for readiness. */
const READY_POLL_MS = 100;
/** Largest /readyz body read; the status JSON is a few hundred bytes. */
const PROBE_BODY_BYTES_MAX = 64 * 1024;

interface Probe {
  /** /readyz answered 200. */
  ready: boolean;
  /** The JSON body of /readyz (200 or 503), or null when nothing (valid) answered. */
  status: Record<string, unknown> | null;
}

export async function probeReady(host: string, httpPort: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<Probe> {
  try {
    const response = await fetch(`http://${formatHostPort(host, httpPort)}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
    const text = (await response.text()).slice(0, PROBE_BODY_BYTES_MAX);
    let status: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) status = parsed as Record<string, unknown>;
    } catch {
      // not JSON: readiness still counts, the status stays empty
    }
    return { ready: response.status === 200, status };
  } catch {
    return { ready: false, status: null };
  }
}

interface ReadyTarget {
  name: string;
  pid: number;
  host: string;
  httpPort: number;
  logFile: string;
}

/**
 * Polls /readyz until 200. Fails early with the log's last lines when the process exits, and with
 * TIMEOUT after timeoutMs.
 */
export async function waitUntilReady(target: ReadyTarget, bin: string, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (pidState(target.pid, bin) === 'gone') {
      throw new ConveyorError(
        ErrorCode.SERVICE_UNAVAILABLE,
        `${target.name} exited before it was ready; last lines of ${target.logFile}:\n${logTail(target.logFile)}`,
        { process: target.name, logFile: target.logFile },
      );
    }
    const probe = await probeReady(target.host, target.httpPort);
    if (probe.ready) return;
    if (Date.now() >= deadline) {
      throw new ConveyorError(
        ErrorCode.TIMEOUT,
        `${target.name} (pid ${target.pid}) was not ready within ${timeoutMs} ms on http port ${target.httpPort}; last lines of ${target.logFile}:\n${logTail(target.logFile)}`,
        { process: target.name, logFile: target.logFile },
      );
    }
    await sleep(READY_POLL_MS);
  }
}
