// The HTTP/2 receive window of Conveyor's gRPC servers. grpc-js 1.14 reads
// `grpc-node.flow_control_window` on channels only; a server keeps Node's default of 64 KiB per
// stream and per connection (grpc/grpc-node PR #3058 adds the server side; open as of this
// writing). With 64 KiB a client sending a 140 KB batch of 128 messages sends a sixteenth of a
// MiB, then waits for the broker's WINDOW_UPDATE, again and again: batched produce is bound by
// those round trips, and costs more CPU per message on every side (docs/performance.md "Numbers
// that shaped the code"). This module does what that PR does, from outside:
// the per-stream window goes into the SETTINGS the server advertises (set before binding) and
// each new session's connection window is raised. It reaches into two grpc-js internals
// (`commonServerOptions`, `http2Servers`); a unit test fails if a grpc-js upgrade moves them.
import type * as http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

/**
 * Bytes a client may send a broker (per stream and per connection) before the broker's next
 * WINDOW_UPDATE. Two batches of the largest size (BATCH_BYTES_MAX, 4 MiB) per stream fit with
 * room; it bounds only bytes the server has not read yet, and grpc-js reads at once.
 */
export const SERVER_FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

interface ServerInternals {
  commonServerOptions?: { settings?: http2.Settings };
  http2Servers?: Map<http2.Http2Server, unknown>;
}

const raisedServers = new WeakSet<object>();

/** Before bindAsync: new sessions advertise `bytes` as their per-stream window. Returns false if grpc-js moved the field. */
export function raiseStreamWindow(server: grpc.Server, bytes = SERVER_FLOW_CONTROL_WINDOW_BYTES): boolean {
  const internals = server as unknown as ServerInternals;
  const options = internals.commonServerOptions;
  if (options === undefined || typeof options !== 'object') return false;
  options.settings = { ...options.settings, initialWindowSize: bytes };
  return true;
}

/** After bindAsync: every new session of every listener raises its connection window to `bytes`. Returns false if grpc-js moved the field. */
export function raiseConnectionWindow(server: grpc.Server, bytes = SERVER_FLOW_CONTROL_WINDOW_BYTES): boolean {
  const listeners = (server as unknown as ServerInternals).http2Servers;
  if (!(listeners instanceof Map)) return false;
  for (const listener of listeners.keys()) {
    if (raisedServers.has(listener)) continue;
    raisedServers.add(listener);
    listener.on('session', (session: http2.ServerHttp2Session) => {
      try {
        session.setLocalWindowSize(bytes);
      } catch {
        // A session already closing: nothing to raise.
      }
    });
  }
  return true;
}
