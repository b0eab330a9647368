// Which segments a generator-id lookup searches: spans per segment and instance, widened only,
// persisted through takeChanged/load, and "every instance" past the per-segment bound.
import { describe, expect, it } from 'vitest';
import { IdRunSpans } from '../../../../broker/store/id-run-spans.js';
import { INDEX_RUN_SPANS_PER_SEGMENT_MAX } from '../../../../broker/store/store-limits.js';

const A = '00000000000000000000';
const B = '00000000000001048576';

function persisted(spans: IdRunSpans): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  spans.takeChanged((key, value) => out.set(key, value));
  return out;
}

describe('id run spans', () => {
  it('names only the segments whose span of the instance holds the counter, in the order given', () => {
    const spans = new IdRunSpans();
    spans.add(A, 7, 0, 127);
    spans.add(A, 7, 300, 400); // widens A's span to 0..400
    spans.add(B, 7, 401, 900);
    spans.add(B, 9, 0, 10);
    expect(spans.segmentsHolding([B, A], 7, 200)).toEqual([A]);
    expect(spans.segmentsHolding([B, A], 7, 401)).toEqual([B]);
    expect(spans.segmentsHolding([B, A], 7, 901)).toEqual([]);
    expect(spans.segmentsHolding([B, A], 9, 5)).toEqual([B]);
    expect(spans.segmentsHolding([B, A], 8, 5)).toEqual([]);
    spans.deleteSegment(A);
    expect(spans.segmentsHolding([B, A], 7, 200)).toEqual([]);
  });

  it('persists each widened span once per batch, and a reload answers the same', () => {
    const spans = new IdRunSpans();
    spans.add(A, 7, 0, 127);
    spans.add(A, 7, 128, 255);
    spans.add(B, 7, 256, 300);
    const first = persisted(spans);
    expect([...first.keys()]).toEqual([`idspan:${A}\u0000000000000007`, `idspan:${B}\u0000000000000007`]);
    spans.add(A, 7, 10, 20); // inside: nothing to write
    expect(persisted(spans).size).toBe(0);
    const reloaded = new IdRunSpans();
    for (const [key, value] of first) reloaded.load(key, value);
    expect(persisted(reloaded).size).toBe(0);
    for (const counter of [0, 255, 256, 300, 301]) expect(reloaded.segmentsHolding([A, B], 7, counter)).toEqual(spans.segmentsHolding([A, B], 7, counter));
  });

  it('past the bound of instances in a segment, every lookup searches that segment, also after a reload', () => {
    const spans = new IdRunSpans();
    for (let instance = 0; instance <= INDEX_RUN_SPANS_PER_SEGMENT_MAX; instance++) spans.add(A, instance, 0, 7);
    spans.add(B, 1, 0, 7);
    expect(spans.segmentsHolding([A, B], 123_456, 99)).toEqual([A]);
    const written = persisted(spans);
    expect(written.has(`idspan:${A}\u0000*`)).toBe(true);
    const reloaded = new IdRunSpans();
    for (const [key, value] of [...written].sort(([a], [b]) => (a < b ? -1 : 1))) reloaded.load(key, value);
    expect(reloaded.segmentsHolding([A, B], 123_456, 99)).toEqual([A]);
    expect(reloaded.segmentsHolding([A, B], 1, 3)).toEqual([A, B]);
  });
});
