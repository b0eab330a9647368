import { expect } from 'vitest';
import { ConveyorError } from '../../common/errors.js';

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
