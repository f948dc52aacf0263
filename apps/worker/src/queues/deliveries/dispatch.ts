import { DelayedError } from 'bullmq';
import {
  applyTokenChanges,
  capUsageSince,
  claim,
  closeSourceIfFinished,
  haltSource,
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
import { applySend, resolvePagePolicy, retryDelayMs, SkipReason, type Policy } from '@renotify/domain';
import type { SendOutcome } from '@renotify/messenger';
import { DISPATCH_JOB, PageRateLimiter, QueueName, SWEEP_JOB, type DispatchJob } from '@renotify/queue';
import type { WorkerDeps } from '../../deps.js';
import { defineProcessor, type ProcessorModule } from '../define.js';
import { recordProgress, releaseSuccessor, type ReleaseSource } from './release.js';
import { planBatch, type CapUsage, type Eligible } from './plan.js';
import { loadSource } from './sources.js';
import { sweep } from './sweeper.js';

const RETRY_MAX_MS = 5 * 60_000;
/** A person Meta reports as unavailable (551 and friends) is left alone this long. */
const UNAVAILABLE_SUPPRESS_MS = 7 * 24 * 3600_000;
/**
 * Outcomes are written at the latest this long after their request ended (sooner when a chunk's worth is in).
 * Each write is a statement and a commit: at 50 ms a busy batch wrote groups of ~25, which cost Postgres 0.37 ms
 * of CPU per delivery against 0.24 ms at 250 ms (same run); 250 ms stays far inside STALE_SENDING_MS.
 */
const OUTCOME_FLUSH_MS = 250;
/**
 * …or as soon as this many are in: one statement per 250 ms of a busy job's answers (a fast Page answers 250–1,000
 * in that time), not one per chunk; the SENDING age stays bounded by OUTCOME_FLUSH_MS, not by this size.
 */
const OUTCOME_GROUP_MAX = 500;

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
 * One pass over a batch: plan its due PENDING rows (skips and deferrals recorded at once), then stream the
 * eligible ones to the Send API with up to SEND_CONCURRENCY requests in flight. Sends are claimed in small
 * chunks, each chunk's permits first reserved from the Page's shared bucket; a chunk that would have to wait
 * ends the pass instead (`permits`), so a worker slot is only ever spent on sends that can start now. A chunk
 * is claimed (PENDING → SENDING, tokens taken) just before its requests start (at most one chunk is claimed
 * ahead of the requests in flight) and every outcome is written within OUTCOME_FLUSH_MS of its answer: a row
 * is SENDING only while its request is in flight, so its age is bounded by the Graph timeout, never by the
 * batch or the rate.
 */
export async function dispatchBatch(ctx: DispatchContext, job: DispatchJob): Promise<PassResult> {
  const { deps } = ctx;
  const clock = ctx.clock ?? (() => new Date());
  const report: BatchReport = { sent: 0, failed: 0, skipped: 0, dead: 0, deferred: 0 };
  const now = clock();
  const source = await loadSource(deps.db, deps.secrets, job);
  const releaseSource: ReleaseSource | null = source ? { sourceType: job.sourceType, sourceId: job.sourceId, priority: source.priority } : null;
  const result = (next: NextStep): PassResult => ({ ...report, next, source: releaseSource });
  const pending = await loadPendingBatch(deps.db, job.sourceId, job.batchNo, new Date(now.getTime() - deps.config.STALE_SENDING_MS));
  const abandoned = pending.filter((row) => row.abandoned).length;
  if (abandoned) deps.logger.warn({ sourceId: job.sourceId, batchNo: job.batchNo, abandoned }, 'claims abandoned mid-send (a worker died): sent again, marked ambiguous');
  const rows = pending.filter((row) => !(row.notBefore && row.notBefore > now));
  // Rows deferred by earlier passes, and those this pass defers, decide when the job wakes again.
  const deferred = new DeferredRows(pending.filter((row) => row.notBefore && row.notBefore > now).map((row) => row.notBefore!));
  if (rows.length === 0) return result(deferred.next());
  const page = source?.page ?? null;
  if (!source || !page) {
    const reason = !source ? 'source no longer exists' : 'Page is not registered (or was deleted)';
    await recordOutcomes(deps.db, rows.map((row) => ({ deliveryId: row.id, status: 'DEAD', error: reason })), now, 'PENDING');
    deps.metrics.deliveries.inc({ status: 'DEAD', skip_reason: '' }, rows.length);
    report.dead = rows.length;
    return result({ kind: 'done' });
  }
  const policy = resolvePagePolicy(page.policyProfile, page.guards);
  const capUsage = await capUsageOf(deps, policy, rows, now);
  const plan = planBatch(rows, { policy, page, deferIneligible: source.deferIneligible, capUsage }, now);
  if (plan.recurringRefusal) deps.logger.warn({ pageId: page.id, reason: plan.recurringRefusal.reason }, plan.recurringRefusal.message);
  for (const outcome of plan.preSend) countOutcome(report, outcome.status);
  await recordOutcomes(deps.db, plan.preSend, now, 'PENDING');
  deps.metrics.observeDeliveries(plan.preSend);
  await applyTokenChanges(deps.db, plan.tokenChanges, now);
  deferred.addOutcomes(plan.preSend);

  const stop = await sendEligible(ctx, clock, job, page, policy, source.messageJson, plan.eligible, deferred, report);
  return result(stop ?? deferred.next());
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

/** Why the rest of a pass is not sent: the Page is paused until a time, or the source cannot be sent. */
type Halt = { kind: 'page_paused'; until: Date } | { kind: 'source_dead'; reason: string };

/** A claimed row waiting for a free request slot, with the claim time its token carries. */
interface ClaimedRow {
  row: BatchRow;
  claimedAt: Date;
}

/** Wakes every task waiting on it (the claimer waiting for room, senders waiting for claimed rows). */
class Signal {
  private waiters: Array<() => void> = [];
  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  notify() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * Streams the eligible rows of a pass: one claimer reserves permits and claims a chunk whenever fewer than a
 * chunk of claimed rows wait, SEND_CONCURRENCY senders take claimed rows one by one, and an OutcomeWriter
 * records what Meta answered. Returns why the pass stopped early (`permits`, `resume`), or null.
 */
async function sendEligible(
  ctx: DispatchContext,
  clock: () => Date,
  job: DispatchJob,
  page: SendingPage,
  policy: Policy,
  messageJson: string,
  eligible: Eligible[],
  deferred: DeferredRows,
  report: BatchReport,
): Promise<NextStep | null> {
  const { deps } = ctx;
  const concurrency = deps.config.SEND_CONCURRENCY;
  // A chunk's sends start together: at most one second of the Page's rate (its burst) and SEND_CONCURRENCY rows
  // (the next chunk is claimed once fewer than a chunk wait, while the requests before it are in flight). Bigger
  // chunks cost fewer statements per send; the bound on a row's SENDING age stays two rounds of requests.
  const chunkSize = Math.max(1, Math.min(concurrency, Math.ceil(page.sendRatePerSec)));
  const retry = { maxAttempts: deps.config.DELIVERY_MAX_ATTEMPTS, baseMs: deps.config.DELIVERY_RETRY_BASE_MS };
  const writer = new OutcomeWriter(deps, OUTCOME_GROUP_MAX, clock);
  const ready: ClaimedRow[] = [];
  // Two signals, so a sender taking a row wakes only the claimer, and a claimed chunk wakes the senders once.
  const claimedRows = new Signal();
  const roomToClaim = new Signal();
  let reserved = job.reservedPermits ?? 0;
  let index = 0;
  let claiming = true;
  let stop: NextStep | null = null;
  let halt: Halt | null = null;

  const claimer = async () => {
    try {
      while (index < eligible.length && !halt) {
        while (ready.length >= chunkSize && !halt) await roomToClaim.wait();
        if (halt) return;
        if (ctx.stopping()) {
          stop = { kind: 'resume' };
          return;
        }
        const remaining = eligible.length - index;
        let size: number;
        if (reserved > 0) {
          size = Math.min(reserved, remaining);
          reserved = 0;
        } else {
          // The pass's first claim takes two chunks when the Page's rate allows: the second would be claimed as soon
          // as the senders take the first anyway, so nothing is SENDING longer, and a small batch (one event to a
          // hundred people) costs one claim statement instead of two.
          size = Math.min(remaining, index === 0 && page.sendRatePerSec >= 2 * chunkSize ? 2 * chunkSize : chunkSize);
          const waitMs = await ctx.limiter.reserve(page.id, size, page.sendRatePerSec);
          if (waitMs > 0) {
            deps.metrics.observeRateLimitWait(waitMs);
            stop = { kind: 'permits', at: clock().getTime() + waitMs, reserved: size };
            return;
          }
        }
        const chunk = eligible.slice(index, index + size);
        index += size;
        const claimedAt = clock();
        // A recurring token's next eligible time counts from this send, the claim time.
        const requests: ClaimRequest[] = chunk.map(({ row, token }) => ({
          row,
          nextEligibleAt: row.kind === 'RECURRING' ? applySend(token, claimedAt, policy, row.subscriberTimezone, page.timezone).nextEligibleAt : null,
        }));
        // Answers already in ride with the claim (one statement instead of two); if the claim fails they go back to
        // the writer, whose close() still tries them, so a live worker leaves no answered row SENDING.
        const answered = writer.takeAnswered();
        const { claimed, lost } = await claim(deps.db, requests, claimedAt, answered ? { outcomes: answered, at: claimedAt } : undefined).catch(
          (error: unknown) => {
            if (answered) writer.giveBack(answered);
            throw error;
          },
        );
        if (answered) deps.metrics.observeDeliveries(answered);
        report.skipped += lost.length;
        for (const row of claimed) ready.push({ row, claimedAt });
        claimedRows.notify();
      }
    } finally {
      claiming = false;
      claimedRows.notify();
    }
  };

  const sender = async () => {
    for (;;) {
      const next = ready.shift();
      if (!next) {
        if (!claiming) return;
        await claimedRows.wait();
        continue;
      }
      if (ready.length < chunkSize) roomToClaim.notify();
      const answer = await sendOne(deps, page, next.row, messageJson);
      const meaning = interpret(next.row, answer, retry, clock(), policy);
      if (meaning.pausePageUntil && halt?.kind !== 'page_paused') {
        halt = { kind: 'page_paused', until: meaning.pausePageUntil };
        await pausePage(deps, page, meaning.pausePageUntil);
      } else if (meaning.haltSource && !halt) {
        halt = { kind: 'source_dead', reason: meaning.haltSource };
      }
      countOutcome(report, meaning.outcome.status);
      deferred.addOutcomes([meaning.outcome]);
      writer.add(next, meaning);
    }
  };

  // Settled, not all: when a claim fails (Postgres gone), the requests already in flight still finish and their
  // outcomes are still written before the error ends the pass, so no row is left SENDING behind a live worker.
  const settled = await Promise.allSettled([claimer(), ...Array.from({ length: concurrency }, sender)]);
  await writer.close();
  const failure = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failure) throw failure.reason;
  if (halt) {
    deferred.addOutcomes(await haltRest(deps, halt, job, eligible.slice(index), clock(), report));
    return null;
  }
  return stop;
}

/**
 * Records Meta's answers in groups: when OUTCOME_GROUP_MAX are in, or OUTCOME_FLUSH_MS after the first of a
 * group, whichever comes first; or sooner, carried by the next claim (takeAnswered). Writes run one after another;
 * a failed write is raised by `close()` (the rows stay SENDING and the sweeper returns them as ambiguous).
 */
class OutcomeWriter {
  private outcomes: Outcome[] = [];
  private tokenChanges: TokenChange[] = [];
  private unavailable: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private failure: unknown = null;

  constructor(
    private readonly deps: WorkerDeps,
    private readonly groupSize: number,
    private readonly clock: () => Date,
  ) {}

  add({ row, claimedAt }: ClaimedRow, meaning: Interpretation) {
    this.outcomes.push(meaning.outcome);
    if (meaning.tokenChange) this.tokenChanges.push({ optInId: row.optInId, change: meaning.tokenChange, claimedAt });
    if (meaning.subscriberUnavailable) this.unavailable.push(row.subscriberId);
    if (this.outcomes.length >= this.groupSize) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), OUTCOME_FLUSH_MS);
  }

  async close() {
    this.flush();
    await this.writing;
    if (this.failure) throw this.failure;
  }

  /**
   * The answers waiting for a write, for the next claim's statement to carry: only plain outcomes (none with a
   * token change or an unavailable person, which need their own statements), and none after a failed write.
   */
  takeAnswered(): Outcome[] | null {
    if (this.outcomes.length === 0 || this.tokenChanges.length > 0 || this.unavailable.length > 0 || this.failure) return null;
    const outcomes = this.outcomes;
    this.outcomes = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    return outcomes;
  }

  /** Answers a failed claim could not write: written with the next group (close() at the latest). */
  giveBack(outcomes: Outcome[]) {
    this.outcomes.unshift(...outcomes);
    this.timer ??= setTimeout(() => this.flush(), OUTCOME_FLUSH_MS);
  }

  private flush() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.outcomes.length === 0) return;
    const outcomes = this.outcomes;
    const tokenChanges = this.tokenChanges;
    const unavailable = this.unavailable;
    this.outcomes = [];
    this.tokenChanges = [];
    this.unavailable = [];
    const { deps, clock } = this;
    this.writing = this.writing.then(async () => {
      if (this.failure) return;
      try {
        const now = clock();
        await recordOutcomes(deps.db, outcomes, now, 'SENDING');
        deps.metrics.observeDeliveries(outcomes);
        await applyTokenChanges(deps.db, tokenChanges, now);
        await markSubscribersUnavailable(deps.db, unavailable, new Date(now.getTime() + UNAVAILABLE_SUPPRESS_MS));
      } catch (error) {
        this.failure = error;
      }
    });
  }
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
async function capUsageOf(deps: WorkerDeps, policy: Policy, rows: BatchRow[], now: Date): Promise<Map<string, CapUsage>> {
  if (!policy.userCap) return new Map();
  const since = new Date(now.getTime() - policy.userCap.windowHours * 3600_000);
  return capUsageSince(deps.db, [...new Set(rows.map((row) => row.subscriberId))], since);
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
          await recordProgress(deps, dispatchJob.sourceId);
          // The end of a chain may be the end of the source (see closeSourceIfFinished): releaseSuccessor closes it
          // when the batch is done and its chain has nothing due; a source that is gone is closed on its own.
          if ((next.kind === 'done' || next.kind === 'wake') && source) await releaseSuccessor(deps, source, dispatchJob.batchNo, next.kind === 'done');
          else if (next.kind === 'done') await closeSourceIfFinished(deps.db, dispatchJob.sourceType, dispatchJob.sourceId);
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
