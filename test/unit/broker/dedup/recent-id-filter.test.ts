import { describe, expect, it } from 'vitest';
import { RecentIdFilter } from '../../../../broker/dedup/recent-id-filter.js';

describe('the recent-id filter', () => {
  it('never misses an id added since the asked time', () => {
    const filter = new RecentIdFilter({ sliceIdsMax: 1_024, slicesMax: 64 });
    for (let i = 0; i < 10_000; i++) filter.add(`id-${i}`, i);
    for (let i = 0; i < 10_000; i++) expect(filter.mightContain(`id-${i}`, 0)).toBe(true);
  });

  it('rarely answers maybe for ids it never saw', () => {
    const filter = new RecentIdFilter({ sliceIdsMax: 1_024, slicesMax: 64 });
    for (let i = 0; i < 10_000; i++) filter.add(`id-${i}`, i);
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (filter.mightContain(`other-${i}`, 0)) hits++;
    expect(hits).toBeLessThan(100);
  });

  it('ignores slices older than the asked time and drops them on expiry', () => {
    const filter = new RecentIdFilter({ sliceIdsMax: 2, slicesMax: 64 });
    filter.add('a', 10);
    filter.add('b', 11);
    filter.add('c', 20);
    expect(filter.mightContain('a', 12)).toBe(false);
    expect(filter.mightContain('c', 12)).toBe(true);
    filter.expire(12);
    expect(filter.sliceCount).toBe(1);
    expect(filter.hasIdsSince(21)).toBe(false);
    filter.expire(21);
    expect(filter.sliceCount).toBe(0);
  });

  it('reports where it stopped being complete when it drops a slice early', () => {
    const filter = new RecentIdFilter({ sliceIdsMax: 2, slicesMax: 2 });
    expect(filter.completeSinceMs).toBe(Number.NEGATIVE_INFINITY);
    for (let i = 0; i < 5; i++) filter.add(`id-${i}`, 100 + i);
    expect(filter.sliceCount).toBe(2);
    expect(filter.completeSinceMs).toBe(102);
    expect(filter.mightContain('id-4', 102)).toBe(true);
  });
});
