import { describe, expect, it } from 'vitest';
import { RequestGate } from '../../../../broker/services/request-runner.js';
import { ErrorCode, isConveyorError } from '../../../../common/errors.js';

describe('the request gate', () => {
  it('admits calls until closed, then refuses with SHUTTING_DOWN', () => {
    const gate = new RequestGate();
    gate.enter();
    expect(gate.inFlight).toBe(1);
    gate.close();
    let caught: unknown;
    try {
      gate.enter();
    } catch (err) {
      caught = err;
    }
    expect(isConveyorError(caught, ErrorCode.SHUTTING_DOWN)).toBe(true);
    expect(gate.inFlight).toBe(1);
  });

  it('says drained once the last admitted call left', async () => {
    const gate = new RequestGate();
    gate.enter();
    gate.enter();
    gate.close();
    const drained = gate.drained(5_000);
    gate.leave();
    gate.leave();
    expect(await drained).toBe(true);
    expect(await gate.drained(10)).toBe(true);
  });

  it('gives up waiting after the timeout', async () => {
    const gate = new RequestGate();
    gate.enter();
    expect(await gate.drained(20)).toBe(false);
  });
});
