import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { resolvePolicy } from './policy.js';
import { nextAllowedTime } from './quiet-hours.js';
import { evaluate } from './rules.js';
import { personTimeZone } from './time-zone.js';
import { nextEligibleAfterSend, windowTimeZone } from './windows.js';
import { INTERESTING_TIME_ZONES, at, subscriber, token } from './test-support/fixtures.js';

/** A zone candidate as stored: a real zone, nothing, or garbage that must be skipped. */
const zoneCandidate = fc.oneof(fc.constantFrom(...INTERESTING_TIME_ZONES), fc.constant(null), fc.constantFrom('', 'Mars/Olympus_Mons'));
const instant = fc.date({ min: at('2024-01-01T00:00:00Z'), max: at('2027-12-31T00:00:00Z'), noInvalidDate: true });
const valid = (zone: string | null): zone is string => zone !== null && (INTERESTING_TIME_ZONES as readonly string[]).includes(zone);

describe('personTimeZone: the one precedence (token → subscriber → Page → UTC)', () => {
  it.each([
    [{ token: 'Asia/Kolkata', subscriber: 'Europe/Berlin', page: 'America/New_York' }, 'Asia/Kolkata'],
    [{ token: null, subscriber: 'Europe/Berlin', page: 'America/New_York' }, 'Europe/Berlin'],
    [{ token: null, subscriber: null, page: 'America/New_York' }, 'America/New_York'],
    [{ token: null, subscriber: null, page: null }, 'UTC'],
    [{}, 'UTC'],
    [{ token: 'Nope/Nowhere', subscriber: '', page: 'Asia/Kathmandu' }, 'Asia/Kathmandu'],
  ])('%o → %s', (zones, expected) => {
    expect(personTimeZone(zones)).toBe(expected);
  });

  it('is the first valid candidate in that order, whatever the candidates (property)', () => {
    fc.assert(
      fc.property(zoneCandidate, zoneCandidate, zoneCandidate, (tokenZone, subscriberZone, pageZone) => {
        const expected = [tokenZone, subscriberZone, pageZone].find(valid) ?? 'UTC';
        expect(personTimeZone({ token: tokenZone, subscriber: subscriberZone, page: pageZone })).toBe(expected);
      }),
    );
  });
});

/**
 * Every rule that reads a person's local time reads it in the same zone. Before the fix, quiet hours used
 * subscriber → token → UTC and calendar windows token → subscriber → UTC, neither used the Page's zone, so this
 * property failed for a token and subscriber in different zones (and for a person with no zone on a non-UTC Page).
 */
describe('quiet hours and calendar windows use the same zone', () => {
  // meta-2025-09: recurring tokens never expire by age, so every deferral carries its retryAt.
  const quiet = resolvePolicy('meta-2025-09', { quietHours: { start: '22:00', end: '08:00' } });

  it('quiet hours defer to the end of the quiet period in personTimeZone (property)', () => {
    fc.assert(
      fc.property(zoneCandidate, zoneCandidate, zoneCandidate, instant, (tokenZone, subscriberZone, pageZone, now) => {
        const zone = personTimeZone({ token: tokenZone, subscriber: subscriberZone, page: pageZone });
        const verdict = evaluate(token({ timezone: tokenZone }), subscriber({ timezone: subscriberZone }), now, quiet, { pageTimeZone: pageZone });
        const allowedAt = nextAllowedTime(quiet.quietHours!, zone, now);
        if (allowedAt.getTime() === now.getTime()) expect(verdict).toEqual({ eligible: true });
        else expect(verdict).toEqual({ eligible: false, reason: 'QUIET_HOURS', retryAt: allowedAt });
      }),
    );
  });

  it('calendar week/month windows are counted in personTimeZone (property)', () => {
    const meta2022 = resolvePolicy('meta-2022');
    fc.assert(
      fc.property(zoneCandidate, zoneCandidate, zoneCandidate, fc.constantFrom('WEEKLY', 'MONTHLY') as fc.Arbitrary<'WEEKLY' | 'MONTHLY'>, instant, (tokenZone, subscriberZone, pageZone, frequency, sentAt) => {
        const zones = { token: tokenZone, subscriber: subscriberZone, page: pageZone };
        expect(windowTimeZone({ timezone: tokenZone }, subscriberZone, pageZone)).toBe(personTimeZone(zones));
        const viaPrecedence = nextEligibleAfterSend({ kind: 'RECURRING', frequency, timezone: personTimeZone(zones) }, sentAt, meta2022);
        expect(nextEligibleAfterSend({ kind: 'RECURRING', frequency, timezone: tokenZone }, sentAt, meta2022, subscriberZone, pageZone)).toEqual(viaPrecedence);
      }),
    );
  });

  it('the Page zone counts for a person with no zone (was UTC before)', () => {
    // Sent Sunday 2026-06-07 20:00 UTC = Monday 01:30 in Kolkata: a new Kolkata week has begun, not a UTC one.
    const next = nextEligibleAfterSend({ kind: 'RECURRING', frequency: 'WEEKLY', timezone: null }, at('2026-06-07T20:00:00Z'), resolvePolicy('meta-2022'), null, 'Asia/Kolkata');
    expect(next.toISOString()).toBe('2026-06-14T18:30:00.000Z');
  });
});
