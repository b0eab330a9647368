import { expect } from 'vitest';
import { ConveyorError, errorCodeName, isConveyorError } from '../../common/errors.js';

/** Awaits a promise that must reject with a ConveyorError, and returns that error. */
export async function rejectionOf(promise: Promise<unknown>): Promise<ConveyorError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ConveyorError);
    return err as ConveyorError;
  }
  throw new Error('expected the promise to reject with a ConveyorError, but it resolved');
}

/** 'OK' when the promise resolves, else the name of the ConveyorError code it rejects with (any other error is rethrown). */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'OK';
  } catch (err) {
    if (isConveyorError(err)) return errorCodeName(err.code);
    throw err;
  }
}
