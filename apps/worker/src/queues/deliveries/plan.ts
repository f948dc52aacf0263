import type { BatchRow, Outcome, TokenChange } from '@renotify/db';
import { holdsToken } from '@renotify/db';
import { evaluate, recurringAvailability, SkipReason, type Policy, type TokenState } from '@renotify/domain';

/*
 * The decision step of a dispatch pass, pure: given the due rows of a batch, the Page's policy and what the
 * caller read about the people (sends inside the cap window), which rows are sent now, which are skipped
 * (and why), which wait for a later time, and which tokens change. No I/O, no clock: `now` comes in.
 */

/** Reasons that clear on their own: the delivery waits for `retryAt` instead of being skipped. */
const ALWAYS_DEFERRED = new Set<string>([SkipReason.QUIET_HOURS, SkipReason.PAGE_PAUSED]);
/** Reasons that wait only when the source asked for it (an event with `deferIneligible`, a campaign run). */
const DEFERRED_ON_REQUEST = new Set<string>([SkipReason.FREQUENCY_WINDOW, SkipReason.USER_CAP]);

/** Per person: SENT deliveries inside the policy's cap window, and the oldest of them. */
export interface CapUsage {
  count: number;
  oldest: Date | null;
}

export interface PlanInput {
  policy: Policy;
  /** `timezone`: the Page's default zone, the last of the one precedence before UTC (docs/time-zones.md). */
  page: { pausedUntil: Date | null; messagingRegion: string | null; timezone?: string | null };
  /** The source asked that frequency-window and cap refusals wait instead of being skipped. */
  deferIneligible: boolean;
  /** Cap usage per subscriber id (empty when the Page has no cap). */
  capUsage: ReadonlyMap<string, CapUsage>;
}

/** A row the rules let through, with the token state they judged. */
export interface Eligible {
  row: BatchRow;
  token: TokenState;
}

export interface BatchPlan {
  /** Sent now, in row order. */
  eligible: Eligible[];
  /** Skips (final) and deferrals (PENDING with notBefore), written before any send. */
  preSend: Outcome[];
  tokenChanges: TokenChange[];
  /** Set when the Page's region or profile rules out recurring notifications (logged once by the caller). */
  recurringRefusal: { reason: string; message: string } | null;
}

/**
 * The rules see the token as it was before this delivery's own earlier claim, so a retry is not refused
 * for the window (or single use) that the delivery itself holds.
 */
export function tokenForRules(row: BatchRow): TokenState {
  const held = holdsToken(row);
  return {
    kind: row.kind,
    status: held && row.tokenStatus === 'USED' ? 'ACTIVE' : row.tokenStatus,
    topic: row.topic,
    frequency: row.frequency,
    timezone: row.tokenTimezone,
    expiresAt: row.expiresAt,
    createdAt: row.tokenCreatedAt,
    lastSentAt: held ? null : row.lastSentAt,
    nextEligibleAt: held ? null : row.nextEligibleAt,
  };
}

/**
 * Who is sent now, who is skipped, who waits. Rows sent earlier in the same plan count towards a person's
 * cap, so one batch never sends a person more than the cap allows.
 */
export function planBatch(rows: readonly BatchRow[], input: PlanInput, now: Date): BatchPlan {
  const { policy, page } = input;
  const capUsage = new Map(input.capUsage);
  const preSend: Outcome[] = [];
  const tokenChanges: TokenChange[] = [];
  const eligible: Eligible[] = [];
  // Where Meta retired recurring notifications (meta-2026 and the Page's region), recurring rows are skipped
  // with the reason; their tokens stay as they are (the Page may move, or the profile change).
  const recurring = recurringAvailability(policy, page.messagingRegion, now);
  const recurringRefusal = !recurring.allowed && rows.some((row) => row.kind === 'RECURRING') ? { reason: recurring.reason, message: recurring.message } : null;
  for (const row of rows) {
    if (row.kind === 'RECURRING' && !recurring.allowed) {
      preSend.push({ deliveryId: row.id, status: 'SKIPPED', skipReason: SkipReason.RECURRING_UNAVAILABLE, error: recurring.message });
      continue;
    }
    const token = tokenForRules(row);
    const usage = capUsage.get(row.subscriberId);
    const verdict = evaluate(
      token,
      { timezone: row.subscriberTimezone, unavailableUntil: row.unavailableUntil, sendsInCapWindow: usage?.count ?? 0, oldestSendInCapWindowAt: usage?.oldest ?? null },
      now,
      policy,
      { pagePausedUntil: page.pausedUntil, pageTimeZone: page.timezone ?? null },
    );
    if (verdict.eligible) {
      eligible.push({ row, token });
      capUsage.set(row.subscriberId, { count: (usage?.count ?? 0) + 1, oldest: usage?.oldest ?? now });
      continue;
    }
    const defer = verdict.retryAt && (ALWAYS_DEFERRED.has(verdict.reason) || (input.deferIneligible && DEFERRED_ON_REQUEST.has(verdict.reason)));
    if (defer && verdict.retryAt) {
      preSend.push({ deliveryId: row.id, status: 'PENDING', notBefore: verdict.retryAt, skipReason: verdict.reason });
    } else {
      preSend.push({ deliveryId: row.id, status: 'SKIPPED', skipReason: verdict.reason });
      if (verdict.reason === SkipReason.TOKEN_EXPIRED) tokenChanges.push({ optInId: row.optInId, change: 'EXPIRED' });
    }
  }
  return { eligible, preSend, tokenChanges, recurringRefusal };
}
