import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '@renotify/config';
import { chainHeads, fanOut } from '@renotify/db';
import { createLogger } from '@renotify/observability';
import { dispatchJobId, queueDispatchBatch } from '@renotify/queue';
import { closeWorkerDeps, createWorkerDeps, type WorkerDeps } from '../../deps.js';
import { seedTokens, startStack, TEST_PAGE, type Stack } from '../../test-support/stack.js';
import { giveHeadsLiveJobs, type ReleaseSource } from './release.js';

// The recovery side of the progressive release (the sweeper, a replay): its view of the chain heads is read from
// Postgres before it looks at Redis, so a batch may finish in between. Real Postgres and Redis, no worker running.

describe('chain heads given live jobs (sweeper and replay)', () => {
  let stack: Stack;
  let deps: WorkerDeps;

  beforeAll(async () => {
    stack = await startStack('release', {}, { withWorker: false });
    deps = createWorkerDeps(loadWorkerConfig({ ...stack.env, DISPATCH_WINDOW: '1' }), createLogger({ name: 'release-test', level: 'silent' }));
  });
  afterAll(async () => {
    if (deps) await closeWorkerDeps(deps);
    await stack?.close();
  });

  it('does not re-queue a head that finished after the heads were read: its chain keeps one job', async () => {
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:heads', count: 4, psidPrefix: 'heads-' });
    const sourceId = 'heads-1';
    const source: ReleaseSource = { sourceType: 'EVENT', sourceId, priority: null };
    const queue = deps.queues.deliveries;
    // Two batches of two; window 1, so one chain (0 → 1) and one job at a time.
    await fanOut(deps.db, { sourceType: 'EVENT', sourceId, pageId: TEST_PAGE.id, topics: ['back_in_stock:heads'], kinds: ['ONE_TIME'] }, 2, async () => {});
    const now = new Date(Date.now() + 1_000);
    const staleHeads = await chainHeads(deps.db, sourceId, 1, now);
    expect(staleHeads.map((head) => head.batchNo)).toEqual([0]);

    // Meanwhile batch 0's job sent its rows, queued its successor and completed (removeOnComplete: its job is gone).
    await deps.db.pool.query(`UPDATE "Delivery" SET status = 'SENT', "finishedAt" = now() WHERE "sourceId" = $1 AND "batchNo" = 0`, [sourceId]);
    await queueDispatchBatch(queue, source, { batchNo: 1, kind: 'ONE_TIME' });

    expect(await giveHeadsLiveJobs(deps, source, staleHeads, now)).toBe(0);
    const batch0 = dispatchJobId({ sourceType: 'EVENT', sourceId, batchNo: 0 });
    expect(await queue.getJobState(batch0)).toBe('unknown');
    const jobs = await queue.getJobs(['wait', 'prioritized', 'delayed', 'active']);
    expect(jobs.filter((job) => job.data.sourceId === sourceId).map((job) => job.data.batchNo)).toEqual([1]);

    // A head that is still due and has lost its job (Redis lost it, a crash) is queued again.
    expect(await giveHeadsLiveJobs(deps, source, [{ batchNo: 1, kind: 'ONE_TIME' }], now)).toBe(0); // live: left alone
    await queue.remove(dispatchJobId({ sourceType: 'EVENT', sourceId, batchNo: 1 }));
    expect(await giveHeadsLiveJobs(deps, source, [{ batchNo: 1, kind: 'ONE_TIME' }], now)).toBe(1);
  });
});
