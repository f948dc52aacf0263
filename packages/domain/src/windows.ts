import type { Policy } from './policy.js';
import { effectiveFrequency } from './policy.js';
import type { Frequency, TokenState } from './types.js';
import { DAY_MS, HOUR_MS, assertValidTimeZone, localTimeParts, personTimeZone, zonedTimeToInstant } from './time-zone.js';

export { isValidTimeZone, localTimeParts } from './time-zone.js';

const ROLLING_WEEK_MS = 7 * DAY_MS;
const ROLLING_MONTH_MS = 30 * DAY_MS;

/** The frequency actually enforced: the policy's mapping if it has one, else the declared one (DAILY when unset). */
function windowFrequency(frequency: Frequency | null, policy: Policy): Frequency {
  return effectiveFrequency(frequency, policy) ?? frequency ?? 'DAILY';
}

function rollingLengthMs(frequency: Frequency, policy: Policy): number | null {
  if (frequency === 'DAILY') return policy.recurring.daily.cooldownHours * HOUR_MS;
  if (policy.recurring.weeklyMonthlyWindow === 'rolling') return frequency === 'WEEKLY' ? ROLLING_WEEK_MS : ROLLING_MONTH_MS;
  return null;
}

/**
 * Where the window containing `at` begins.
 * - Calendar WEEKLY/MONTHLY: Monday 00:00 / the 1st 00:00 local (a send at or after it is in the window).
 * - Rolling (DAILY, or WEEKLY/MONTHLY under a 'rolling' policy): `at` minus the window length; a send strictly
 *   after it is in the window.
 * The frequency is first mapped by the policy (meta-2025-09 treats WEEKLY/MONTHLY as DAILY).
 */
export function periodStart(frequency: Frequency | null, at: Date, timeZone: string, policy: Policy): Date {
  const enforced = windowFrequency(frequency, policy);
  const rolling = rollingLengthMs(enforced, policy);
  if (rolling !== null) return new Date(at.getTime() - rolling);
  assertValidTimeZone(timeZone);
  const local = localTimeParts(at, timeZone);
  if (enforced === 'WEEKLY') {
    return zonedTimeToInstant({ year: local.year, month: local.month, day: local.day - (local.weekday - 1), hour: 0, minute: 0 }, timeZone);
  }
  return zonedTimeToInstant({ year: local.year, month: local.month, day: 1, hour: 0, minute: 0 }, timeZone);
}

/** Start of the calendar week/month after the one containing `at` (DST-correct). */
function nextCalendarPeriodStart(frequency: 'WEEKLY' | 'MONTHLY', at: Date, timeZone: string): Date {
  const local = localTimeParts(at, timeZone);
  if (frequency === 'WEEKLY') {
    return zonedTimeToInstant({ year: local.year, month: local.month, day: local.day + (8 - local.weekday), hour: 0, minute: 0 }, timeZone);
  }
  return zonedTimeToInstant({ year: local.year, month: local.month + 1, day: 1, hour: 0, minute: 0 }, timeZone);
}

/** The zone a recurring token's calendar windows are counted in: the one precedence of `personTimeZone`. */
export function windowTimeZone(token: Pick<TokenState, 'timezone'>, subscriberTimeZone?: string | null, pageTimeZone?: string | null): string {
  return personTimeZone({ token: token.timezone, subscriber: subscriberTimeZone, page: pageTimeZone });
}

/**
 * The earliest instant a recurring token may be used again after a send at `sentAt`
 * (store it as OptIn.nextEligibleAt). Rolling windows: sentAt + window length. Calendar week: next Monday
 * 00:00 local; calendar month: the 1st of next month 00:00 local.
 * One-time tokens are single-use and have no next time: this throws for them (use `applySend`).
 */
export function nextEligibleAfterSend(
  token: Pick<TokenState, 'kind' | 'frequency' | 'timezone'>,
  sentAt: Date,
  policy: Policy,
  subscriberTimeZone?: string | null,
  pageTimeZone?: string | null,
): Date {
  if (token.kind === 'ONE_TIME') throw new Error('nextEligibleAfterSend: one-time tokens are single-use; mark them USED instead');
  const enforced = windowFrequency(token.frequency, policy);
  const rolling = rollingLengthMs(enforced, policy);
  if (rolling !== null) return new Date(sentAt.getTime() + rolling);
  return nextCalendarPeriodStart(enforced as 'WEEKLY' | 'MONTHLY', sentAt, windowTimeZone(token, subscriberTimeZone, pageTimeZone));
}
