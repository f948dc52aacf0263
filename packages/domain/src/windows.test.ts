import { describe, expect, it } from 'vitest';
import { resolvePolicy } from './policy.js';
import { nextEligibleAfterSend, periodStart, windowTimeZone } from './windows.js';
import { at, token } from './test-support/fixtures.js';

const meta2022 = resolvePolicy('meta-2022');
const meta2025 = resolvePolicy('meta-2025-09');

describe('nextEligibleAfterSend', () => {
  it.each([
    // name, policy, frequency, token tz, subscriber tz, sentAt, expected
    ['2022 daily = +24h', meta2022, 'DAILY', 'Europe/Berlin', null, '2026-03-28T23:30:00Z', '2026-03-29T23:30:00.000Z'],
    ['2022 no frequency = daily', meta2022, null, null, null, '2026-05-01T10:00:00Z', '2026-05-02T10:00:00.000Z'],
    ['2022 weekly → next Monday 00:00 local across DST start', meta2022, 'WEEKLY', 'Europe/Berlin', null, '2026-03-25T12:00:00Z', '2026-03-29T22:00:00.000Z'],
    ['2022 weekly sent on Sunday 23:59 local', meta2022, 'WEEKLY', 'Europe/Berlin', null, '2026-03-29T21:59:00Z', '2026-03-29T22:00:00.000Z'],
    ['2022 weekly sent on Monday 00:00 local', meta2022, 'WEEKLY', 'Europe/Berlin', null, '2026-03-29T22:00:00Z', '2026-04-05T22:00:00.000Z'],
    ['2022 weekly +13:45 zone', meta2022, 'WEEKLY', 'Pacific/Chatham', null, '2026-11-21T10:00:00Z', '2026-11-22T10:15:00.000Z'],
    ['2022 monthly, local month differs from UTC month', meta2022, 'MONTHLY', 'Asia/Kolkata', null, '2026-01-31T20:00:00Z', '2026-02-28T18:30:00.000Z'],
    ['2022 monthly across DST end', meta2022, 'MONTHLY', 'America/New_York', null, '2026-10-15T12:00:00Z', '2026-11-01T04:00:00.000Z'],
    ['2022 monthly December → January', meta2022, 'MONTHLY', 'UTC', null, '2026-12-31T23:59:59Z', '2027-01-01T00:00:00.000Z'],
    ['2022 weekly falls back to subscriber zone', meta2022, 'WEEKLY', null, 'America/Los_Angeles', '2026-11-21T10:00:00Z', '2026-11-23T08:00:00.000Z'],
    ['2022 weekly invalid token zone → subscriber zone', meta2022, 'WEEKLY', 'Not/AZone', 'America/Los_Angeles', '2026-11-21T10:00:00Z', '2026-11-23T08:00:00.000Z'],
    ['2022 weekly no zone → UTC', meta2022, 'WEEKLY', null, null, '2026-11-21T10:00:00Z', '2026-11-23T00:00:00.000Z'],
    ['2025-09 daily = +48h', meta2025, 'DAILY', null, null, '2026-05-01T10:00:00Z', '2026-05-03T10:00:00.000Z'],
    ['2025-09 weekly treated as daily 48h', meta2025, 'WEEKLY', 'Europe/Berlin', null, '2026-05-01T10:00:00Z', '2026-05-03T10:00:00.000Z'],
    ['2025-09 monthly treated as daily 48h', meta2025, 'MONTHLY', 'Europe/Berlin', null, '2026-05-01T10:00:00Z', '2026-05-03T10:00:00.000Z'],
  ] as const)('%s', (_name, policy, frequency, tz, subscriberTz, sentAt, expected) => {
    const t = token({ frequency, timezone: tz });
    expect(nextEligibleAfterSend(t, at(sentAt), policy, subscriberTz).toISOString()).toBe(expected);
  });

  it('honours a cooldown override and the rolling weekly/monthly mode', () => {
    const custom = resolvePolicy('meta-2022', { dailyCooldownHours: 36 });
    expect(nextEligibleAfterSend(token(), at('2026-05-01T00:00:00Z'), custom).toISOString()).toBe('2026-05-02T12:00:00.000Z');
    custom.recurring.weeklyMonthlyWindow = 'rolling';
    expect(nextEligibleAfterSend(token({ frequency: 'WEEKLY' }), at('2026-05-01T00:00:00Z'), custom).toISOString()).toBe('2026-05-08T00:00:00.000Z');
    expect(nextEligibleAfterSend(token({ frequency: 'MONTHLY' }), at('2026-05-01T00:00:00Z'), custom).toISOString()).toBe('2026-05-31T00:00:00.000Z');
  });

  it('refuses one-time tokens', () => {
    expect(() => nextEligibleAfterSend(token({ kind: 'ONE_TIME', frequency: null }), at('2026-05-01T00:00:00Z'), meta2022)).toThrow(/single-use/);
  });
});

describe('periodStart', () => {
  it.each([
    ['weekly Berlin', meta2022, 'WEEKLY', 'Europe/Berlin', '2026-04-01T12:00:00Z', '2026-03-29T22:00:00.000Z'],
    ['weekly on Monday 00:00 itself', meta2022, 'WEEKLY', 'Europe/Berlin', '2026-03-29T22:00:00Z', '2026-03-29T22:00:00.000Z'],
    ['monthly Kolkata', meta2022, 'MONTHLY', 'Asia/Kolkata', '2026-01-31T20:00:00Z', '2026-01-31T18:30:00.000Z'],
    ['monthly when the 1st 00:00 is skipped (Chile, Sep 2026 starts at 01:00)', meta2022, 'MONTHLY', 'America/Santiago', '2026-09-10T12:00:00Z', '2026-09-01T04:00:00.000Z'],
    ['weekly week whose Sunday starts at 01:00 (Chile)', meta2022, 'WEEKLY', 'America/Santiago', '2026-09-06T12:00:00Z', '2026-08-31T04:00:00.000Z'],
    ['daily rolling = at − 24h', meta2022, 'DAILY', 'UTC', '2026-04-01T12:00:00Z', '2026-03-31T12:00:00.000Z'],
    ['2025-09 weekly = at − 48h', meta2025, 'WEEKLY', 'UTC', '2026-04-01T12:00:00Z', '2026-03-30T12:00:00.000Z'],
  ] as const)('%s', (_name, policy, frequency, tz, instant, expected) => {
    expect(periodStart(frequency, at(instant), tz, policy).toISOString()).toBe(expected);
  });

  it('windowTimeZone prefers token, then subscriber, then UTC', () => {
    expect(windowTimeZone({ timezone: 'Asia/Kolkata' }, 'Europe/Berlin')).toBe('Asia/Kolkata');
    expect(windowTimeZone({ timezone: null }, 'Europe/Berlin')).toBe('Europe/Berlin');
    expect(windowTimeZone({ timezone: null }, null)).toBe('UTC');
  });
});
