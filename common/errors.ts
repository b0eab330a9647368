import { conveyor } from '../proto/index.js';

export const ErrorCode = conveyor.ErrorCode;
export type ErrorCode = conveyor.ErrorCode;

/** The name of a code, e.g. `TOPIC_NOT_FOUND`; numbers unknown to this build read `CODE_<n>`. */
export function errorCodeName(code: ErrorCode): string {
  return (conveyor.ErrorCode as unknown as Record<number, string>)[code] ?? `CODE_${code}`;
}

export type ErrorFields = Record<string, string | number | boolean | undefined>;

/**
 * Every expected failure in Conveyor: an operating error with a stable code, fields a program can
 * read, and a message a person can act on. Programmer errors are not ConveyorErrors; they throw
 * (assert) and end the process.
 */
export class ConveyorError extends Error {
  override readonly name = 'ConveyorError';
  readonly code: ErrorCode;
  readonly fields: Readonly<ErrorFields>;

  constructor(code: ErrorCode, message: string, fields: ErrorFields = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.fields = fields;
  }

  get codeName(): string {
    return errorCodeName(this.code);
  }

  /** Stringified fields as they go on the wire. */
  wireFields(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.fields)) if (v !== undefined) out[k] = String(v);
    return out;
  }
}

export function isConveyorError(err: unknown, code?: ErrorCode): err is ConveyorError {
  return err instanceof ConveyorError && (code === undefined || err.code === code);
}

/** Programmer-error check: violations end the process, they are never caught and logged. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

/** Exhaustiveness check for `switch` over a union. */
export function unreachable(value: never): never {
  throw new Error(`unreachable: ${String(value)}`);
}
