import { describe, expect, it } from 'vitest';
import { ConveyorError, ErrorCode } from '../../../../common/errors.js';
import {
  DURATION_S_DEFAULT,
  E2E_SIZE_MIN,
  IN_FLIGHT_DEFAULT,
  QUEUES_DEFAULT,
  SIZE_BYTES_DEFAULT,
  TIMEOUT_S_DEFAULT,
  parseConsumeOptions,
  parseE2eOptions,
  parseProduceOptions,
} from '../../../../tools/bench/options.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConveyorError);
    expect((err as ConveyorError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    return String((err as ConveyorError).fields.problems).split('\n');
  }
  throw new Error('expected the options to be rejected');
}

describe('bench produce options', () => {
  it('fills the documented defaults', () => {
    const o = parseProduceOptions({ topic: 'bench' });
    expect(o).toEqual({
      topic: 'bench',
      sizeBytes: SIZE_BYTES_DEFAULT,
      stop: { kind: 'duration', durationMs: DURATION_S_DEFAULT * 1000 },
      batch: 1,
      producers: 1,
      inFlight: IN_FLIGHT_DEFAULT,
      queues: QUEUES_DEFAULT,
      rpcsPerQueue: 1,
      json: false,
    });
  });

  it('reads a count run with its timeout, and digit separators', () => {
    const o = parseProduceOptions({ topic: 'bench', count: '1_000_000', batch: '64', json: true });
    expect(o.stop).toEqual({ kind: 'count', count: 1_000_000, timeoutMs: TIMEOUT_S_DEFAULT * 1000 });
    expect(o.batch).toBe(64);
    expect(o.json).toBe(true);
  });

  it('lists every problem at once, each naming its flag', () => {
    const problems = problemsOf(() => parseProduceOptions({ size: '0', batch: 'many', producers: '1000', count: '5', durationS: '3' }));
    expect(problems).toEqual(
      expect.arrayContaining([
        '--topic is required',
        '--size: 0 is outside 1…4194304',
        "--batch: 'many' is not a whole number",
        '--producers: 1000 is outside 1…64',
        '--count and --duration-s: give one of them, not both',
      ]),
    );
  });

  it('rejects a batch larger than the broker accepts in one send', () => {
    expect(problemsOf(() => parseProduceOptions({ topic: 't', batch: '1024', size: '1048576' })).join()).toMatch(/batch limit/);
  });

  it('rejects an in-flight window whose bodies would not fit in memory', () => {
    expect(problemsOf(() => parseProduceOptions({ topic: 't', inFlight: '10000', batch: '1000', size: '1024', producers: '2' })).join()).toMatch(/outstanding/);
  });

  it('rejects an invalid topic name and a negative duration', () => {
    const problems = problemsOf(() => parseProduceOptions({ topic: 'no spaces', durationS: '-3' }));
    expect(problems[0]).toMatch(/--topic: 'no spaces' is not a valid name/);
    expect(problems[1]).toMatch(/--duration-s: '-3' is not a whole number/);
  });
});

describe('bench consume options', () => {
  it('needs a topic and a group', () => {
    expect(problemsOf(() => parseConsumeOptions({}))).toEqual(['--topic is required', '--group is required']);
  });

  it('reads a count with an idle stop', () => {
    const o = parseConsumeOptions({ topic: 't', group: 'g', count: '100', idleS: '0' });
    expect(o.stop).toMatchObject({ kind: 'count', count: 100 });
    expect(o.idleStopMs).toBe(0);
  });
});

describe('bench e2e options', () => {
  it('defaults to 2,000 msgs/s for 30 s with the given default group', () => {
    const o = parseE2eOptions({ topic: 't' }, 'bench-e2e-1');
    expect(o).toMatchObject({ ratePerS: 2_000, durationMs: 30_000, warmupMs: 0, sizeBytes: 1024, group: 'bench-e2e-1', rpcsPerQueue: 1 });
  });

  it('reads --warmup-s from 0 to 600 seconds', () => {
    expect(parseE2eOptions({ topic: 't', warmupS: '5' }, 'g').warmupMs).toBe(5_000);
    expect(parseE2eOptions({ topic: 't', warmupS: '0' }, 'g').warmupMs).toBe(0);
    expect(problemsOf(() => parseE2eOptions({ topic: 't', warmupS: '601' }, 'g'))[0]).toMatch(/--warmup-s/);
    expect(problemsOf(() => parseE2eOptions({ topic: 't', warmupS: '-1' }, 'g'))[0]).toMatch(/--warmup-s/);
  });

  it('reads --rpcs-per-queue within the producer option\'s bounds', () => {
    expect(parseE2eOptions({ topic: 't', rpcsPerQueue: '4' }, 'g').rpcsPerQueue).toBe(4);
    expect(parseProduceOptions({ topic: 't', rpcsPerQueue: '16' }).rpcsPerQueue).toBe(16);
    expect(problemsOf(() => parseE2eOptions({ topic: 't', rpcsPerQueue: '17' }, 'g'))[0]).toMatch(/--rpcs-per-queue/);
    expect(problemsOf(() => parseProduceOptions({ topic: 't', rpcsPerQueue: '0' }))[0]).toMatch(/--rpcs-per-queue/);
  });

  it('needs room in the body for the send time and run token', () => {
    expect(problemsOf(() => parseE2eOptions({ topic: 't', size: String(E2E_SIZE_MIN - 1) }, 'g'))[0]).toMatch(/--size/);
  });

  it('refuses a count, since an e2e run is paced by rate and duration', () => {
    expect(problemsOf(() => parseE2eOptions({ topic: 't', count: '10' }, 'g'))[0]).toMatch(/--count/);
  });
});
