import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '@renotify/config';
import { createPage } from '@renotify/db';
import { createLogger } from '@renotify/observability';
import { DISPATCH_JOB } from '@renotify/queue';
import { waitFor } from '@renotify/testing';
import { closeWorkerDeps, createWorkerDeps } from '../../deps.js';
import { allFinal, deliveryCounts, messagesByPsid, seedTokens, startStack, TEST_PAGE, type Stack } from '../../test-support/stack.js';
import { AGING_MS, sweep } from './sweeper.js';

const workerMain = fileURLToPath(new URL('../../main.ts', import.meta.url));
const SMALL_PAGE = { id: '200000000000002', name: 'Small Shop', accessToken: 'small-page-access-token', appSecret: 'small-app-secret' };

/** A real worker process (the entry point production runs), so signals behave as in production. */
const spawned: ChildProcess[] = [];
function spawnWorker(stack: Stack, env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', workerMain], {
    env: { ...process.env, ...stack.env, LOG_LEVEL: 'warn', WORKER_PORT: '0', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  spawned.push(child);
  return child;
}

async function setRate(stack: Stack, pageId: string, perSecond: number) {
  await stack.db.pool.query('UPDATE "Page" SET "sendRatePerSec" = $2 WHERE id = $1', [pageId, perSecond]);
}

async function sandboxStats(stack: Stack, pageId: string): Promise<{ accepted: number; rejected: Record<string, number> }> {
  return (await stack.control('GET', '/stats')).pages[pageId];
}

async function statusCounts(stack: Stack, sourceId: string) {
  const { rows } = await stack.db.pool.query<{ sent: number; open: number; sending: number }>(
    `SELECT count(*) FILTER (WHERE status = 'SENT')::int AS sent, count(*) FILTER (WHERE status IN ('PENDING', 'SENDING'))::int AS open,
            count(*) FILTER (WHERE status = 'SENDING')::int AS sending
     FROM "Delivery" WHERE "sourceId" = $1`,
    [sourceId],
  );
  return rows[0]!;
}

const postEvent = (stack: Stack, id: string, pageId: string, productId: string, extra: Record<string, unknown> = {}) =>
  stack.api('POST', '/v1/events', { id, type: 'back_in_stock', pageId, productId, ...extra });

describe('fair dispatch (progressive release, no sleeping in slots, priority classes)', () => {
  let stack: Stack;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    stack = await startStack('fairness', {}, { withWorker: false });
    await stack.control('POST', '/pages', { ...SMALL_PAGE, sendRatePerSecond: null });
    await createPage(stack.db, stack.ingest.deps.secrets, { ...SMALL_PAGE, sendRatePerSec: 100 });
  });
  afterAll(async () => {
    // Every worker process this file started, whatever the test outcome: none may outlive the run.
    for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await stack?.close();
  });

  it('ages a lower-class batch that waited too long to high class (no class starves)', async () => {
    const deps = createWorkerDeps(loadWorkerConfig(stack.env), createLogger({ name: 'aging-test', level: 'silent' }));
    try {
      const queue = deps.queues.deliveries;
      await queue.add(DISPATCH_JOB, { sourceType: 'CAMPAIGN_RUN', sourceId: 'aging-low', batchNo: 0 }, { jobId: 'aging-low', priority: 3 });
      await queue.add(DISPATCH_JOB, { sourceType: 'EVENT', sourceId: 'aging-high', batchNo: 0 }, { jobId: 'aging-high', priority: 1 });
      expect((await sweep(deps, new Date(Date.now() + 5_000))).agedJobs).toBe(0); // not waited long enough yet
      expect((await sweep(deps, new Date(Date.now() + AGING_MS + 1_000))).agedJobs).toBe(1);
      expect((await queue.getJob('aging-low'))!.priority).toBe(1);
      await queue.remove('aging-low');
      await queue.remove('aging-high');
    } finally {
      await closeWorkerDeps(deps);
    }
  });

  it("a small Page's single notification goes out while a big Page's rate-limited backlog is still being worked", async () => {
    await setRate(stack, TEST_PAGE.id, 40);
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:big1', count: 600, psidPrefix: 'big1-' });
    const [small] = await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:small1', count: 1, psidPrefix: 'small1-', pageId: SMALL_PAGE.id });
    // One slot only: the old design slept in it while the big Page's bucket refilled, so nothing else could run.
    await stack.startWorker({ WORKER_CONCURRENCY: '1' });
    expect((await postEvent(stack, 'big-1', TEST_PAGE.id, 'big1')).status).toBe(202);
    await waitFor(async () => (await statusCounts(stack, 'big-1')).sent >= 80, { timeoutMs: 20_000, what: 'the big send to be under way' });
    const posted = Date.now();
    expect((await postEvent(stack, 'small-1', SMALL_PAGE.id, 'small1')).status).toBe(202);
    await waitFor(async () => (await messagesByPsid(stack, SMALL_PAGE.id)).has(small!.psid), { timeoutMs: 10_000, intervalMs: 10, what: "the small Page's send" });
    const waitedMs = Date.now() - posted;
    const big = await statusCounts(stack, 'big-1');
    console.log(`small Page sent after ${waitedMs} ms; big Page at that moment: ${big.sent} sent, ${big.open} still open`);
    expect(big.open).toBeGreaterThan(100); // the big backlog is still there
    expect(waitedMs).toBeLessThan(2_000); // and did not hold the small send back
    // The big Page is only waiting for its bucket: its jobs sit in the delayed set, not in a slot.
    const counts = await stack.worker!.deps.queues.deliveries.getJobCounts('active', 'delayed');
    expect(counts.delayed).toBeGreaterThan(0);
    await stack.worker!.close();
    stack.worker = null;
    await setRate(stack, TEST_PAGE.id, 100_000);
    await stack.startWorker();
    await waitFor(() => allFinal(stack.db, 'big-1'), { timeoutMs: 30_000, what: 'the big send to finish' });
    await stack.worker!.close();
    stack.worker = null;
  }, 60_000);

  it('releases a big source progressively: the queue never holds more than its window of batches', async () => {
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:window', count: 3_000, psidPrefix: 'win-' });
    await setRate(stack, TEST_PAGE.id, 100);
    await stack.startWorker({ FANOUT_BATCH_SIZE: '100', DISPATCH_WINDOW: '3' });
    expect((await postEvent(stack, 'window-1', TEST_PAGE.id, 'window')).status).toBe(202);
    await waitFor(async () => (await stack.db.pool.query(`SELECT status FROM "Event" WHERE id = 'window-1'`)).rows[0]?.status === 'FANNED_OUT', { what: 'the fan-out' });
    let most = 0;
    for (let i = 0; i < 20; i++) {
      const jobs = await stack.worker!.deps.queues.deliveries.getJobs(['active', 'wait', 'prioritized', 'delayed']);
      most = Math.max(most, jobs.filter((job) => job.data?.sourceId === 'window-1').length);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // 30 batches written, at most 3 queued or in flight, plus one job finishing while its successor is already queued
    // (a batch queues the next of its chain just before its own job completes).
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(4);
    await setRate(stack, TEST_PAGE.id, 100_000);
    await waitFor(() => allFinal(stack.db, 'window-1'), { timeoutMs: 30_000, what: 'the send to finish' });
    expect(await deliveryCounts(stack.db, 'window-1')).toEqual({ SENT: 3_000 });
    await stack.worker!.close();
    stack.worker = null;
  }, 60_000);

  it("within one Page, an event's one-time notifications go ahead of a campaign run, and the campaign still gets a share", async () => {
    await setRate(stack, TEST_PAGE.id, 50);
    await seedTokens(stack, { kind: 'RECURRING', topic: 'weekly-news', count: 400, psidPrefix: 'camp-' });
    const oneTime = await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:prio', count: 200, psidPrefix: 'prio-' });
    await stack.startWorker({ FANOUT_BATCH_SIZE: '20', DISPATCH_WINDOW: '8' });
    const campaign = await stack.api('POST', '/v1/campaigns', { pageId: TEST_PAGE.id, name: 'News', topic: 'weekly-news', message: { text: 'News' }, schedule: { cron: '0 9 * * 1' } });
    expect(campaign.status).toBe(201);
    const run = await stack.api('POST', `/v1/campaigns/${campaign.body.id}/run`, {});
    const runId = run.body.run.id as string;
    await waitFor(async () => (await statusCounts(stack, runId)).sent >= 50, { timeoutMs: 20_000, what: 'the campaign to be under way' });
    const eventAt = Date.now();
    const campaignBefore = await statusCounts(stack, runId);
    expect((await postEvent(stack, 'prio-1', TEST_PAGE.id, 'prio')).status).toBe(202);
    await waitFor(() => allFinal(stack.db, 'prio-1'), { timeoutMs: 60_000, what: 'the one-time notifications' });
    const eventSeconds = (Date.now() - eventAt) / 1000;
    const campaignDuring = await statusCounts(stack, runId);
    // The Page's sends while the event was open, by source: a share, so a loaded machine (slower overall) does not
    // change it the way it changes a duration.
    const campaignSendsMeanwhile = campaignDuring.sent - campaignBefore.sent;
    const eventShare = 200 / (200 + campaignSendsMeanwhile);
    console.log(`200 one-time sends took ${eventSeconds.toFixed(1)} s at 50/s beside a campaign (campaign meanwhile: ${campaignSendsMeanwhile} sent, ${campaignDuring.open} open; event share ${eventShare.toFixed(2)})`);
    // The event had 8 batches in flight for the campaign's 2: it got about 80 % of the Page's sends.
    expect(eventShare).toBeGreaterThanOrEqual(0.6);
    expect(campaignDuring.open).toBeGreaterThan(0); // the campaign was not done before the event …
    expect(campaignSendsMeanwhile).toBeGreaterThan(0); // … and kept a share meanwhile (no starvation)
    const received = await messagesByPsid(stack);
    expect(oneTime.every((token) => received.get(token.psid) === 1)).toBe(true);
    await setRate(stack, TEST_PAGE.id, 100_000);
    await waitFor(() => allFinal(stack.db, runId), { timeoutMs: 30_000, what: 'the campaign to finish' });
    await stack.worker!.close();
    stack.worker = null;
  }, 120_000);

  it('a Page at 20/s with 3 workers: SENDING is never taken for abandoned — no "already used" refusals, every message id kept, no token invalidated', async () => {
    await setRate(stack, TEST_PAGE.id, 20);
    const tokens = await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:slow', count: 300, psidPrefix: 'slow-' });
    const before = await sandboxStats(stack, TEST_PAGE.id);
    // A stale rule of 3 s: the old design kept whole 500-row batches SENDING for 25 s at this rate.
    const env = { STALE_SENDING_MS: '3000', SWEEP_INTERVAL_MS: '500' };
    for (let i = 0; i < 3; i++) children.push(spawnWorker(stack, env));
    expect((await postEvent(stack, 'slow-1', TEST_PAGE.id, 'slow')).status).toBe(202);
    await waitFor(() => allFinal(stack.db, 'slow-1'), { timeoutMs: 75_000, intervalMs: 200, what: 'every delivery to be final' });
    for (const child of children.splice(0)) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    const after = await sandboxStats(stack, TEST_PAGE.id);
    const refusedMore = Object.values(after.rejected).reduce((a, b) => a + b, 0) - Object.values(before.rejected).reduce((a, b) => a + b, 0);
    expect(refusedMore).toBe(0);
    expect(await deliveryCounts(stack.db, 'slow-1')).toEqual({ SENT: 300 });
    const { rows } = await stack.db.pool.query(
      `SELECT count(*) FILTER (WHERE d."messageId" IS NULL)::int AS "noMid", count(*) FILTER (WHERE o.status <> 'USED')::int AS "notUsed", count(*) FILTER (WHERE d."ambiguousAttempt")::int AS ambiguous
       FROM "Delivery" d JOIN "OptIn" o ON o.id = d."optInId" WHERE d."sourceId" = 'slow-1'`,
    );
    expect(rows[0]).toEqual({ noMid: 0, notUsed: 0, ambiguous: 0 });
    const received = await messagesByPsid(stack);
    expect(tokens.filter((token) => received.get(token.psid) !== 1)).toEqual([]);
  }, 120_000);

  it('SIGKILL of a worker while its batches wait for permits: nothing lost, nothing sent twice', async () => {
    await setRate(stack, TEST_PAGE.id, 25);
    const tokens = await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:killwait', count: 200, psidPrefix: 'kw-' });
    const env = { STALE_SENDING_MS: '3000', SWEEP_INTERVAL_MS: '500', FANOUT_BATCH_SIZE: '50' };
    const first = spawnWorker(stack, env);
    expect((await postEvent(stack, 'killwait-1', TEST_PAGE.id, 'killwait')).status).toBe(202);
    await waitFor(async () => (await statusCounts(stack, 'killwait-1')).sent >= 40, { timeoutMs: 20_000, what: 'the first sends' });
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    expect((await statusCounts(stack, 'killwait-1')).open).toBeGreaterThan(50); // killed mid-send
    const second = spawnWorker(stack, env);
    children.push(second);
    await waitFor(() => allFinal(stack.db, 'killwait-1'), { timeoutMs: 40_000, intervalMs: 200, what: 'every delivery to be final after the restart' });
    expect(await deliveryCounts(stack.db, 'killwait-1')).toEqual({ SENT: 200 });
    const received = await messagesByPsid(stack);
    expect(tokens.filter((token) => received.get(token.psid) !== 1)).toEqual([]);
    second.kill('SIGTERM');
    await new Promise((resolve) => second.once('exit', resolve));
  }, 60_000);

  it('SIGTERM during rate-limited sends exits 0 within the timeout and leaves nothing SENDING', async () => {
    await setRate(stack, TEST_PAGE.id, 20);
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:term', count: 400, psidPrefix: 'term-' });
    const worker = spawnWorker(stack, { SHUTDOWN_TIMEOUT_MS: '5000' });
    expect((await postEvent(stack, 'term-1', TEST_PAGE.id, 'term')).status).toBe(202);
    await waitFor(async () => (await statusCounts(stack, 'term-1')).sent >= 30, { timeoutMs: 20_000, what: 'the first sends' });
    const stoppedAt = Date.now();
    worker.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => worker.once('exit', (exitCode) => resolve(exitCode)));
    expect(code).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    const counts = await statusCounts(stack, 'term-1');
    expect(counts.sending).toBe(0);
    expect(counts.open).toBeGreaterThan(0); // what was not sent waits, PENDING, for the next worker
    await setRate(stack, TEST_PAGE.id, 100_000);
    const next = spawnWorker(stack);
    children.push(next);
    await waitFor(() => allFinal(stack.db, 'term-1'), { timeoutMs: 60_000, intervalMs: 200, what: 'the rest to be sent by the next worker' });
    expect(await deliveryCounts(stack.db, 'term-1')).toEqual({ SENT: 400 });
    next.kill('SIGTERM');
    await new Promise((resolve) => next.once('exit', resolve));
  }, 120_000);
});
