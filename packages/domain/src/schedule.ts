import { addLocalDays, assertValidTimeZone, localTimeParts, parseLocalTime, zonedTimeToInstant } from './time-zone.js';

/**
 * The next instant strictly after `after` at which the wall clock in `timeZone` shows `localTime` ('HH:MM').
 * One occurrence per local day:
 * - a time skipped by a DST jump moves forward to the first valid instant after the gap (02:30 → 03:00);
 * - a time that occurs twice (clocks turned back) fires at its first occurrence only, so a daily campaign
 *   never runs twice in one night.
 */
export function nextLocalOccurrence(localTime: string, timeZone: string, after: Date): Date {
  const { hour, minute } = parseLocalTime(localTime);
  assertValidTimeZone(timeZone);
  const local = localTimeParts(after, timeZone);
  const day = { year: local.year, month: local.month, day: local.day, hour, minute };
  // Start a day early: west of a date-line jump the local date of `after` can lag the candidate's.
  for (let offset = -1; offset <= 3; offset += 1) {
    const candidate = zonedTimeToInstant(addLocalDays(day, offset), timeZone, 'earlier');
    if (candidate.getTime() > after.getTime()) return candidate;
  }
  throw new Error(`nextLocalOccurrence: no occurrence of ${localTime} in ${timeZone} within 3 days of ${after.toISOString()}`);
}
