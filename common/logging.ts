import pino from 'pino';

export type Logger = pino.Logger;

interface LoggerOptions {
  /** Process name, e.g. `nameserver` or `broker-a-0`. */
  name: string;
  level?: string;
  /** Pretty output; defaults to true only when stdout is a terminal. */
  pretty?: boolean;
}

/** One pino root per process (STYLE.md); components take `log.child({ component })`. */
export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.pretty ?? Boolean(process.stdout.isTTY);
  const base = { level: options.level ?? 'info', name: options.name };
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino(base);
}

/** A logger that drops everything, for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
