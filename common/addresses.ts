import { ConveyorError, ErrorCode } from './errors.js';

interface HostPort {
  host: string;
  port: number;
}

/** `host:port` → parts; throws INVALID_ARGUMENT naming the bad entry. IPv6 as `[::1]:9876`. */
export function parseHostPort(text: string, what = 'address'): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text.trim()) ?? /^([^:\s]+):(\d+)$/.exec(text.trim());
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || !m[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `invalid ${what} '${text}': expected host:port with a port from 1 to 65535`, { value: text });
  }
  return { host: m[1], port };
}

/** `h:p,h:p` (or an array) → validated list of `host:port` strings. */
export function parseAddressList(value: string | string[], what = 'address'): string[] {
  const items = (Array.isArray(value) ? value : value.split(','))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const item of items) parseHostPort(item, what);
  return items;
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
