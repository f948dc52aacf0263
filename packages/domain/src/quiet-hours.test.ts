import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isInQuietHours, nextAllowedTime } from './quiet-hours.js';
import { at, zoneAndInstant } from './test-support/fixtures.js';

const overnight = { start: '22:00', end: '08:00' };
const daytime = { start: '12:00', end: '14:00' };

describe('nextAllowedTime', () => {
  it.each([
    // name, quiet hours, zone, now, expected
    ['outside quiet hours → now', overnight, 'Europe/Berlin', '2026-06-10T12:00:00Z', '2026-06-10T12:00:00.000Z'],
    ['overnight, before midnight → tomorrow 08:00', overnight, 'Europe/Berlin', '2026-06-10T21:00:00Z', '2026-06-11T06:00:00.000Z'],
    ['overnight, after midnight → today 08:00', overnight, 'Europe/Berlin', '2026-06-11T01:00:00Z', '2026-06-11T06:00:00.000Z'],
    ['exactly at start is quiet', overnight, 'UTC', '2026-06-10T22:00:00Z', '2026-06-11T08:00:00.000Z'],
    ['exactly at end is allowed', overnight, 'UTC', '2026-06-11T08:00:00Z', '2026-06-11T08:00:00.000Z'],
    ['07:59:59 is still quiet', overnight, 'UTC', '2026-06-11T07:59:59Z', '2026-06-11T08:00:00.000Z'],
    ['daytime range', daytime, 'Asia/Kolkata', '2026-06-10T07:00:00Z', '2026-06-10T08:30:00.000Z'],
    ['night of DST start (Berlin, 23h night)', overnight, 'Europe/Berlin', '2026-03-28T22:00:00Z', '2026-03-29T06:00:00.000Z'],
    ['night of DST end (New York, 25h night)', overnight, 'America/New_York', '2026-11-01T03:00:00Z', '2026-11-01T13:00:00.000Z'],
    ['end inside the spring-forward gap → end of gap', { start: '01:00', end: '02:30' }, 'America/New_York', '2026-03-08T06:30:00Z', '2026-03-08T07:00:00.000Z'],
    ['end repeated by fall-back, now in the second pass → second occurrence', { start: '00:00', end: '01:30' }, 'America/New_York', '2026-11-01T06:10:00Z', '2026-11-01T06:30:00.000Z'],
    ['allowed minute skipped by DST → the next day', { start: '02:01', end: '02:00' }, 'America/Los_Angeles', '2024-03-10T06:00:00Z', '2024-03-11T09:00:00.000Z'],
    ['end repeated by fall-back, now in the first pass → first occurrence', { start: '00:00', end: '01:30' }, 'America/New_York', '2026-11-01T05:10:00Z', '2026-11-01T05:30:00.000Z'],
  ])('%s', (_name, quietHours, zone, now, expected) => {
    expect(nextAllowedTime(quietHours, zone, at(now)).toISOString()).toBe(expected);
  });

  it('rejects an invalid zone', () => {
    expect(() => nextAllowedTime(overnight, 'Nope/Nowhere', at('2026-06-10T12:00:00Z'))).toThrow(/Invalid IANA time zone/);
  });

  it('isInQuietHours treats start === end as never quiet', () => {
    expect(isInQuietHours({ start: '08:00', end: '08:00' }, 'UTC', at('2026-06-10T08:00:00Z'))).toBe(false);
  });

  it('(d) the result is never before now, never in quiet hours, and is the earliest such time', () => {
    const hhmm = fc
      .tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }))
      .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
    fc.assert(
      fc.property(
        hhmm,
        hhmm,
        zoneAndInstant,
        (start, end, [zone, now]) => {
          fc.pre(start !== end);
          const quietHours = { start, end };
          const allowed = nextAllowedTime(quietHours, zone, now);
          expect(allowed.getTime()).toBeGreaterThanOrEqual(now.getTime());
          expect(isInQuietHours(quietHours, zone, allowed)).toBe(false);
          if (!isInQuietHours(quietHours, zone, now)) expect(allowed.getTime()).toBe(now.getTime());
          else {
            // Earliest: one second before, it was still quiet (or before now).
            expect(isInQuietHours(quietHours, zone, new Date(allowed.getTime() - 1000))).toBe(true);
            // Normally ≤ 25h; up to 2 days when the whole allowed range falls in a DST gap (e.g. only 02:00 allowed).
            expect(allowed.getTime() - now.getTime()).toBeLessThanOrEqual(48 * 3_600_000);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
