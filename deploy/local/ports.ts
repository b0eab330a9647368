// Free-port checks before anything starts, and picking a random free base port for tests (so that
// test runs and a developer's own cluster on 9876 never collide).
import { createServer } from 'node:net';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { planLayout, portsOf, type ClusterOptions } from './layout.js';

/** Random base ports for tests come from here: below Linux's ephemeral range (32768…), so outgoing connections do not take them. */
const RANDOM_BASE_PORT_MIN = 12_000;
const RANDOM_BASE_PORT_MAX = 28_000;
/** Tries before pickFreeBasePort gives up (each try probes every port of the layout). */
const RANDOM_BASE_PORT_ATTEMPTS_MAX = 50;

/** Whether host:port can be bound right now (bound, then released at once). */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws INVALID_ARGUMENT naming every port of the layout that something else holds. */
export async function checkPortsFree(options: ClusterOptions): Promise<void> {
  const wanted = planLayout(options).processes.flatMap(portsOf);
  const results = await Promise.all(wanted.map(async (w) => ({ ...w, free: await isPortFree(options.host, w.port) })));
  const taken = results.filter((r) => !r.free);
  if (taken.length > 0) {
    const list = taken.map((t) => `${t.port} (${t.what})`).join(', ');
    throw new ConveyorError(
      ErrorCode.INVALID_ARGUMENT,
      `port${taken.length > 1 ? 's' : ''} ${list} already in use on ${options.host}; stop what holds ${taken.length > 1 ? 'them' : 'it'} or choose another --base-port`,
      { ports: taken.map((t) => t.port).join(',') },
    );
  }
}

/** A random base port in [RANDOM_BASE_PORT_MIN, RANDOM_BASE_PORT_MAX] whose whole layout is free now. */
export async function pickFreeBasePort(options: Omit<ClusterOptions, 'basePort'>, random: () => number = Math.random): Promise<number> {
  for (let attempt = 0; attempt < RANDOM_BASE_PORT_ATTEMPTS_MAX; attempt++) {
    const basePort = RANDOM_BASE_PORT_MIN + Math.floor(random() * (RANDOM_BASE_PORT_MAX - RANDOM_BASE_PORT_MIN));
    try {
      await checkPortsFree({ ...options, basePort });
      return basePort;
    } catch {
      // some port of that layout is taken: try another base
    }
  }
  throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `no free base port found in ${RANDOM_BASE_PORT_ATTEMPTS_MAX} tries between ${RANDOM_BASE_PORT_MIN} and ${RANDOM_BASE_PORT_MAX}`, {});
}
