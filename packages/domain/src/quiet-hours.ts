import type { QuietHours } from './policy.js';
import { addLocalDays, assertValidTimeZone, localTimeParts, parseLocalTime, zonedTimeToInstant } from './time-zone.js';

function minutesOf(value: string): number {
  const { hour, minute } = parseLocalTime(value);
  return hour * 60 + minute;
}

/** Whether the wall clock at `at` in `timeZone` falls in [start, end); overnight ranges wrap midnight. */
export function isInQuietHours(quietHours: QuietHours, timeZone: string, at: Date): boolean {
  const start = minutesOf(quietHours.start);
  const end = minutesOf(quietHours.end);
  if (start === end) return false;
  const local = localTimeParts(at, timeZone);
  const minute = local.hour * 60 + local.minute;
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

/**
 * The earliest instant ≥ now outside quiet hours: `now` itself when allowed, else the next local `end`.
 * If `end` falls in a DST gap the result is the first instant after the gap; if it occurs twice (clocks turned
 * back) the first occurrence that is not before `now`.
 */
export function nextAllowedTime(quietHours: QuietHours, timeZone: string, now: Date): Date {
  assertValidTimeZone(timeZone);
  let at = now;
  // A second round only happens in exotic zones where the computed end lands in quiet hours again.
  for (let round = 0; round < 4; round += 1) {
    if (!isInQuietHours(quietHours, timeZone, at)) return at;
    at = endOfQuietPeriod(quietHours, timeZone, at);
  }
  return at;
}

function endOfQuietPeriod(quietHours: QuietHours, timeZone: string, at: Date): Date {
  const start = minutesOf(quietHours.start);
  const end = parseLocalTime(quietHours.end);
  const local = localTimeParts(at, timeZone);
  const minute = local.hour * 60 + local.minute;
  const overnightBeforeMidnight = start > end.hour * 60 + end.minute && minute >= start;
  const today = { year: local.year, month: local.month, day: local.day, hour: end.hour, minute: end.minute };
  const endLocal = overnightBeforeMidnight ? addLocalDays(today, 1) : today;
  const earlier = zonedTimeToInstant(endLocal, timeZone, 'earlier');
  if (earlier.getTime() > at.getTime()) return earlier;
  const later = zonedTimeToInstant(endLocal, timeZone, 'later');
  if (later.getTime() > at.getTime()) return later;
  // Should not happen; step a minute so the loop always progresses.
  return new Date(at.getTime() + 60_000);
}
