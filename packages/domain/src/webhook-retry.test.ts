import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_WEBHOOK_RETRY_DELAYS_MS, webhookRetryDelay } from './webhook-retry.js';

const HOUR = 3_600_000;

describe('outbound webhook retry schedule', () => {
  it('is the Standard Webhooks schedule: 8 attempts over about 28 hours, never shrinking', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => webhookRetryDelay(attempt))).toEqual([5_000, 300_000, 1_800_000, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR, null]);
    const total = DEFAULT_WEBHOOK_RETRY_DELAYS_MS.reduce((sum, delay) => sum + delay, 0);
    expect(total).toBeGreaterThan(24 * HOUR);
    expect(total).toBeLessThan(30 * HOUR);
  });

  it('refuses attempt numbers that are not positive integers', () => {
    for (const attempt of [0, -1, 1.5, Number.NaN]) expect(() => webhookRetryDelay(attempt)).toThrow(RangeError);
  });

  it('property: any schedule gives exactly its length in retries, each its own delay, then null for good', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10 * HOUR }), { maxLength: 20 }), fc.integer({ min: 1, max: 50 }), (delays, attempt) => {
        const delay = webhookRetryDelay(attempt, delays);
        if (attempt <= delays.length) expect(delay).toBe(delays[attempt - 1]);
        else expect(delay).toBeNull();
        // Once null, every later attempt is null too: a DEAD message is never revived by the schedule.
        if (delay === null) expect(webhookRetryDelay(attempt + 1, delays)).toBeNull();
      }),
    );
  });
});
