import type { Database } from '@renotify/db';
import {
  batchPriorityClass,
  bullmqPriority,
  DISPATCH_JOB,
  dispatchJobId,
  sourceWindow,
  type DispatchJob,
  type PriorityClass,
} from '@renotify/queue';
import type { WorkerDeps } from '../deps.js';

/**
 * Progressive release of a source's batches (fair dispatch, README "Delivery semantics").
 *
 * A source (event or campaign run) with window W has at most W batches queued or in flight: its batches form
 * W chains (b, b + W, b + 2W, …) and each chain has one job at a time. Fan-out queues batches 0…W-1 as it
 * writes them; when a batch is done for now (nothing due left: sent, final, or deferred to a later time) its
 * job queues the next due batch of its chain. So a 100,000-token send holds W places in the queue, not 200,
 * and another Page's single notification is never behind a whole fan-out.
 *
 * The state is Postgres' alone (which rows are due), so it survives any Redis loss: the sweeper re-queues
 * chain heads whose job went missing. Queueing uses the batch's fixed job id, so every path that may queue a
 * batch (fan-out, the batch before it, the sweeper, a replay) at worst tries to add a job that already exists.
 */

/** What the release needs to know about the source of a batch. */
export interface ReleaseSource {
  sourceType: DispatchJob['sourceType'];
  sourceId: string;
  /** The event's priority override; null for campaign runs and events without one. */
  priority: PriorityClass | null;
}

export type TokenKind = 'ONE_TIME' | 'RECURRING';

export function windowOf(deps: WorkerDeps, source: ReleaseSource): number {
  return sourceWindow(source.sourceType, source.priority, deps.config.DISPATCH_WINDOW);
}

/** "Due" rows of a batch: waiting to be sent now, or being sent. Deferred rows (notBefore later) are not. */
const DUE = (alias: string, nowParam: string) =>
  `(${alias}.status = 'SENDING' OR (${alias}.status = 'PENDING' AND (${alias}."notBefore" IS NULL OR ${alias}."notBefore" <= ${nowParam})))`;

/** Queues one batch under its fixed id, with the BullMQ priority of its class. */
export async function queueBatch(deps: WorkerDeps, source: ReleaseSource, batchNo: number, kind: TokenKind): Promise<void> {
  const job: DispatchJob = { sourceType: source.sourceType, sourceId: source.sourceId, batchNo };
  const priority = bullmqPriority(batchPriorityClass(source.sourceType, source.priority, kind));
  await deps.queues.deliveries.add(DISPATCH_JOB, job, { jobId: dispatchJobId(job), priority });
}

/**
 * Fan-out wrote batch `batchNo`: queue it if its chain has no job, i.e. it is one of the first W batches, or
 * the batch before it in its chain has nothing due (that batch's job has finished its pass and found no
 * successor yet). Called after the batch's INSERT committed: either this check sees the predecessor done, or
 * the predecessor's job, finishing later, sees this batch (see `releaseSuccessor`).
 */
export async function releaseWrittenBatch(deps: WorkerDeps, source: ReleaseSource, batchNo: number, kind: TokenKind, now = new Date()): Promise<boolean> {
  const window = windowOf(deps, source);
  if (batchNo >= window) {
    const { rows } = await deps.db.pool.query<{ busy: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM "Delivery" p WHERE p."sourceId" = $1 AND p."batchNo" = $2 AND ${DUE('p', '$3')}) AS busy`,
      [source.sourceId, batchNo - window, now],
    );
    if (rows[0]?.busy) return false;
  }
  await queueBatch(deps, source, batchNo, kind);
  return true;
}

/** A batch finished its pass: queue the next batch of its chain that has something due. */
export async function releaseSuccessor(deps: WorkerDeps, source: ReleaseSource, batchNo: number, now = new Date()): Promise<number | null> {
  const window = windowOf(deps, source);
  const { rows } = await deps.db.pool.query<{ batchNo: number; kind: TokenKind }>(
    `SELECT d."batchNo", o.kind FROM "Delivery" d JOIN "OptIn" o ON o.id = d."optInId"
     WHERE d."sourceId" = $1 AND d."batchNo" > $2 AND (d."batchNo" - $2) % $3 = 0 AND ${DUE('d', '$4')}
     ORDER BY d."batchNo" LIMIT 1`,
    [source.sourceId, batchNo, window, now],
  );
  const next = rows[0];
  if (!next) return null;
  await queueBatch(deps, source, next.batchNo, next.kind);
  return next.batchNo;
}

/**
 * The batches of a source that should have a job now: every due batch whose chain predecessor has nothing
 * due. Used when a source is replayed and by the sweeper after a crash or a Redis loss.
 */
export async function chainHeads(db: Database, sourceId: string, window: number, now: Date): Promise<Array<{ batchNo: number; kind: TokenKind }>> {
  // Batch-level first (one pass over the source's rows), then the chain rule on batch numbers: a per-row
  // anti-join would probe the predecessor batch's rows once per row.
  const { rows } = await db.pool.query<{ batchNo: number; kind: TokenKind }>(
    `WITH due AS (
       SELECT DISTINCT d."batchNo" FROM "Delivery" d WHERE d."sourceId" = $1 AND d."batchNo" >= 0 AND ${DUE('d', '$3')}
     ), heads AS (
       SELECT h."batchNo" FROM due h WHERE h."batchNo" < $2 OR NOT EXISTS (SELECT 1 FROM due p WHERE p."batchNo" = h."batchNo" - $2)
     )
     SELECT h."batchNo", (SELECT o.kind FROM "Delivery" x JOIN "OptIn" o ON o.id = x."optInId"
                          WHERE x."sourceId" = $1 AND x."batchNo" = h."batchNo" LIMIT 1) AS kind
     FROM heads h ORDER BY 1`,
    [sourceId, window, now],
  );
  return rows;
}

/**
 * Makes sure each chain head of the source has a live job: adds the missing ones and retries those that
 * failed for good (a failed job keeps its id, which would block a plain add). Returns how many were queued.
 */
export async function ensureChainHeads(deps: WorkerDeps, source: ReleaseSource, now = new Date()): Promise<number> {
  const heads = await chainHeads(deps.db, source.sourceId, windowOf(deps, source), now);
  let queued = 0;
  for (const head of heads) {
    const jobId = dispatchJobId({ ...source, batchNo: head.batchNo });
    const state = await deps.queues.deliveries.getJobState(jobId);
    if (state === 'failed') {
      await (await deps.queues.deliveries.getJob(jobId))?.retry('failed');
      queued++;
    } else if (state === 'unknown' || state === 'completed') {
      if (state === 'completed') await deps.queues.deliveries.remove(jobId);
      await queueBatch(deps, source, head.batchNo, head.kind);
      queued++;
    }
  }
  return queued;
}
