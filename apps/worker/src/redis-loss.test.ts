import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '@renotify/queue';
import { waitFor } from '@renotify/testing';
import { SWEEP_JOB } from './queues/deliveries/sweeper.js';
import { allFinal, deliveryCounts, seedTokens, startStack, TEST_PAGE, type Stack } from './test-support/stack.js';
import { PrivateRedis } from './test-support/private-redis.js';

const TOKENS = 3_000;

const probe = async (url: string) => {
  const started = Date.now();
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  const json = response.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as Record<string, unknown>) : {};
  return { status: response.status, ms: Date.now() - started, retryAfter: response.headers.get('retry-after'), json };
};

/**
 * Issue #10.3 and #10.9: a Redis without persistence is SIGKILLed in the middle of a fan-out and restarted empty
 * on the same port. The worker is NOT restarted: its scheduler guard must put the sweeper back, the sweeper must
 * re-queue what the loss orphaned, and the probes must tell the truth meanwhile.
 */
describe('recovery from a Redis that lost its data, without restarting the worker', () => {
  let redis: PrivateRedis;
  let stack: Stack;
  const sweeperInstalled = async () => Boolean(await stack.worker!.deps.queues.deliveries.getJobScheduler(SWEEP_JOB).catch(() => undefined));

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    stack = await startStack('redisloss', {
      REDIS_URL: redis.url,
      SWEEP_INTERVAL_MS: '500',
      STALE_SENDING_MS: '2000',
      LIVENESS_STALE_MS: '8000',
      FANOUT_BATCH_SIZE: '100',
      SEND_CONCURRENCY: '16',
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await redis?.kill();
  });

  it('re-creates a sweeper that vanished from a live Redis (FLUSHALL) on its next check', async () => {
    expect(await sweeperInstalled()).toBe(true);
    const admin = createRedis(redis.url, 'producer');
    try {
      await admin.flushall();
    } finally {
      admin.disconnect();
    }
    expect(await sweeperInstalled()).toBe(false);
    await waitFor(sweeperInstalled, { timeoutMs: 5_000, what: 'the sweeper to be re-created' });
    expect((await probe(`${stack.worker!.url}/readyz`)).json).toMatchObject({ status: 'ready', checks: { redis: true, postgres: true, schedulers: true } });
  });

  it(`finishes a ${TOKENS}-delivery fan-out after kill -9 of Redis mid-run; probes and /metrics answer 503 within 2 s meanwhile`, async () => {
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:redisloss', count: TOKENS, psidPrefix: 'rl-' });
    // Slow Meta down a little so the kill lands while batches are still queued.
    await stack.control('PUT', `/pages/${TEST_PAGE.id}/faults`, { latencyMs: 5, latencyJitterMs: 5 });
    const posted = await stack.api('POST', '/v1/events', { id: 'redisloss-1', type: 'back_in_stock', pageId: TEST_PAGE.id, productId: 'redisloss' });
    expect(posted.status).toBe(202);
    const eventStatus = async () => (await stack.db.pool.query(`SELECT status FROM "Event" WHERE id = 'redisloss-1'`)).rows[0]?.status as string | undefined;
    // As early as possible: while the event is still being fanned out and nearly every batch is still queued.
    await waitFor(async () => (await eventStatus()) !== 'ACCEPTED', { timeoutMs: 60_000, intervalMs: 2, what: 'the fan-out to start' });

    await redis.kill();
    const atKill: Record<string, unknown> = { event: await eventStatus(), ...(await deliveryCounts(stack.db, 'redisloss-1')) };
    expect(atKill.SENT ?? 0).toBeLessThan(TOKENS); // the kill really happened mid-run

    // Redis is down: scrapes must not hang, and readiness must go red (Redis, and the schedulers it cannot see).
    for (const path of ['/metrics', '/metrics/backlog']) {
      const scraped = await probe(`${stack.worker!.url}${path}`);
      expect(scraped, path).toMatchObject({ status: 503, retryAfter: expect.any(String) });
      expect(scraped.ms, path).toBeLessThan(2_000);
    }
    const notReady = await waitFor(async () => {
      const ready = await probe(`${stack.worker!.url}/readyz`);
      return ready.status === 503 && (ready.json.checks as Record<string, boolean>).schedulers === false ? ready : null;
    }, { timeoutMs: 10_000, intervalMs: 200, what: '/readyz to report the schedulers unseen' });
    expect(notReady.json).toMatchObject({ checks: { redis: false, schedulers: false } });
    expect((await probe(`${stack.worker!.url}/healthz`)).status).toBe(503);

    await redis.restart(); // same port, no data: every job, scheduler and rate-limit key is gone
    await waitFor(sweeperInstalled, { timeoutMs: 10_000, intervalMs: 100, what: 'the sweeper back after the restart' });
    await waitFor(() => allFinal(stack.db, 'redisloss-1'), { timeoutMs: 120_000, intervalMs: 250, what: 'every delivery final after the Redis loss' });
    await waitFor(async () => (await eventStatus()) === 'FANNED_OUT', { timeoutMs: 60_000, intervalMs: 250, what: 'the event to end fanned out' });
    const counts = await deliveryCounts(stack.db, 'redisloss-1');
    console.log(`redis-loss test: at kill ${JSON.stringify(atKill)}; after recovery ${JSON.stringify(counts)}`);
    expect(counts).toEqual({ SENT: TOKENS });

    await waitFor(async () => (await probe(`${stack.worker!.url}/readyz`)).status === 200, { timeoutMs: 15_000, intervalMs: 200, what: '/readyz green again' });
    expect((await probe(`${stack.worker!.url}/healthz`)).json).toMatchObject({ status: 'ok', alive: true, schedulers: { ok: true } });
    expect((await probe(`${stack.worker!.url}/metrics`)).status).toBe(200);
  }, 240_000);
});
