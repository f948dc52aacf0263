import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '@renotify/config';
import { createTestServices, waitFor, type TestServices } from '@renotify/testing';
import { Liveness, startWorker, type ProcessorModule } from './index.js';

describe('worker foundation', () => {
  let services: TestServices;

  beforeAll(async () => {
    services = await createTestServices('workerfoundation');
  });
  afterAll(async () => {
    await services?.cleanup();
  });

  it('serves liveness and readiness', async () => {
    const worker = await startWorker(loadWorkerConfig(services.env), undefined, []);
    try {
      const health = await fetch(`${worker.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok', alive: true });
      expect(await (await fetch(`${worker.url}/readyz`)).json()).toEqual({ status: 'ready', checks: { redis: true, postgres: true } });
    } finally {
      await worker.close();
    }
  });

  it('finishes the in-flight job before closing', async () => {
    const finished: string[] = [];
    let started = false;
    const slow: ProcessorModule = {
      queue: 'events',
      create: () => async (job) => {
        started = true;
        await new Promise((resolve) => setTimeout(resolve, 300));
        finished.push(String(job.id));
      },
    };
    const worker = await startWorker(loadWorkerConfig(services.env), undefined, [slow]);
    const queue = new Queue('events', { connection: { url: services.redis.url }, prefix: services.redis.prefix });
    try {
      await queue.add('probe', {}, { jobId: 'in-flight' });
      await waitFor(() => started, { what: 'job to start' });
      await worker.close();
      expect(finished).toEqual(['in-flight']);
      expect(await queue.getJobCounts('active', 'wait', 'failed')).toEqual({ active: 0, wait: 0, failed: 0 });
    } finally {
      await queue.close();
    }
  });
});

describe('Liveness', () => {
  it('goes stale when nothing touches it, and recovers on a signal', () => {
    let now = 1_000;
    const liveness = new Liveness(5_000, () => now);
    liveness.touch();
    now += 4_999;
    expect(liveness.status().alive).toBe(true);
    now += 2;
    expect(liveness.status()).toEqual({ alive: false, lastSignalAgoMs: 5_001 });
    liveness.touch();
    expect(liveness.status().alive).toBe(true);
  });
});
