import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { signPayload } from '@renotify/messenger';
import { createTestServices, waitFor, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from '../index.js';

const auth = { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' };
const PAGE = '515151';
const APP_SECRET = 'outage-app-secret';

/** A port nothing listens on: bound once by us, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Probe {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

const webhookBody = JSON.stringify({ object: 'page', entry: [{ id: PAGE, time: 1, messaging: [] }] });
const webhook: Probe = {
  method: 'POST',
  path: '/webhooks/messenger',
  body: webhookBody,
  headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(webhookBody, APP_SECRET) },
};

async function call(ingest: RunningIngest, probe: Probe) {
  const started = Date.now();
  const response = await fetch(`${ingest.url}${probe.path}`, {
    method: probe.method,
    headers: probe.headers ?? auth,
    ...(probe.body !== undefined && { body: typeof probe.body === 'string' ? probe.body : JSON.stringify(probe.body) }),
  });
  const text = await response.text();
  return { status: response.status, retryAfter: response.headers.get('retry-after'), text, ms: Date.now() - started };
}

describe('outages answer 503 with Retry-After, never 500', () => {
  let services: TestServices;

  beforeAll(async () => {
    services = await createTestServices('ingestoutage');
  });
  afterAll(async () => {
    await services?.cleanup();
  });

  it('Postgres unreachable: every route that reads or writes it answers 503 storage_unavailable', async () => {
    const ingest = await startIngest(loadIngestConfig({ ...services.env, DATABASE_URL: `postgresql://postgres@127.0.0.1:${await closedPort()}/none` }));
    try {
      const probes: Probe[] = [
        { method: 'POST', path: '/v1/events', body: { id: 'e1', type: 'custom', pageId: PAGE, topic: 't', text: 'x' } },
        { method: 'GET', path: '/v1/pages' },
        { method: 'GET', path: `/v1/pages/${PAGE}` },
        { method: 'POST', path: '/v1/pages', body: { id: 'p9', name: 'n', accessToken: 'a', appSecret: 's' } },
        { method: 'GET', path: '/v1/events/e1' },
        { method: 'GET', path: `/v1/pages/${PAGE}/optins` },
        { method: 'GET', path: '/v1/dead-letters' },
        { method: 'GET', path: '/v1/campaigns' },
        { method: 'POST', path: '/v1/optin-requests', body: { pageId: PAGE, psid: 'u1', kind: 'one_time', topic: 't', title: 'Hi' } },
        { method: 'POST', path: `/v1/pages/${PAGE}/reconcile` },
        webhook,
      ];
      const answers = [];
      for (const probe of probes) answers.push({ probe: `${probe.method} ${probe.path}`, ...(await call(ingest, probe)) });
      for (const answer of answers) {
        expect({ probe: answer.probe, status: answer.status, retryAfter: answer.retryAfter }).toEqual({ probe: answer.probe, status: 503, retryAfter: '1' });
        expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'storage_unavailable', retryable: true } });
      }
    } finally {
      await ingest.close();
    }
  });

  describe('Redis killed while running', () => {
    let redis: ChildProcess;
    let ingest: RunningIngest;

    beforeAll(async () => {
      const port = await closedPort();
      redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      ingest = await startIngest(loadIngestConfig({ ...services.env, REDIS_URL: `redis://127.0.0.1:${port}` }));
      await waitFor(async () => (await fetch(`${ingest.url}/readyz`)).status === 200 || undefined, { what: 'private redis-server' });
      expect((await call(ingest, { method: 'POST', path: '/v1/pages', body: { id: PAGE, name: 'Outage', accessToken: 'a', appSecret: APP_SECRET } })).status).toBe(201);
      const campaign = await call(ingest, { method: 'POST', path: '/v1/campaigns', body: { pageId: PAGE, name: 'c', topic: 't', message: 'Hello', schedule: { localTime: '09:00' } } });
      expect(campaign.status).toBe(201);
      (globalThis as { campaignId?: string }).campaignId = (JSON.parse(campaign.text) as { id: string }).id;
      redis.kill('SIGKILL');
      await new Promise((resolve) => redis.once('exit', resolve));
    });
    afterAll(async () => {
      await ingest?.close();
      if (redis.exitCode === null) redis.kill('SIGKILL');
    });

    it('routes that need Redis answer 503 queue_unavailable within a few seconds; a webhook is stored and acknowledged', async () => {
      const campaignId = (globalThis as { campaignId?: string }).campaignId as string;
      const probes: Probe[] = [
        { method: 'POST', path: '/v1/events', body: { id: 'e2', type: 'custom', pageId: PAGE, topic: 't', text: 'x' } },
        { method: 'POST', path: `/v1/campaigns/${campaignId}/run`, body: {} },
        { method: 'POST', path: '/v1/dead-letters/redrive', body: { all: true } },
      ];
      for (const probe of probes) {
        const answer = await call(ingest, probe);
        expect({ probe: probe.path, status: answer.status, retryAfter: answer.retryAfter }).toEqual({ probe: probe.path, status: 503, retryAfter: '1' });
        expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'queue_unavailable', retryable: true } });
        expect(answer.ms).toBeLessThan(6_000);
      }
      // Postgres-only routes keep working.
      expect((await call(ingest, { method: 'GET', path: '/v1/pages' })).status).toBe(200);
      // Meta's webhook: durable in Postgres before the 200; the worker's sweeper enqueues it later.
      expect((await call(ingest, webhook)).status).toBe(200);
      expect((await call(ingest, { method: 'GET', path: '/readyz' })).status).toBe(503);
    });
  });
});
