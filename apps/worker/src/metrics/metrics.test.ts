import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, MetricName } from '@renotify/observability';
import { createQueues, createRedis, QueueName, type Queues } from '@renotify/queue';
import { createTestRedis, waitFor, type TestRedis } from '@renotify/testing';
import type { Redis } from 'ioredis';
import { sampleValue, scrape } from '../test-support/prometheus.js';
import { allFinal, deliveryCounts, seedTokens, startStack, TEST_PAGE, type Stack } from '../test-support/stack.js';
import { BacklogSampler, backlogKeys, countJobs, readBacklogSnapshot } from './backlog.js';
import { WorkerRoute } from './routes.js';

const silent = createLogger({ name: 'metrics-test', level: 'silent' });

async function postAndSettle(stack: Stack, event: Record<string, unknown>) {
  const posted = await stack.api('POST', '/v1/events', event);
  expect(posted.status).toBe(202);
  await waitFor(() => allFinal(stack.db, String(event.id)), { timeoutMs: 20_000, what: `deliveries of ${String(event.id)}` });
  return deliveryCounts(stack.db, String(event.id));
}

const backInStock = (id: string, productId: string) => ({ id, type: 'back_in_stock', pageId: TEST_PAGE.id, productId });

describe('metrics after a real pipeline run', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack('metrics', { METRICS_BACKLOG_INTERVAL_MS: '200' });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('counts ingested events, deliveries by status and skip reason, Send API latency and errors, and rate-limiter waits', async () => {
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:m1', count: 3, psidPrefix: 'm1-' });
    expect(await postAndSettle(stack, backInStock('m-sent', 'm1'))).toEqual({ SENT: 3 });

    const deals = await seedTokens(stack, { kind: 'RECURRING', topic: 'metrics-deals', count: 2, psidPrefix: 'md-' });
    await stack.db.pool.query(`UPDATE "OptIn" SET "expiresAt" = now() - interval '1 hour' WHERE id = $1`, [deals[0]!.optInId]);
    expect(await postAndSettle(stack, { id: 'm-deal', type: 'custom', pageId: TEST_PAGE.id, topic: 'metrics-deals', text: 'Deal' })).toEqual({
      SENT: 1,
      'SKIPPED:TOKEN_EXPIRED': 1,
    });

    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:m2', count: 2, psidPrefix: 'm2-' });
    await stack.control('PUT', `/pages/${TEST_PAGE.id}/faults`, { errors: [{ code: 10, subcode: 2018278, rate: 1 }] });
    try {
      expect(await postAndSettle(stack, backInStock('m-failed', 'm2'))).toEqual({ FAILED: 2 });
    } finally {
      await stack.control('PUT', `/pages/${TEST_PAGE.id}/faults`, {});
    }

    // Two sends per second for this Page: the rest of the batch waits on the shared token bucket.
    await stack.db.pool.query(`UPDATE "Page" SET "sendRatePerSec" = 2 WHERE id = $1`, [TEST_PAGE.id]);
    try {
      await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:m3', count: 4, psidPrefix: 'm3-' });
      expect(await postAndSettle(stack, backInStock('m-slow', 'm3'))).toEqual({ SENT: 4 });
    } finally {
      await stack.db.pool.query(`UPDATE "Page" SET "sendRatePerSec" = 100000 WHERE id = $1`, [TEST_PAGE.id]);
    }
    const duplicate = await stack.api('POST', '/v1/events', backInStock('m-sent', 'm1'));
    expect(duplicate.status).toBe(202);

    const worker = await scrape(stack.worker!.url);
    expect(sampleValue(worker, MetricName.deliveries, { status: 'SENT', skip_reason: '' })).toBe(8);
    expect(sampleValue(worker, MetricName.deliveries, { status: 'SKIPPED', skip_reason: 'TOKEN_EXPIRED' })).toBe(1);
    expect(sampleValue(worker, MetricName.deliveries, { status: 'FAILED', skip_reason: '' })).toBe(2);
    expect(sampleValue(worker, MetricName.deliveries, { status: 'DEAD' })).toBe(0);
    expect(sampleValue(worker, `${MetricName.sendApiDuration}_count`, { outcome: 'ok' })).toBe(8);
    expect(sampleValue(worker, `${MetricName.sendApiDuration}_count`, { outcome: 'error' })).toBe(2);
    expect(sampleValue(worker, `${MetricName.sendApiDuration}_bucket`, { outcome: 'ok', le: '+Inf' })).toBe(8);
    expect(sampleValue(worker, `${MetricName.sendApiDuration}_sum`, { outcome: 'ok' })).toBeGreaterThan(0);
    const errors = worker.filter((sample) => sample.name === MetricName.sendApiErrors);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ labels: { code: '10', service: 'worker' }, value: 2 });
    expect(errors[0]!.labels.kind).toMatch(/^[a-z_]+$/);
    expect(sampleValue(worker, MetricName.rateLimiterWaits)).toBeGreaterThanOrEqual(1);
    expect(sampleValue(worker, MetricName.rateLimiterWaitSeconds)).toBeGreaterThan(0);
    expect(worker.some((sample) => sample.name.startsWith('renotify_process_'))).toBe(true);

    const ingest = await scrape(stack.ingest.url);
    expect(sampleValue(ingest, MetricName.eventsIngested, { type: 'back_in_stock', result: 'accepted' })).toBe(3);
    expect(sampleValue(ingest, MetricName.eventsIngested, { type: 'custom', result: 'accepted' })).toBe(1);
    expect(sampleValue(ingest, MetricName.eventsIngested, { type: 'back_in_stock', result: 'duplicate' })).toBe(1);
    // Each app has its own registry: the worker's counters are not in the ingest's exposition.
    expect(ingest.some((sample) => sample.name === MetricName.deliveries)).toBe(false);
    expect(ingest.every((sample) => sample.labels.service === 'ingest')).toBe(true);
  });

  it('counts webhook requests by kind and verdict on the ingest', async () => {
    const refused = await fetch(`${stack.ingest.url}/webhooks/messenger?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1`);
    expect(refused.status).toBe(403);
    const unsigned = await fetch(`${stack.ingest.url}/webhooks/messenger`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ object: 'page', entry: [{ id: TEST_PAGE.id }] }),
    });
    expect(unsigned.status).toBe(401);
    const ingest = await scrape(stack.ingest.url);
    expect(sampleValue(ingest, MetricName.webhooksReceived, { kind: 'verification', verdict: 'verification_refused' })).toBe(1);
    expect(sampleValue(ingest, MetricName.webhooksReceived, { kind: 'callback', verdict: 'invalid_signature' })).toBe(1);
  });

  it('exports the shared backlog (waiting + prioritized + delayed) per queue on /metrics and /metrics/backlog', async () => {
    await stack.ingest.deps.queues.events.add('fanout', { eventId: 'not-yet' }, { jobId: 'metrics-delayed', delay: 3_600_000 });
    const body = await waitFor(
      async () => {
        const response = await fetch(`${stack.worker!.url}${WorkerRoute.backlog}`);
        const json = (await response.json()) as { backlog: number; queues: Record<string, number>; states: Record<string, Record<string, number>>; ageMs: number };
        return json.states.events?.delayed === 1 ? json : null;
      },
      { what: 'the delayed job in the backlog sample' },
    );
    expect(Object.keys(body.queues).sort()).toEqual(Object.values(QueueName).sort());
    expect(body.backlog).toBe(Object.values(body.queues).reduce((sum, n) => sum + n, 0));
    expect(body.queues.events).toBe(1);
    expect(body.ageMs).toBeLessThan(5_000);

    const worker = await scrape(stack.worker!.url);
    expect(sampleValue(worker, MetricName.queueBacklog, { queue: 'events' })).toBe(1);
    expect(sampleValue(worker, MetricName.queueJobs, { queue: 'events', state: 'delayed' })).toBe(1);
    for (const queue of Object.values(QueueName)) {
      expect(worker.some((sample) => sample.name === MetricName.queueBacklog && sample.labels.queue === queue)).toBe(true);
    }
    expect(sampleValue(worker, MetricName.queueBacklogAge)).toBeLessThan(5);
  });
});

describe('backlog sampler', () => {
  let redisInfo: TestRedis;
  let redis: Redis;
  let queues: Queues;

  beforeAll(async () => {
    redisInfo = await createTestRedis('backlog');
    redis = createRedis(redisInfo.url, 'worker');
    queues = createQueues(redis, redisInfo.prefix);
  });
  afterAll(async () => {
    await queues?.close();
    await redis?.quit();
    await redisInfo?.cleanup();
  });

  it('counts waiting, prioritized and delayed jobs (the wait list alone misses the last two)', async () => {
    await queues.campaigns.add('a', {});
    await queues.campaigns.add('b', {}, { priority: 5 });
    await queues.campaigns.add('c', {}, { priority: 1 });
    await queues.campaigns.add('d', {}, { delay: 60_000 });
    const snapshot = await countJobs(queues);
    expect(snapshot.queues.campaigns).toEqual({ waiting: 1, prioritized: 2, delayed: 1, active: 0, failed: 0 });
    expect(await redis.llen(`${redisInfo.prefix}:campaigns:wait`)).toBe(1);
    expect(snapshot.queues.deliveries).toEqual({ waiting: 0, prioritized: 0, delayed: 0, active: 0, failed: 0 });
  });

  it('lets exactly one of many workers sample per interval, and readers never count', async () => {
    const samplers = Array.from({ length: 5 }, () => new BacklogSampler({ redis, queues, prefix: redisInfo.prefix, intervalMs: 60_000, logger: silent }));
    const won = await Promise.all(samplers.map((sampler) => sampler.tick()));
    expect(won.filter(Boolean)).toHaveLength(1);
    const first = await readBacklogSnapshot(redis, redisInfo.prefix);
    expect(first?.queues.campaigns?.prioritized).toBe(2);

    // A new job is invisible until the next interval's sample: reads return the stored sample.
    await queues.campaigns.add('e', {});
    for (const sampler of samplers) expect(await sampler.read()).toEqual(first);
    expect(await samplers[0]!.tick()).toBe(false);

    await redis.del(backlogKeys(redisInfo.prefix).lock);
    expect(await samplers[3]!.tick()).toBe(true);
    expect((await samplers[1]!.read()).queues.campaigns?.waiting).toBe(2);
  });

  it('ignores a sample it cannot parse', async () => {
    await redis.set(backlogKeys(redisInfo.prefix).sample, '{"queues":"nope"}');
    expect(await readBacklogSnapshot(redis, redisInfo.prefix)).toBeNull();
    await redis.del(backlogKeys(redisInfo.prefix).lock);
    const sampler = new BacklogSampler({ redis, queues, prefix: redisInfo.prefix, intervalMs: 60_000, logger: silent });
    expect((await sampler.read()).queues.campaigns?.waiting).toBe(2);
  });
});
