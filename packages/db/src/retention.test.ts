import { describe, expect, it } from 'vitest';
import { useStoredCounts, type DeliveryTallyRow } from './retention.js';

const tally = (...counts: number[]): DeliveryTallyRow[] => counts.map((count, index) => ({ status: index % 2 ? 'SKIPPED' : 'SENT', skipReason: null, count }));

describe('which counts a report shows', () => {
  it('live counts while every delivery is there, even if they changed after the counts were stored (a redrive)', () => {
    expect(useStoredCounts(10, tally(7, 3))).toBe(false);
    expect(useStoredCounts(10, undefined)).toBe(false);
  });

  it('stored counts once deletion has begun, and once it is over', () => {
    expect(useStoredCounts(4, tally(7, 3))).toBe(true);
    expect(useStoredCounts(0, tally(7, 3))).toBe(true);
  });

  it('nothing to prefer for a source that never had a delivery', () => {
    expect(useStoredCounts(0, [])).toBe(false);
  });
});
