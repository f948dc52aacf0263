import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  addLocalDays,
  isValidTimeZone,
  localTimeParts,
  parseLocalTime,
  pickTimeZone,
  timeZoneOffsetMs,
  zonedTimeToInstant,
} from './time-zone.js';
import { at, zoneAndInstant } from './test-support/fixtures.js';

describe('isValidTimeZone / pickTimeZone', () => {
  it.each([
    ['UTC', true],
    ['Europe/Berlin', true],
    ['Pacific/Chatham', true],
    ['Mars/Olympus_Mons', false],
    ['', false],
    [null, false],
    [42, false],
  ])('%s → %s', (zone, valid) => {
    expect(isValidTimeZone(zone)).toBe(valid);
  });

  it('skips invalid and empty candidates and falls back to UTC', () => {
    expect(pickTimeZone('Nope/Nowhere', null, 'Asia/Kolkata')).toBe('Asia/Kolkata');
    expect(pickTimeZone(undefined, '', 'Nope/Nowhere')).toBe('UTC');
  });
});

describe('localTimeParts', () => {
  it.each([
    // UTC instant, zone, expected local fields
    ['2026-01-31T20:00:00Z', 'Asia/Kolkata', { year: 2026, month: 2, day: 1, hour: 1, minute: 30, weekday: 7 }],
    ['2026-11-21T10:00:00Z', 'Pacific/Chatham', { year: 2026, month: 11, day: 21, hour: 23, minute: 45, weekday: 6 }],
    ['2026-07-01T06:59:00Z', 'America/Los_Angeles', { year: 2026, month: 6, day: 30, hour: 23, minute: 59, weekday: 2 }],
    ['2026-03-30T00:00:00Z', 'UTC', { year: 2026, month: 3, day: 30, hour: 0, minute: 0, weekday: 1 }],
  ])('%s in %s', (iso, zone, expected) => {
    expect(localTimeParts(at(iso), zone)).toMatchObject(expected);
  });

  it('agrees with an independent formatToParts reading for any zone and instant (property)', () => {
    const zones = Intl.supportedValuesOf('timeZone');
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.date({ min: at('1900-01-01T00:00:00Z'), max: at('2100-01-01T00:00:00Z'), noInvalidDate: true }),
        (zone, instant) => {
          const reference: Record<string, number> = {};
          const formatter = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short' });
          for (const part of formatter.formatToParts(instant)) if (part.type !== 'literal' && part.type !== 'weekday') reference[part.type] = Number(part.value);
          const weekday = formatter.formatToParts(instant).find((p) => p.type === 'weekday')?.value;
          const p = localTimeParts(instant, zone);
          expect({ year: p.year, month: p.month, day: p.day, hour: p.hour, minute: p.minute, second: p.second }).toEqual(reference);
          expect(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][p.weekday - 1]).toBe(weekday);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('handles years before the common era', () => {
    const instant = new Date(0);
    instant.setUTCFullYear(-50, 5, 15); // astronomical year -50 = 51 BC
    expect(localTimeParts(instant, 'UTC')).toMatchObject({ year: -50, month: 6, day: 15 });
  });

  it('throws on an invalid zone or date', () => {
    expect(() => localTimeParts(at('2026-01-01T00:00:00Z'), 'Bad/Zone')).toThrow(/Invalid IANA time zone/);
    expect(() => localTimeParts(new Date(Number.NaN), 'UTC')).toThrow(/valid Date/);
  });
});

describe('zonedTimeToInstant', () => {
  it.each([
    ['plain winter time', { year: 2026, month: 1, day: 15, hour: 9, minute: 0 }, 'Europe/Berlin', 'earlier', '2026-01-15T08:00:00.000Z'],
    ['spring-forward gap → end of gap', { year: 2026, month: 3, day: 8, hour: 2, minute: 30 }, 'America/New_York', 'earlier', '2026-03-08T07:00:00.000Z'],
    ['fall-back, first occurrence', { year: 2026, month: 11, day: 1, hour: 1, minute: 30 }, 'America/New_York', 'earlier', '2026-11-01T05:30:00.000Z'],
    ['fall-back, second occurrence', { year: 2026, month: 11, day: 1, hour: 1, minute: 30 }, 'America/New_York', 'later', '2026-11-01T06:30:00.000Z'],
    ['midnight that does not exist (Chile)', { year: 2026, month: 9, day: 6, hour: 0, minute: 0 }, 'America/Santiago', 'earlier', '2026-09-06T04:00:00.000Z'],
    ['a whole skipped day (Samoa 2011)', { year: 2011, month: 12, day: 30, hour: 12, minute: 0 }, 'Pacific/Apia', 'earlier', '2011-12-30T10:00:00.000Z'],
    ['+13:45 offset', { year: 2026, month: 11, day: 16, hour: 0, minute: 0 }, 'Pacific/Chatham', 'earlier', '2026-11-15T10:15:00.000Z'],
    ['day overflow rolls into next month', { year: 2026, month: 1, day: 32, hour: 0, minute: 0 }, 'UTC', 'earlier', '2026-02-01T00:00:00.000Z'],
  ] as const)('%s', (_name, local, zone, disambiguation, expected) => {
    expect(zonedTimeToInstant(local, zone, disambiguation).toISOString()).toBe(expected);
  });

  it('every instant is one of the readings of its own wall time, near DST transitions too (property)', () => {
    fc.assert(
      fc.property(
        zoneAndInstant,
        ([zone, date]) => {
          const instant = new Date(Math.floor(date.getTime() / 60_000) * 60_000);
          const p = localTimeParts(instant, zone);
          const earlier = zonedTimeToInstant(p, zone, 'earlier').getTime();
          const later = zonedTimeToInstant(p, zone, 'later').getTime();
          // The instant is one of the (at most two) readings of its own wall time.
          expect([earlier, later]).toContain(instant.getTime());
          // Both readings really show that wall time.
          for (const t of [earlier, later]) expect(localTimeParts(new Date(t), zone)).toMatchObject({ hour: p.hour, minute: p.minute, day: p.day });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('offset is local minus UTC', () => {
    expect(timeZoneOffsetMs(at('2026-07-01T00:00:00Z'), 'Asia/Kathmandu')).toBe((5 * 60 + 45) * 60_000);
    expect(timeZoneOffsetMs(at('2026-07-01T00:00:00Z'), 'America/Los_Angeles')).toBe(-7 * 3_600_000);
  });
});

describe('parseLocalTime / addLocalDays', () => {
  it.each(['00:00', '23:59', '08:05'])('accepts %s', (value) => {
    expect(parseLocalTime(value)).toEqual({ hour: Number(value.slice(0, 2)), minute: Number(value.slice(3)) });
  });
  it.each(['24:00', '7:00', '12:60', '12-00', ''])('rejects %s', (value) => {
    expect(() => parseLocalTime(value)).toThrow(/expected HH:MM/);
  });
  it('adds calendar days across month and year ends', () => {
    expect(addLocalDays({ year: 2026, month: 12, day: 31, hour: 5, minute: 6 }, 1)).toEqual({ year: 2027, month: 1, day: 1, hour: 5, minute: 6 });
    expect(addLocalDays({ year: 2028, month: 3, day: 1, hour: 0, minute: 0 }, -1)).toEqual({ year: 2028, month: 2, day: 29, hour: 0, minute: 0 });
  });
});
