import { batchHasDueRows, chainHeads, fanOut, nextDueBatchInChain, type FanOutResult, type FanOutSource, type TokenKind } from '@renotify/db';
import { queueChainHeads, queueDispatchBatch, sourceWindow, SourceProgress, type ChainHead, type DispatchSource, type PriorityClass } from '@renotify/queue';
import type { WorkerDeps } from '../../deps.js';

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
export type ReleaseSource = DispatchSource;

export function windowOf(deps: WorkerDeps, source: ReleaseSource): number {
  return sourceWindow(source.sourceType, source.priority, deps.config.DISPATCH_WINDOW);
}

/** Queues one batch under its fixed id, with the BullMQ priority of its class. */
export async function queueBatch(deps: WorkerDeps, source: ReleaseSource, batchNo: number, kind: TokenKind): Promise<void> {
  await queueDispatchBatch(deps.queues.deliveries, source, { batchNo, kind });
  await recordProgress(deps, source.sourceId);
}

/** The source moved (a batch queued, a pass ended): the sweeper leaves it alone (see SourceProgress). */
export function recordProgress(deps: WorkerDeps, sourceId: string): Promise<void> {
  return new SourceProgress(deps.redis, deps.config.QUEUE_PREFIX).touch(sourceId);
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
    if (await batchHasDueRows(deps.db, source.sourceId, batchNo - window, now)) return false;
  }
  await queueBatch(deps, source, batchNo, kind);
  return true;
}

/**
 * A batch finished its pass: queue the next batch of its chain that has something due. `batchDone` (nothing left in
 * the batch to wait for): when the chain has no such batch, its end may be the source's end, closed in the same
 * statement (see nextDueBatchInChain).
 */
export async function releaseSuccessor(deps: WorkerDeps, source: ReleaseSource, batchNo: number, batchDone: boolean, now = new Date()): Promise<number | null> {
  const window = windowOf(deps, source);
  const next = await nextDueBatchInChain(deps.db, source.sourceId, batchNo, window, now, batchDone ? source.sourceType : undefined);
  if (!next) return null;
  await queueBatch(deps, source, next.batchNo, next.kind);
  return next.batchNo;
}

/**
 * Makes sure each chain head of the source has a live job (see queueChainHeads): used when a source is replayed
 * and by the sweeper after a crash or a Redis loss. Returns how many were queued.
 */
export async function ensureChainHeads(deps: WorkerDeps, source: ReleaseSource, now = new Date()): Promise<number> {
  return giveHeadsLiveJobs(deps, source, await chainHeads(deps.db, source.sourceId, windowOf(deps, source), now), now);
}

/**
 * Heads read from Postgres a moment ago get a live job each, unless the batch is no longer due when its job is
 * found gone: it finished meanwhile (its successor is already queued), so re-adding it would give its chain two jobs.
 */
export function giveHeadsLiveJobs(deps: WorkerDeps, source: ReleaseSource, heads: readonly ChainHead[], now: Date): Promise<number> {
  return queueChainHeads(deps.queues.deliveries, source, heads, (head) => batchHasDueRows(deps.db, source.sourceId, head.batchNo, now));
}

/**
 * The one fan-out runner for events and campaign runs: writes the source's deliveries batch by batch, releasing
 * each batch as it is written (the first sends start while the fan-out goes on); on a replay, makes sure every
 * chain has a job (a crash between writing a batch and queueing it). Idempotent.
 */
export async function fanOutAndRelease(deps: WorkerDeps, source: FanOutSource, priority: PriorityClass | null, replay: boolean): Promise<FanOutResult> {
  const release: ReleaseSource = { sourceType: source.sourceType, sourceId: source.sourceId, priority };
  const result = await fanOut(deps.db, source, deps.config.FANOUT_BATCH_SIZE, (job, kind) => releaseWrittenBatch(deps, release, job.batchNo, kind).then(() => undefined));
  if (result.stopped) deps.metrics.deliveries.inc({ status: 'SKIPPED', skip_reason: 'STOPPED' }, result.stopped);
  if (replay) await ensureChainHeads(deps, release);
  return result;
}
