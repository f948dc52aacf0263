import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { retryDelayMs } from './backoff.js';

describe('retryDelayMs', () => {
  const options = { baseMs: 1000, maxMs: 60_000 };
  it.each([
    [1, 0.5, 500],
    [2, 0.5, 1000],
    [3, 0.999, 3996],
    [10, 0.5, 30_000], // capped at maxMs
    [2000, 0.5, 30_000], // no overflow
    [0, 0.5, 500], // attempt < 1 counts as 1
    [1, 0, 0],
  ])('attempt %i, random %d → %i ms', (attempt, r, expected) => {
    expect(retryDelayMs(attempt, options, () => r)).toBe(expected);
  });

  it('never goes below retryAfterMs, even above maxMs', () => {
    expect(retryDelayMs(1, { ...options, retryAfterMs: 5000 }, () => 0.1)).toBe(5000);
    expect(retryDelayMs(1, { ...options, retryAfterMs: 120_000 }, () => 0.9)).toBe(120_000);
    expect(retryDelayMs(10, { ...options, retryAfterMs: 1 }, () => 0.9)).toBe(54_000);
  });

  it('rejects nonsense options', () => {
    expect(() => retryDelayMs(1, { baseMs: -1, maxMs: 10 }, Math.random)).toThrow(/baseMs/);
    expect(() => retryDelayMs(1, { baseMs: 1, maxMs: Number.NaN }, Math.random)).toThrow(/maxMs/);
  });

  it('stays within [max(retryAfter, 0), max(retryAfter, min(max, base·2^(n-1)))] for any random source', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -5, max: 80 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 600_000 }),
        fc.option(fc.integer({ min: 0, max: 900_000 }), { nil: undefined }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, baseMs, maxMs, retryAfterMs, r) => {
          const delay = retryDelayMs(attempt, { baseMs, maxMs, retryAfterMs }, () => r);
          const ceiling = Math.min(maxMs, baseMs * 2 ** (Math.max(1, attempt) - 1));
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(retryAfterMs ?? 0);
          expect(delay).toBeLessThanOrEqual(Math.max(retryAfterMs ?? 0, ceiling));
          if (ceiling > 0 && !retryAfterMs) expect(delay).toBeLessThan(ceiling);
        },
      ),
    );
  });
});
