import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { nextLocalOccurrence } from './schedule.js';
import { localTimeParts } from './time-zone.js';
import { at, zoneAndInstant } from './test-support/fixtures.js';

describe('nextLocalOccurrence', () => {
  it.each([
    ['later today', '09:00', 'Europe/Berlin', '2026-06-10T05:00:00Z', '2026-06-10T07:00:00.000Z'],
    ['already passed today → tomorrow', '09:00', 'Europe/Berlin', '2026-06-10T07:00:00Z', '2026-06-11T07:00:00.000Z'],
    ['strictly after', '00:00', 'UTC', '2026-06-10T00:00:00Z', '2026-06-11T00:00:00.000Z'],
    ['half-hour zone', '09:00', 'Asia/Kolkata', '2026-06-10T00:00:00Z', '2026-06-10T03:30:00.000Z'],
    ['+13:45 zone, next local day is the same UTC day', '09:00', 'Pacific/Chatham', '2026-11-21T10:00:00Z', '2026-11-21T19:15:00.000Z'],
    ['skipped by spring-forward → first valid minute', '02:30', 'Europe/Berlin', '2026-03-28T12:00:00Z', '2026-03-29T01:00:00.000Z'],
    ['repeated by fall-back → first occurrence only', '02:30', 'Europe/Berlin', '2026-10-24T12:00:00Z', '2026-10-25T00:30:00.000Z'],
    ['between the two occurrences → next day', '02:30', 'Europe/Berlin', '2026-10-25T00:45:00Z', '2026-10-26T01:30:00.000Z'],
    ['midnight skipped (Chile)', '00:00', 'America/Santiago', '2026-09-05T12:00:00Z', '2026-09-06T04:00:00.000Z'],
  ])('%s', (_name, localTime, zone, after, expected) => {
    expect(nextLocalOccurrence(localTime, zone, at(after)).toISOString()).toBe(expected);
  });

  it('validates input', () => {
    expect(() => nextLocalOccurrence('9:00', 'UTC', at('2026-01-01T00:00:00Z'))).toThrow(/expected HH:MM/);
    expect(() => nextLocalOccurrence('09:00', 'Bad/Zone', at('2026-01-01T00:00:00Z'))).toThrow(/Invalid IANA/);
  });

  it('is after `after`, within 25h, and shows HH:MM (or is the first minute after a skipped HH:MM)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        zoneAndInstant,
        (hour, minute, [zone, after]) => {
          const localTime = `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
          const next = nextLocalOccurrence(localTime, zone, after);
          expect(next.getTime()).toBeGreaterThan(after.getTime());
          expect(next.getTime() - after.getTime()).toBeLessThanOrEqual(25 * 3_600_000);
          const shown = localTimeParts(next, zone);
          if (shown.hour !== hour || shown.minute !== minute) {
            // Skipped wall time: one second earlier the clock showed a time before HH:MM on the same or previous day.
            const before = localTimeParts(new Date(next.getTime() - 1000), zone);
            const minutesBefore = before.hour * 60 + before.minute;
            const target = hour * 60 + minute;
            expect(shown.hour * 60 + shown.minute).toBeGreaterThan(target);
            expect(minutesBefore < target || before.day !== shown.day).toBe(true);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
