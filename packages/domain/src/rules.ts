import type { Policy } from './policy.js';
import { effectiveFrequency } from './policy.js';
import { nextAllowedTime } from './quiet-hours.js';
import { DAY_MS, HOUR_MS, personTimeZone } from './time-zone.js';
import type { EvaluationContext, Frequency, OptInKind, SubscriberState, TokenState, Verdict } from './types.js';
import { SkipReason } from './types.js';
import { nextEligibleAfterSend } from './windows.js';

/**
 * The expiry to store at opt-in: Meta's explicit expiry when it gave one, else the policy's lifetime from the
 * opt-in time (one-time: `oneTimeTokenLifetimeDays`; recurring: per frequency), else `null` (never expires).
 */
export function expiryFor(
  kind: OptInKind,
  frequency: Frequency | null,
  optedInAt: Date,
  policy: Policy,
  explicitExpiry?: Date | null,
): Date | null {
  if (explicitExpiry) return new Date(explicitExpiry.getTime());
  if (kind === 'ONE_TIME') return new Date(optedInAt.getTime() + policy.oneTimeTokenLifetimeDays * DAY_MS);
  const lifetimes = policy.recurring.tokenLifetimeDays;
  if (!lifetimes) return null;
  const enforced = effectiveFrequency(frequency, policy) ?? frequency ?? 'DAILY';
  return new Date(optedInAt.getTime() + lifetimes[enforced] * DAY_MS);
}

/** When the token stops being usable under this policy (explicit expiresAt, else lifetime from createdAt). */
export function tokenExpiresAt(token: Pick<TokenState, 'kind' | 'frequency' | 'expiresAt' | 'createdAt'>, policy: Policy): Date | null {
  return expiryFor(token.kind, token.frequency, token.createdAt, policy, token.expiresAt);
}

function skip(reason: SkipReason, retryAt?: Date, expiresAt?: Date | null): Verdict {
  // Deferring past expiry is pointless: the caller should skip instead.
  if (retryAt && !(expiresAt && retryAt.getTime() >= expiresAt.getTime())) return { eligible: false, reason, retryAt };
  return { eligible: false, reason };
}

/**
 * May this token be used at `now`? Checks run in a fixed order and the first failing one wins:
 * TOKEN_INVALID, TOKEN_USED, STOPPED, TOKEN_EXPIRED, TOPIC_MISMATCH, FREQUENCY_NOT_ALLOWED,
 * SUBSCRIBER_UNAVAILABLE, PAGE_PAUSED, FREQUENCY_WINDOW, USER_CAP, QUIET_HOURS.
 * `retryAt`, when present, is the earliest time that check could pass (callers defer instead of skipping and
 * re-evaluate then); it is omitted when the token would have expired by then.
 */
export function evaluate(
  token: TokenState,
  subscriber: SubscriberState,
  now: Date,
  policy: Policy,
  context: EvaluationContext = {},
): Verdict {
  const nowMs = now.getTime();
  if (Number.isNaN(nowMs)) throw new RangeError('evaluate: now must be a valid Date');

  if (token.status === 'INVALID') return skip(SkipReason.TOKEN_INVALID);
  // A one-time token with a recorded send is used even if the status write has not landed yet.
  if (token.status === 'USED' || (token.kind === 'ONE_TIME' && token.lastSentAt !== null)) return skip(SkipReason.TOKEN_USED);
  if (token.status === 'STOPPED') return skip(SkipReason.STOPPED);
  const expiresAt = tokenExpiresAt(token, policy);
  if (token.status === 'EXPIRED' || (expiresAt && nowMs >= expiresAt.getTime())) return skip(SkipReason.TOKEN_EXPIRED);
  if (token.status !== 'ACTIVE') return skip(SkipReason.TOKEN_INVALID);

  if (context.topic !== undefined && context.topic !== token.topic) return skip(SkipReason.TOPIC_MISMATCH);

  if (token.kind === 'RECURRING' && effectiveFrequency(token.frequency, policy) === null) {
    return skip(SkipReason.FREQUENCY_NOT_ALLOWED);
  }

  if (subscriber.unavailableUntil && subscriber.unavailableUntil.getTime() > nowMs) {
    return skip(SkipReason.SUBSCRIBER_UNAVAILABLE, subscriber.unavailableUntil, expiresAt);
  }
  if (context.pagePausedUntil && context.pagePausedUntil.getTime() > nowMs) {
    return skip(SkipReason.PAGE_PAUSED, context.pagePausedUntil, expiresAt);
  }

  if (token.kind === 'RECURRING') {
    const windowEnd = recurringWindowEnd(token, subscriber, policy, context.pageTimeZone);
    if (windowEnd && windowEnd.getTime() > nowMs) return skip(SkipReason.FREQUENCY_WINDOW, windowEnd, expiresAt);
  }

  if (policy.userCap && subscriber.sendsInCapWindow >= policy.userCap.maxSends) {
    const oldest = subscriber.oldestSendInCapWindowAt;
    const retryAt = oldest ? new Date(oldest.getTime() + policy.userCap.windowHours * HOUR_MS) : undefined;
    return skip(SkipReason.USER_CAP, retryAt && retryAt.getTime() > nowMs ? retryAt : undefined, expiresAt);
  }

  if (policy.quietHours) {
    // A fixed zone set with the quiet hours wins; otherwise the person's zone (one precedence, docs/time-zones.md).
    const timeZone = policy.quietHours.timeZone ?? personTimeZone({ token: token.timezone, subscriber: subscriber.timezone, page: context.pageTimeZone });
    const allowedAt = nextAllowedTime(policy.quietHours, timeZone, now);
    if (allowedAt.getTime() > nowMs) return skip(SkipReason.QUIET_HOURS, allowedAt, expiresAt);
  }

  return { eligible: true };
}

/** The later of the stored nextEligibleAt and the window end implied by lastSentAt under this policy. */
function recurringWindowEnd(token: TokenState, subscriber: SubscriberState, policy: Policy, pageTimeZone?: string | null): Date | null {
  let end = token.nextEligibleAt ? token.nextEligibleAt.getTime() : null;
  if (token.lastSentAt) {
    const fromLastSend = nextEligibleAfterSend(token, token.lastSentAt, policy, subscriber.timezone, pageTimeZone).getTime();
    end = end === null ? fromLastSend : Math.max(end, fromLastSend);
  }
  return end === null ? null : new Date(end);
}

/**
 * The token state after a successful send at `sentAt`: one-time → USED; recurring → lastSentAt and
 * nextEligibleAt advanced. Returns a new object.
 */
export function applySend(token: TokenState, sentAt: Date, policy: Policy, subscriberTimeZone?: string | null, pageTimeZone?: string | null): TokenState {
  if (token.kind === 'ONE_TIME') return { ...token, status: 'USED', lastSentAt: new Date(sentAt.getTime()) };
  return {
    ...token,
    lastSentAt: new Date(sentAt.getTime()),
    nextEligibleAt: nextEligibleAfterSend(token, sentAt, policy, subscriberTimeZone, pageTimeZone),
  };
}
