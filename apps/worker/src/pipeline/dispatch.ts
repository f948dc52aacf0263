import type { Job } from 'bullmq';
import { loadPageForSending, type SendingPage } from '@renotify/db';
import { applySend, evaluate, resolvePolicy, retryDelayMs, SkipReason, type Policy, type TokenState } from '@renotify/domain';
import type { SendOutcome } from '@renotify/messenger';
import { DISPATCH_JOB, dispatchJobId, dispatchJobSchema, PageRateLimiter, QueueName, type DispatchJob } from '@renotify/queue';
import type { WorkerDeps } from '../deps.js';
import type { ProcessorModule } from '../processors/index.js';
import { applyTokenChanges, claim, holdsToken, loadPendingBatch, markSubscribersUnavailable, recordOutcomes, type BatchRow, type ClaimRequest, type Outcome, type TokenChange } from './ledger.js';
import { loadSourceMessage } from './sources.js';
import { sweep, SWEEP_JOB } from './sweeper.js';

const RETRY_MAX_MS = 5 * 60_000;
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
 * Sends one batch: evaluate rules → claim (guarded, one transaction) → send with bounded concurrency under
 * the Page's shared rate limit → one UPDATE for all outcomes. Deliveries that must wait (retry backoff,
 * quiet hours, paused Page) stay PENDING with `notBefore`, and a delayed job for the batch is queued.
 */
export async function dispatchBatch(deps: WorkerDeps, limiter: PageRateLimiter, job: DispatchJob, now = new Date()): Promise<BatchReport> {
  const report: BatchReport = { sent: 0, failed: 0, skipped: 0, dead: 0, deferred: 0 };
  const rows = await loadPendingBatch(deps.db, job.sourceId, job.batchNo);
  if (rows.length === 0) return report;
  const [source, page] = await Promise.all([
    loadSourceMessage(deps.db, job),
    loadPageForSending(deps.db, deps.secrets, rows[0]!.pageId),
  ]);
  if (!source || !page) {
    const reason = !source ? 'source no longer exists' : 'Page is not registered (or was deleted)';
    await recordOutcomes(deps.db, rows.map((row) => ({ deliveryId: row.id, status: 'DEAD', error: reason })), now, 'PENDING');
    deps.metrics.deliveries.inc({ status: 'DEAD', skip_reason: '' }, rows.length);
    report.dead = rows.length;
    return report;
  }
  const policy = resolvePolicy(page.policyProfile);
  const sendsInCap = await sendsInCapWindow(deps, policy, rows, now);

  const preSend: Outcome[] = [];
  const tokenChanges: TokenChange[] = [];
  const requests: ClaimRequest[] = [];
  let nextWake: number | null = null;
  const wakeAt = (at: Date) => (nextWake = nextWake === null ? at.getTime() : Math.min(nextWake, at.getTime()));

  for (const row of rows) {
    if (row.notBefore && row.notBefore > now) {
      wakeAt(row.notBefore);
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
      requests.push({ row, nextEligibleAt: row.kind === 'RECURRING' ? applySend(token, now, policy, row.subscriberTimezone).nextEligibleAt : null });
      sendsInCap.set(row.subscriberId, (sendsInCap.get(row.subscriberId) ?? 0) + 1);
      continue;
    }
    const defer = verdict.retryAt && (ALWAYS_DEFERRED.has(verdict.reason) || (source.deferIneligible && DEFERRED_ON_REQUEST.has(verdict.reason)));
    if (defer && verdict.retryAt) {
      preSend.push({ deliveryId: row.id, status: 'PENDING', notBefore: verdict.retryAt, skipReason: verdict.reason });
      wakeAt(verdict.retryAt);
      report.deferred++;
    } else {
      preSend.push({ deliveryId: row.id, status: 'SKIPPED', skipReason: verdict.reason });
      if (verdict.reason === SkipReason.TOKEN_EXPIRED) tokenChanges.push({ optInId: row.optInId, change: 'EXPIRED' });
      report.skipped++;
    }
  }
  await recordOutcomes(deps.db, preSend, now, 'PENDING');
  deps.metrics.observeDeliveries(preSend);

  const { claimed, lost } = await claim(deps.db, requests, now);
  report.skipped += lost.length;

  const results = await sendAll(deps, limiter, page, claimed, source.messageJson);
  const outcomes: Outcome[] = [];
  const unavailable: string[] = [];
  for (const [index, row] of claimed.entries()) {
    const result = results[index];
    const outcome = interpret(row, result, { maxAttempts: deps.config.DELIVERY_MAX_ATTEMPTS, baseMs: deps.config.DELIVERY_RETRY_BASE_MS }, now, policy);
    outcomes.push(outcome.outcome);
    if (outcome.tokenChange) tokenChanges.push({ optInId: row.optInId, change: outcome.tokenChange, claimedAt: now });
    if (outcome.subscriberUnavailable) unavailable.push(row.subscriberId);
    if (outcome.pausePageUntil) await pausePage(deps, page, outcome.pausePageUntil);
    if (outcome.outcome.status === 'PENDING' && outcome.outcome.notBefore) wakeAt(outcome.outcome.notBefore);
    countOutcome(report, outcome.outcome.status);
  }
  await recordOutcomes(deps.db, outcomes, now, 'SENDING');
  deps.metrics.observeDeliveries(outcomes);
  await applyTokenChanges(deps.db, tokenChanges, now);
  await markSubscribersUnavailable(deps.db, unavailable, new Date(now.getTime() + UNAVAILABLE_SUPPRESS_MS));

  if (nextWake !== null) {
    const delay = Math.max(0, nextWake - Date.now());
    await deps.queues.deliveries.add(DISPATCH_JOB, job, { jobId: dispatchJobId(job, nextWake), delay });
  }
  return report;
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
  await deps.db.pool.query('UPDATE "Page" SET "pausedUntil" = GREATEST(COALESCE("pausedUntil", $2), $2) WHERE id = $1', [page.id, until]);
  deps.logger.warn({ pageId: page.id, pausedUntil: until }, 'Meta restricted the Page; sends paused');
}

/** Per-person sends across topics inside the policy's cap window (only when the Page enables the cap). */
async function sendsInCapWindow(deps: WorkerDeps, policy: Policy, rows: BatchRow[], now: Date): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (!policy.userCap) return counts;
  const since = new Date(now.getTime() - policy.userCap.windowHours * 3600_000);
  const { rows: found } = await deps.db.pool.query<{ subscriberId: string; n: number }>(
    `SELECT o."subscriberId", count(*)::int AS n FROM "Delivery" d JOIN "OptIn" o ON o.id = d."optInId"
     WHERE d.status = 'SENT' AND d."finishedAt" >= $2 AND o."subscriberId" = ANY($1::uuid[]) GROUP BY 1`,
    [[...new Set(rows.map((row) => row.subscriberId))], since],
  );
  for (const row of found) counts.set(row.subscriberId, row.n);
  return counts;
}

/**
 * Sends with at most SEND_CONCURRENCY requests in flight, taking permits from the Page's shared token
 * bucket in small grants (one Redis round-trip per grant, not per send). Once Meta pauses the Page or
 * rejects its access token, the rest of the batch is not attempted.
 */
async function sendAll(deps: WorkerDeps, limiter: PageRateLimiter, page: SendingPage, rows: BatchRow[], messageJson: string): Promise<Array<SendOutcome | undefined>> {
  const results: Array<SendOutcome | undefined> = new Array(rows.length);
  let next = 0;
  let permits = 0;
  let refill: Promise<void> | null = null;
  let halted = false;
  const takePermit = async () => {
    while (permits <= 0) {
      refill ??= limiter
        .acquire(page.id, Math.min(50, rows.length - next + 1), page.sendRatePerSec, (waitMs) => deps.metrics.observeRateLimitWait(waitMs))
        .then((granted) => void (permits += granted))
        .finally(() => (refill = null));
      await refill;
    }
    permits--;
  };
  const worker = async () => {
    while (!halted && next < rows.length) {
      const index = next++;
      const row = rows[index]!;
      await takePermit();
      if (halted) return;
      const recipient = row.kind === 'ONE_TIME' ? 'one_time_notif_token' : 'notification_messages_token';
      const body = `{"recipient":{${JSON.stringify(recipient)}:${JSON.stringify(row.token)}},"message":${messageJson}}`;
      const result = await deps.metrics.timeSend(() => deps.graph.sendMessage({ pageId: page.id, accessToken: page.accessToken, graphVersion: page.graphVersion, body, recipientKind: recipient }));
      results[index] = result;
      if (!result.ok && (result.failure.kind === 'page_paused' || result.failure.kind === 'access_token_invalid')) halted = true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(deps.config.SEND_CONCURRENCY, rows.length) }, worker));
  return results;
}

interface Interpretation {
  outcome: Outcome;
  tokenChange?: TokenChange['change'];
  subscriberUnavailable?: boolean;
  pausePageUntil?: Date;
}

/**
 * What one Send API answer means for the delivery and its token. The crash/timeout rule: after an attempt
 * that may have reached Meta (ambiguous), Meta refusing a one-time token as used, or a recurring token
 * for its cooldown, means that attempt was delivered: the delivery is SENT (without a message id).
 */
export function interpret(row: BatchRow, result: SendOutcome | undefined, retry: { maxAttempts: number; baseMs: number }, now: Date, policy: Policy): Interpretation {
  const attempt = row.attempts + 1;
  const retryLater = (error: { code: number | null; subcode: number | null; message: string }, retryAfterMs?: number, ambiguous = false): Interpretation => {
    if (attempt >= retry.maxAttempts) {
      return { outcome: { deliveryId: row.id, status: 'DEAD', errorCode: error.code, errorSubcode: error.subcode, error: `gave up after ${attempt} attempts: ${error.message}`, ambiguous } };
    }
    const delay = retryDelayMs(attempt, { baseMs: retry.baseMs, maxMs: RETRY_MAX_MS, retryAfterMs }, Math.random);
    return { outcome: { deliveryId: row.id, status: 'PENDING', notBefore: new Date(now.getTime() + delay), errorCode: error.code, errorSubcode: error.subcode, error: error.message, ambiguous } };
  };
  if (!result) {
    // Not attempted: the batch halted (paused Page / bad access token) before this send.
    return { outcome: { deliveryId: row.id, status: 'PENDING', notBefore: new Date(now.getTime() + retry.baseMs), error: 'not attempted: batch halted' } };
  }
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
      // Fix the Page's token, then redrive: nothing about the person or token is wrong.
      return { outcome: failed('DEAD') };
    case 'outside_window':
    case 'permanent':
      return { outcome: failed('FAILED'), tokenChange: 'RELEASE' };
  }
}

export const deliveriesModule = (): ProcessorModule => {
  let limiter: PageRateLimiter | undefined;
  return {
    queue: QueueName.deliveries,
    create: async (deps) => {
      limiter = new PageRateLimiter(deps.redis, deps.config.QUEUE_PREFIX);
      // One scheduler entry shared by all workers: exactly one of them sweeps per interval.
      await deps.queues.deliveries.upsertJobScheduler(SWEEP_JOB, { every: deps.config.SWEEP_INTERVAL_MS }, { name: SWEEP_JOB });
      return async (job: Job) => {
        if (job.name === SWEEP_JOB) return sweep(deps);
        const parsed = dispatchJobSchema.safeParse(job.data);
        if (!parsed.success) {
          await deps.db.prisma.deadLetter.create({ data: { kind: 'job', reason: `invalid dispatch job: ${parsed.error.message}`, payload: { jobId: job.id, data: job.data } } });
          return { invalid: true };
        }
        const report = await dispatchBatch(deps, limiter!, parsed.data);
        deps.logger.info({ jobId: job.id, sourceId: parsed.data.sourceId, batchNo: parsed.data.batchNo, ...report }, 'batch dispatched');
        return report;
      };
    },
  };
};
