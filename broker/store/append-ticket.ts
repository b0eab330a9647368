// One append waiting in the writer: a promise settled when the writer reports it done. A class
// with a shared promise executor, so the hot path creates no closures per append.
import type { EncodedBatch } from './batch-encoder.js';
import type { WriterTicket } from './log-writer.js';
import type { AppendResult } from './types.js';

interface AppendCompleter {
  completeAppend(encoded: EncodedBatch): void;
}

let capturedResolve: ((results: AppendResult[]) => void) | undefined;
let capturedReject: ((error: Error) => void) | undefined;
function capture(resolve: (results: AppendResult[]) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

export class AppendTicket implements WriterTicket {
  readonly promise: Promise<AppendResult[]>;
  readonly endPhysicalOffset: number;
  readonly records: number;
  private readonly resolve: (results: AppendResult[]) => void;
  private readonly reject: (error: Error) => void;

  constructor(private readonly completer: AppendCompleter, private readonly encoded: EncodedBatch) {
    this.promise = new Promise(capture);
    this.resolve = capturedResolve!;
    this.reject = capturedReject!;
    this.endPhysicalOffset = encoded.endPhysicalOffset;
    this.records = encoded.results.length;
  }

  done(error?: Error): void {
    if (error !== undefined) {
      this.reject(error);
      return;
    }
    this.completer.completeAppend(this.encoded);
    this.resolve(this.encoded.results);
  }
}
