import { DelayedError } from 'bullmq';
import {
  applyTokenChanges,
  claim,
  countSentSince,
  haltSource,
  holdsToken,
  loadPageForSending,
  loadPendingBatch,
  markSubscribersUnavailable,
  pausePageUntil,
  recordOutcomes,
  type BatchRow,
  type ClaimRequest,
  type Outcome,
  type SendingPage,
  type TokenChange,
} from '@renotify/db';
import { applySend, evaluate, recurringAvailability, resolvePolicy, retryDelayMs, SkipReason, type Policy, type TokenState } from '@renotify/domain';
import type { SendOutcome } from '@renotify/messenger';
import { DISPATCH_JOB, PageRateLimiter, QueueName, SWEEP_JOB, type DispatchJob } from '@renotify/queue';
import type { WorkerDeps } from '../deps.js';
import { defineProcessor, type ProcessorModule } from '../processors/define.js';
import { releaseSuccessor, type ReleaseSource } from './release.js';
import { loadSourceMessage, type SourceMessage } from './sources.js';
import { sweep } from './sweeper.js';

const RETRY_MAX_MS = 5 * 60_000;
/** Send groups of one batch in flight at once (each at most SEND_CONCURRENCY / SEND_LANES requests). */
const SEND_LANES = 2;
/** A person Meta reports as unavailable (551 and friends) is left alone this long. */
const UNAVAILABLE_SUPPRESS_MS = 7 * 24 * 3600_000;
/** Reasons that clear on their own: the delivery waits for `retryAt` instead of being skipped. */
const ALWAYS_DEFERRED = new Set<string>([SkipReason.QUIET_HOURS, SkipReason.PAGE_PAUSED]);
const DEFERRED_ON_REQUEST = new Set<string>([SkipReason.FREQUENCY_WINDOW, SkipReason.USER_CAP]);

/**
 * The rules see the token as it was before this delivery's own earlier claim, so a retry is not refused
 * for the window (or single use) that the delivery itself holds.
 */
function tokenForRules(row: BatchRow): TokenState {
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

export interface BatchReport {
  sent: number;
  failed: number;
  skipped: number;
  dead: number;
  deferred: number;
}

/**
 * What the batch's job does after a pass:
 * - `done`: nothing of the batch is due any more; the next batch of its chain may be released.
 * - `wake`: nothing is due now, but deferred rows (retry backoff, quiet hours, paused Page) come due at `at`:
 *   the job waits in BullMQ's delayed set until then, and the chain moves on.
 * - `permits`: due rows wait for the Page's bucket; the job reserved `reserved` sends usable from `at` and
 *   waits in the delayed set (no worker slot held). The batch is not done: the chain waits.
 * - `resume`: the worker is shutting down; the job goes back to the queue at once, its rows PENDING.
 */
export type NextStep = { kind: 'done' } | { kind: 'wake'; at: number } | { kind: 'permits'; at: number; reserved: number } | { kind: 'resume' };

export interface PassResult extends BatchReport {
  next: NextStep;
  /** The batch's source, for releasing the next batch of its chain (null when the source is gone). */
  source: ReleaseSource | null;
}

export interface DispatchContext {
  deps: WorkerDeps;
  limiter: PageRateLimiter;
  /** True once the worker is shutting down: finish the group in flight, start no new one. */
  stopping: () => boolean;
  /** Wall clock; each send group reads it when it starts, so claim times are the real ones. */
  clock?: () => Date;
}

/**
 * One pass over a batch: evaluate the rules for its due PENDING rows (skips and deferrals recorded at once),
 * then send the eligible ones in groups of at most SEND_CONCURRENCY. Each group first reserves its sends from
 * the Page's shared bucket; a group that would have to wait ends the pass instead (`permits`), so a worker
 * slot is only ever spent on sends that can start now. A group is claimed (PENDING → SENDING, tokens taken)
 * right before its requests start and its outcomes are written right after they end: a row is SENDING only
 * while its request is in flight, so its age is bounded by the Graph timeout, never by the batch or the rate.
 */
export async function dispatchBatch(ctx: DispatchContext, job: DispatchJob): Promise<PassResult> {
  const { deps } = ctx;
  const clock = ctx.clock ?? (() => new Date());
  const report: BatchReport = { sent: 0, failed: 0, skipped: 0, dead: 0, deferred: 0 };
  const now = clock();
  const source = await loadSourceMessage(deps.db, job);
  const releaseSource: ReleaseSource | null = source ? { sourceType: job.sourceType, sourceId: job.sourceId, priority: source.priority } : null;
  const result = (next: NextStep): PassResult => ({ ...report, next, source: releaseSource });
  const pending = await loadPendingBatch(deps.db, job.sourceId, job.batchNo);
  const rows = pending.filter((row) => !(row.notBefore && row.notBefore > now));
  // Rows deferred by earlier passes, and those this pass defers, decide when the job wakes again.
  const deferred = new DeferredRows(pending.filter((row) => row.notBefore && row.notBefore > now).map((row) => row.notBefore!));
  if (rows.length === 0) return result(deferred.next());
  const page = await loadPageForSending(deps.db, deps.secrets, rows[0]!.pageId);
  if (!source || !page) {
    const reason = !source ? 'source no longer exists' : 'Page is not registered (or was deleted)';
    await recordOutcomes(deps.db, rows.map((row) => ({ deliveryId: row.id, status: 'DEAD', error: reason })), now, 'PENDING');
    deps.metrics.deliveries.inc({ status: 'DEAD', skip_reason: '' }, rows.length);
    report.dead = rows.length;
    return result({ kind: 'done' });
  }
  const policy = resolvePolicy(page.policyProfile);
  const { eligible, preSend, tokenChanges } = await applyRules(deps, rows, page, policy, source, now, report);
  await recordOutcomes(deps.db, preSend, now, 'PENDING');
  deps.metrics.observeDeliveries(preSend);
  await applyTokenChanges(deps.db, tokenChanges, now);
  deferred.addOutcomes(preSend);

  // Two lanes of half-size groups: while one lane waits for its slowest request or writes its outcomes, the
  // other's requests are in flight, so the Send API sees about SEND_CONCURRENCY requests most of the time.
  const groupSize = Math.max(1, Math.ceil(deps.config.SEND_CONCURRENCY / SEND_LANES));
  let reserved = job.reservedPermits ?? 0;
  let index = 0;
  let stop: NextStep | null = null;
  let halted = false;
  // Reservations are taken one at a time: once one lane has to wait, the other reserves nothing more (a second
  // reservation could not be carried to the next pass and would be wasted).
  let reserving: Promise<number> = Promise.resolve(0);
  const takeGroup = (): Promise<number> =>
    (reserving = reserving.then(async () => {
      if (stop || halted || index >= eligible.length) return 0;
      if (ctx.stopping()) {
        stop = { kind: 'resume' };
        return 0;
      }
      const remaining = eligible.length - index;
      if (reserved > 0) {
        const size = Math.min(reserved, remaining);
        reserved = 0;
        return size;
      }
      const size = Math.min(remaining, groupSize);
      const waitMs = await ctx.limiter.reserve(page.id, size, page.sendRatePerSec);
      if (waitMs > 0) {
        deps.metrics.observeRateLimitWait(waitMs);
        stop = { kind: 'permits', at: Date.now() + waitMs, reserved: size };
        return 0;
      }
      return size;
    }));
  const lane = async () => {
    for (;;) {
      const size = await takeGroup();
      if (size === 0) return;
      const group = eligible.slice(index, index + size);
      index += size;
      const now = clock();
      const { halt, outcomes } = await sendGroup(deps, page, policy, source.messageJson, group, now, report);
      deferred.addOutcomes(outcomes);
      if (halt && !halted) {
        halted = true;
        deferred.addOutcomes(await haltRest(deps, halt, job, eligible.slice(index), now, report));
      }
    }
  };
  await Promise.all(Array.from({ length: SEND_LANES }, lane));
  if (stop && !halted) return result(stop);
  return result(deferred.next());
}

/**
 * The batch's PENDING rows that wait for a later time, tracked through the pass (no query at its end):
 * nothing left waiting means the batch is done; otherwise its job sleeps until the earliest comes due.
 */
class DeferredRows {
  private earliest: number | null = null;
  constructor(times: Date[]) {
    for (const at of times) this.add(at);
  }
  private add(at: Date) {
    this.earliest = this.earliest === null ? at.getTime() : Math.min(this.earliest, at.getTime());
  }
  addOutcomes(outcomes: readonly Outcome[]) {
    for (const outcome of outcomes) if (outcome.status === 'PENDING' && outcome.notBefore) this.add(outcome.notBefore);
  }
  next(): NextStep {
    return this.earliest === null ? { kind: 'done' } : { kind: 'wake', at: this.earliest };
  }
}

/** A row the rules let through, with the token state they judged. */
interface Eligible {
  row: BatchRow;
  token: TokenState;
}

/** The rules for every due row of a pass: who is sent now, who is skipped, who waits for a later time. */
async function applyRules(deps: WorkerDeps, rows: BatchRow[], page: SendingPage, policy: Policy, source: SourceMessage, now: Date, report: BatchReport) {
  const sendsInCap = await sendsInCapWindow(deps, policy, rows, now);
  const preSend: Outcome[] = [];
  const tokenChanges: TokenChange[] = [];
  const eligible: Eligible[] = [];
  // Where Meta retired recurring notifications (meta-2026 and the Page's region), recurring rows are skipped
  // with the reason; their tokens stay as they are (the Page may move, or the profile change).
  const recurring = recurringAvailability(policy, page.messagingRegion, now);
  if (!recurring.allowed && rows.some((row) => row.kind === 'RECURRING')) deps.logger.warn({ pageId: page.id, reason: recurring.reason }, recurring.message);
  for (const row of rows) {
    if (row.kind === 'RECURRING' && !recurring.allowed) {
      preSend.push({ deliveryId: row.id, status: 'SKIPPED', skipReason: SkipReason.RECURRING_UNAVAILABLE, error: recurring.message });
      report.skipped++;
      continue;
    }
    const token = tokenForRules(row);
    const verdict = evaluate(
      token,
      { timezone: row.subscriberTimezone, unavailableUntil: row.unavailableUntil, sendsInCapWindow: sendsInCap.get(row.subscriberId) ?? 0 },
      now,
      policy,
      { pagePausedUntil: page.pausedUntil },
    );
    if (verdict.eligible) {
      eligible.push({ row, token });
      sendsInCap.set(row.subscriberId, (sendsInCap.get(row.subscriberId) ?? 0) + 1);
      continue;
    }
    const defer = verdict.retryAt && (ALWAYS_DEFERRED.has(verdict.reason) || (source.deferIneligible && DEFERRED_ON_REQUEST.has(verdict.reason)));
    if (defer && verdict.retryAt) {
      preSend.push({ deliveryId: row.id, status: 'PENDING', notBefore: verdict.retryAt, skipReason: verdict.reason });
      report.deferred++;
    } else {
      preSend.push({ deliveryId: row.id, status: 'SKIPPED', skipReason: verdict.reason });
      if (verdict.reason === SkipReason.TOKEN_EXPIRED) tokenChanges.push({ optInId: row.optInId, change: 'EXPIRED' });
      report.skipped++;
    }
  }
  return { eligible, preSend, tokenChanges };
}

/** Why a group stopped the rest of its pass: the Page is paused until a time, or the source cannot be sent. */
type Halt = { kind: 'page_paused'; until: Date } | { kind: 'source_dead'; reason: string };

/**
 * One group: claim (one transaction), send every request at once (the group is at most SEND_CONCURRENCY and
 * its permits are already granted), then record every outcome and token change. Returns a halt when Meta's
 * answer means nothing more of this source should be sent now.
 */
async function sendGroup(
  deps: WorkerDeps,
  page: SendingPage,
  policy: Policy,
  messageJson: string,
  group: Eligible[],
  now: Date,
  report: BatchReport,
): Promise<{ halt: Halt | null; outcomes: Outcome[] }> {
  // A recurring token's next eligible time counts from this send, the claim time.
  const requests: ClaimRequest[] = group.map(({ row, token }) => ({
    row,
    nextEligibleAt: row.kind === 'RECURRING' ? applySend(token, now, policy, row.subscriberTimezone).nextEligibleAt : null,
  }));
  const { claimed, lost } = await claim(deps.db, requests, now);
  report.skipped += lost.length;
  if (claimed.length === 0) return { halt: null, outcomes: [] };
  const results = await Promise.all(claimed.map((row) => sendOne(deps, page, row, messageJson)));
  const outcomes: Outcome[] = [];
  const tokenChanges: TokenChange[] = [];
  const unavailable: string[] = [];
  let halt: Halt | null = null;
  for (const [index, row] of claimed.entries()) {
    const meaning = interpret(row, results[index]!, { maxAttempts: deps.config.DELIVERY_MAX_ATTEMPTS, baseMs: deps.config.DELIVERY_RETRY_BASE_MS }, now, policy);
    outcomes.push(meaning.outcome);
    if (meaning.tokenChange) tokenChanges.push({ optInId: row.optInId, change: meaning.tokenChange, claimedAt: now });
    if (meaning.subscriberUnavailable) unavailable.push(row.subscriberId);
    if (meaning.pausePageUntil) {
      await pausePage(deps, page, meaning.pausePageUntil);
      halt = { kind: 'page_paused', until: meaning.pausePageUntil };
    }
    if (meaning.haltSource && !halt) halt = { kind: 'source_dead', reason: meaning.haltSource };
    countOutcome(report, meaning.outcome.status);
  }
  await recordOutcomes(deps.db, outcomes, now, 'SENDING');
  deps.metrics.observeDeliveries(outcomes);
  await applyTokenChanges(deps.db, tokenChanges, now);
  await markSubscribersUnavailable(deps.db, unavailable, new Date(now.getTime() + UNAVAILABLE_SUPPRESS_MS));
  return { halt, outcomes };
}

/**
 * After a halt, the rest of the pass is not sent. A paused Page: they wait (PENDING) until the pause ends.
 * A source Meta refuses as a request (bad message, bad app secret, bad Page token): every row of the source
 * still PENDING goes DEAD with the reason, tokens untouched, so the whole send stops at once and can be
 * redriven (`POST /v1/dead-letters/redrive`) once the cause is fixed.
 */
async function haltRest(deps: WorkerDeps, halt: Halt, job: DispatchJob, rest: Eligible[], now: Date, report: BatchReport): Promise<Outcome[]> {
  if (halt.kind === 'page_paused') {
    const waiting: Outcome[] = rest.map(({ row }) => ({ deliveryId: row.id, status: 'PENDING', notBefore: halt.until, skipReason: SkipReason.PAGE_PAUSED }));
    await recordOutcomes(deps.db, waiting, now, 'PENDING');
    report.deferred += waiting.length;
    return waiting;
  }
  const dead = await haltSource(deps.db, job.sourceId, `not sent: ${halt.reason}`, now);
  report.dead += dead;
  deps.metrics.deliveries.inc({ status: 'DEAD', skip_reason: '' }, dead);
  deps.logger.error({ sourceType: job.sourceType, sourceId: job.sourceId, reason: halt.reason, stopped: dead }, 'send stopped: Meta refused the request; fix it, then redrive');
  return [];
}

function sendOne(deps: WorkerDeps, page: SendingPage, row: BatchRow, messageJson: string): Promise<SendOutcome> {
  const recipient = row.kind === 'ONE_TIME' ? 'one_time_notif_token' : 'notification_messages_token';
  const body = `{"recipient":{${JSON.stringify(recipient)}:${JSON.stringify(row.token)}},"message":${messageJson}}`;
  return deps.metrics.timeSend(() =>
    deps.graph.sendMessage({ pageId: page.id, accessToken: page.accessToken, appSecret: page.appSecret, graphVersion: page.graphVersion, body, recipientKind: recipient }),
  );
}

function countOutcome(report: BatchReport, status: Outcome['status']) {
  if (status === 'SENT') report.sent++;
  else if (status === 'FAILED') report.failed++;
  else if (status === 'SKIPPED') report.skipped++;
  else if (status === 'DEAD') report.dead++;
  else report.deferred++;
}

async function pausePage(deps: WorkerDeps, page: SendingPage, until: Date) {
  page.pausedUntil = until;
  await pausePageUntil(deps.db, page.id, until);
  deps.logger.warn({ pageId: page.id, pausedUntil: until }, 'Meta restricted the Page; sends paused');
}

/** Per-person sends across topics inside the policy's cap window (only when the Page enables the cap). */
async function sendsInCapWindow(deps: WorkerDeps, policy: Policy, rows: BatchRow[], now: Date): Promise<Map<string, number>> {
  if (!policy.userCap) return new Map();
  const since = new Date(now.getTime() - policy.userCap.windowHours * 3600_000);
  return countSentSince(deps.db, [...new Set(rows.map((row) => row.subscriberId))], since);
}

interface Interpretation {
  outcome: Outcome;
  tokenChange?: TokenChange['change'];
  subscriberUnavailable?: boolean;
  pausePageUntil?: Date;
  /** Meta refused the request itself (not the token): stop the whole source, with this reason. */
  haltSource?: string;
}

/**
 * What one Send API answer means for the delivery and its token. The crash/timeout rule: after an attempt
 * that may have reached Meta (ambiguous), Meta refusing a one-time token as used, or a recurring token
 * for its cooldown, means that attempt was delivered: the delivery is SENT (without a message id).
 */
export function interpret(row: BatchRow, result: SendOutcome, retry: { maxAttempts: number; baseMs: number }, now: Date, policy: Policy): Interpretation {
  const attempt = row.attempts + 1;
  const retryLater = (error: { code: number | null; subcode: number | null; message: string }, retryAfterMs?: number, ambiguous = false): Interpretation => {
    if (attempt >= retry.maxAttempts) {
      return { outcome: { deliveryId: row.id, status: 'DEAD', errorCode: error.code, errorSubcode: error.subcode, error: `gave up after ${attempt} attempts: ${error.message}`, ambiguous } };
    }
    const delay = retryDelayMs(attempt, { baseMs: retry.baseMs, maxMs: RETRY_MAX_MS, retryAfterMs }, Math.random);
    return { outcome: { deliveryId: row.id, status: 'PENDING', notBefore: new Date(now.getTime() + delay), errorCode: error.code, errorSubcode: error.subcode, error: error.message, ambiguous } };
  };
  if (result.ok) return { outcome: { deliveryId: row.id, status: 'SENT', messageId: result.messageId } };

  const { error, failure } = result;
  const failed = (status: 'FAILED' | 'SKIPPED' | 'DEAD', extra: Partial<Outcome> = {}): Outcome => ({
    deliveryId: row.id,
    status,
    errorCode: error.code,
    errorSubcode: error.subcode,
    error: failure.reason ? `${failure.reason}: ${error.message}` : error.message,
    ...extra,
  });
  const deliveredEarlier =
    row.ambiguousAttempt && ((row.kind === 'ONE_TIME' && failure.kind === 'token_invalid') || (row.kind === 'RECURRING' && failure.kind === 'cooldown'));
  if (deliveredEarlier) {
    return { outcome: { deliveryId: row.id, status: 'SENT', messageId: null, error: 'delivered by an earlier attempt (Meta reported the token already used)' } };
  }
  switch (failure.kind) {
    case 'retryable':
    case 'throttled':
      // No HTTP status means the request may have reached Meta (timeout, reset): remember the ambiguity.
      return retryLater(error, failure.retryAfterMs, result.httpStatus === null);
    case 'cooldown': {
      const hours = policy.recurring.daily.cooldownHours;
      return { outcome: { ...failed('FAILED'), status: 'PENDING', notBefore: new Date(now.getTime() + hours * 3600_000), skipReason: SkipReason.FREQUENCY_WINDOW } };
    }
    case 'page_paused': {
      const until = new Date(now.getTime() + (failure.retryAfterMs ?? 3600_000));
      return { outcome: { ...failed('FAILED'), status: 'PENDING', notBefore: until }, pausePageUntil: until };
    }
    case 'stopped':
      return { outcome: failed('SKIPPED', { skipReason: SkipReason.STOPPED }), tokenChange: 'STOPPED' };
    case 'token_invalid':
      return { outcome: failed('FAILED'), tokenChange: 'INVALID' };
    case 'recipient_unavailable':
      return { outcome: failed('FAILED'), tokenChange: 'RELEASE', subscriberUnavailable: true };
    case 'access_token_invalid':
    case 'page_misconfigured':
    case 'request_invalid': {
      // Meta refused the request, not the token (a bad message, a wrong app secret proof, an expired Page
      // token): nothing about the person or the token is wrong. Keep the token, stop the whole source, and
      // let the operator fix the cause and redrive.
      const dead = failed('DEAD');
      return { outcome: dead, tokenChange: 'RELEASE', haltSource: dead.error ?? error.message };
    }
    case 'outside_window':
    case 'permanent':
      return { outcome: failed('FAILED'), tokenChange: 'RELEASE' };
  }
}

export const deliveriesModule = (): ProcessorModule => {
  let stopping = false;
  return {
    queue: QueueName.deliveries,
    stop: () => void (stopping = true),
    create: async (deps) => {
      stopping = false; // a module outlives a stopped worker when the same process starts another (tests)
      const ctx: DispatchContext = { deps, limiter: new PageRateLimiter(deps.redis, deps.config.QUEUE_PREFIX), stopping: () => stopping };
      return defineProcessor(QueueName.deliveries, deps, {
        [SWEEP_JOB]: () => sweep(deps),
        [DISPATCH_JOB]: async (dispatchJob, job, token) => {
          const pass = await dispatchBatch(ctx, dispatchJob);
          const { next, source, ...report } = pass;
          deps.logger.debug({ jobId: job.id, sourceId: dispatchJob.sourceId, batchNo: dispatchJob.batchNo, next: next.kind, ...report }, 'batch pass');
          if ((next.kind === 'done' || next.kind === 'wake') && source) await releaseSuccessor(deps, source, dispatchJob.batchNo);
          if (next.kind === 'done') return report;
          // The job steps aside (BullMQ's delayed set, same id) instead of holding its slot while it waits.
          const { reservedPermits: _used, ...data } = dispatchJob;
          const nextData: DispatchJob = next.kind === 'permits' ? { ...data, reservedPermits: next.reserved } : data;
          if (nextData.reservedPermits !== dispatchJob.reservedPermits) await job.updateData(nextData);
          await job.moveToDelayed(next.kind === 'resume' ? Date.now() : next.at, token);
          throw new DelayedError();
        },
      });
    },
  };
};
