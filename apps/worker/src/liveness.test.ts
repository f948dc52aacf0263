import { Worker, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '@renotify/config';
import { createQueues, createRedis, QueueName, type Queues } from '@renotify/queue';
import { createTestRedis, createTestServices, waitFor, type TestServices } from '@renotify/testing';
import type { Redis } from 'ioredis';
import { bullmqHeartbeatProbe, Liveness } from './liveness.js';
import type { ProcessorModule } from './queues/index.js';
import { PrivateRedis } from './test-support/private-redis.js';
import { startWorker, type RunningWorker } from './server.js';

const health = async (worker: RunningWorker, path: '/healthz' | '/readyz') => {
  const response = await fetch(`${worker.url}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('Liveness', () => {
  it('goes stale when the probe keeps failing and recovers on the next good round', async () => {
    let now = 0;
    const liveness = new Liveness(1_000, () => now);
    expect(liveness.status()).toEqual({ alive: true, lastSignalAgoMs: 0 });
    now = 1_001;
    expect(liveness.status().alive).toBe(false);
    liveness.touch();
    expect(liveness.status()).toEqual({ alive: true, lastSignalAgoMs: 0 });
  });

  it('counts a probe round that hangs as failed (a dead socket never answers)', async () => {
    const liveness = new Liveness(150);
    let rounds = 0;
    liveness.startHeartbeat(() => {
      rounds++;
      return new Promise<boolean>(() => undefined);
    }, 20);
    try {
      await waitFor(() => !liveness.status().alive, { timeoutMs: 2_000, what: 'stale' });
      // One round at a time: the hung round is not joined by a pile of new ones.
      expect(rounds).toBeLessThanOrEqual(2);
    } finally {
      liveness.stop();
    }
  });
});

describe('bullmqHeartbeatProbe', () => {
  it('answers through the worker connections, and fails once a worker stopped fetching', async () => {
    const redisInfo = await createTestRedis('probe');
    const connection = createRedis(redisInfo.url, 'worker');
    const worker = new Worker('probe', async () => null, { connection, prefix: redisInfo.prefix });
    try {
      await worker.waitUntilReady();
      const probe = bullmqHeartbeatProbe([worker]);
      const started = Date.now();
      expect(await probe()).toBe(true);
      // The blocking client answers after its current BZPOPMIN (drainDelay 5 s at most).
      expect(Date.now() - started).toBeLessThan(7_000);
      await worker.close();
      expect(await probe()).toBe(false);
    } finally {
      await worker.close();
      connection.disconnect();
      await redisInfo.cleanup();
    }
  });
});

describe('worker liveness across a Redis restart', () => {
  const STALE_MS = 10_000;
  let services: TestServices;
  let redisServer: PrivateRedis;
  let worker: RunningWorker;
  let producerRedis: Redis;
  let producer: Queues;
  const processed: string[] = [];

  // Only a probe processor on the campaigns queue: the test is about the fetch loop, not the pipeline.
  const probeModule: ProcessorModule = {
    queue: QueueName.campaigns,
    create: () => async (job: Job) => {
      processed.push(String(job.id));
      return null;
    },
  };

  beforeAll(async () => {
    services = await createTestServices('liveness');
    redisServer = await PrivateRedis.start();
    const env = { ...services.env, REDIS_URL: redisServer.url, LIVENESS_STALE_MS: String(STALE_MS) };
    worker = await startWorker(loadWorkerConfig(env), undefined, [probeModule]);
    producerRedis = createRedis(env.REDIS_URL, 'worker');
    producer = createQueues(producerRedis, services.env.QUEUE_PREFIX!);
  });

  afterAll(async () => {
    await worker?.close();
    await producer?.close();
    producerRedis?.disconnect();
    if (redisServer) await redisServer.kill();
    await services?.cleanup();
  });

  it('reports 503 within the stale window while Redis is down, then resumes fetching and reports 200 on its own', async () => {
    await producer.campaigns.add('probe', {}, { jobId: 'before' });
    await waitFor(() => processed.includes('before'), { what: 'job before the outage' });
    expect((await health(worker, '/healthz')).status).toBe(200);
    expect((await health(worker, '/readyz')).status).toBe(200);

    await redisServer.kill();
    const killedAt = Date.now();
    const stale = await waitFor(async () => {
      const result = await health(worker, '/healthz');
      return result.status === 503 ? result : null;
    }, { timeoutMs: STALE_MS * 2, intervalMs: 200, what: '/healthz to fail' });
    // The last signal can be at most one beat (STALE_MS / 4) before the kill.
    expect(Date.now() - killedAt).toBeLessThanOrEqual(STALE_MS + STALE_MS / 4 + 2_000);
    expect(stale.body).toMatchObject({ status: 'stale', alive: false });
    const ready = await health(worker, '/readyz');
    expect(ready).toMatchObject({ status: 503, body: { checks: { redis: false, postgres: true } } });

    await redisServer.restart();
    await waitFor(async () => (await health(worker, '/healthz')).status === 200, { timeoutMs: STALE_MS * 2, intervalMs: 200, what: '/healthz to recover' });
    // A fresh Redis (no persistence) knows nothing of the old jobs: a job added now must be fetched.
    await producer.campaigns.add('probe', {}, { jobId: 'after' });
    await waitFor(() => processed.includes('after'), { timeoutMs: 20_000, what: 'job after the restart' });
    expect((await health(worker, '/readyz')).status).toBe(200);
    expect(worker.workers.every((w) => w.isRunning())).toBe(true);
  }, 90_000);
});
