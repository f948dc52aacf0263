import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { signPayload } from '@renotify/messenger';
import type { EventInput } from '@renotify/queue';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from '../index.js';
import { EventIntake, IntakeError } from '../routes/event-intake.js';

const PAGE = '424242';
const APP_SECRET = 'bad-input-app-secret';
const auth = { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' };

interface ErrorBody {
  error: { code: string; message: string; details?: Array<{ path: string; message: string; index?: number }> };
}

describe('bad input is a 4xx and never hurts other requests', () => {
  let services: TestServices;
  let ingest: RunningIngest;

  const post = (path: string, body: unknown, headers: Record<string, string> = auth) =>
    fetch(`${ingest.url}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const get = (path: string) => fetch(`${ingest.url}${path}`, { headers: auth });
  const event = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: 'custom', pageId: PAGE, topic: 'deals', text: 'Sale', ...extra });

  beforeAll(async () => {
    services = await createTestServices('ingestbadinput');
    ingest = await startIngest(loadIngestConfig(services.env));
    const created = await post('/v1/pages', { id: PAGE, name: 'Bad input', accessToken: 'page-access-token', appSecret: APP_SECRET });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  it('refuses NUL and lone surrogates in event strings with 400 naming the field (not a retryable 503)', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [event('nul\u0000id'), 'id'],
      [event('surrogate\uD800id'), 'id'],
      [event('nul-text', { text: 'a\u0000b' }), 'text'],
      [event('nul-topic', { topic: 'deals\u0000' }), 'topic'],
      [{ id: 'nul-message', type: 'back_in_stock', pageId: PAGE, productId: 'sku', message: { text: 'x\u0000' } }, 'message.text'],
      [{ ...event('nul-page'), pageId: `${PAGE}\u0000` }, 'pageId'],
    ];
    for (const [body, path] of cases) {
      const response = await post('/v1/events', body);
      expect(response.status, path).toBe(400);
      const { error } = (await response.json()) as ErrorBody;
      expect(error.code).toBe('invalid_request');
      expect(error.details?.map((detail) => detail.path), path).toContain(path);
    }
    expect((await ingest.deps.db.pool.query(`SELECT count(*)::int AS n FROM "Event"`)).rows[0]?.n).toBe(0);
  });

  it('refuses them in query and path parameters and other bodies, naming the field', async () => {
    const optins = await get(`/v1/pages/${PAGE}/optins?psid=a%00b`);
    expect(optins.status).toBe(400);
    expect(((await optins.json()) as ErrorBody).error.details?.[0]?.path).toBe('psid');
    expect((await get(`/v1/pages/${PAGE}/subscribers/a%00b`)).status).toBe(400);
    expect((await get('/v1/events/a%00b')).status).toBe(400);
    expect((await get(`/v1/pages/a%00b`)).status).toBe(400);
    const redrive = await post('/v1/dead-letters/redrive', { sourceId: 'x\u0000' });
    expect(redrive.status).toBe(400);
    expect(((await redrive.json()) as ErrorBody).error.details?.[0]?.path).toBe('sourceId');
    const page = await post('/v1/pages', { id: 'p2', name: 'N\uDC00', accessToken: 't', appSecret: 's' });
    expect(page.status).toBe(400);
    expect(((await page.json()) as ErrorBody).error.details?.[0]?.path).toBe('name');
  });

  it('refuses cursors that are out of range or malformed with 400', async () => {
    const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const bad of [
      cursor(['0000-01-01T00:00:00.000Z', '00000000-0000-4000-8000-000000000000']),
      cursor(['+275760-09-13T00:00:00.000Z', '00000000-0000-4000-8000-000000000000']),
      cursor(['NaN', '00000000-0000-4000-8000-000000000000']),
      cursor(['2026-01-01T00:00:00.000Z', 'not-a-uuid\u0000']),
      cursor([1, 2]),
      'a%00b',
    ]) {
      const response = await get(`/v1/dead-letters?cursor=${bad}`);
      expect(response.status, bad).toBe(400);
    }
    const eventCursor = Buffer.from('1.------------------------------------').toString('base64url');
    expect((await get(`/v1/events/x?cursor=${eventCursor}`)).status).toBe(400);
  });

  it('one bad request among many concurrent ones fails alone', async () => {
    const valid = Array.from({ length: 60 }, (_, i) => post('/v1/events', event(`concurrent-${i}`)));
    const bad = Array.from({ length: 5 }, (_, i) => post('/v1/events', event(`concurrent-bad-${i}`, { text: 'x\u0000' })));
    const answers = await Promise.all([...valid, ...bad]);
    expect(answers.slice(0, 60).map((response) => response.status)).toEqual(Array(60).fill(202));
    expect(answers.slice(60).map((response) => response.status)).toEqual(Array(5).fill(400));
  });

  it('a merged INSERT that Postgres refuses is retried per request, so only the offending request fails', async () => {
    // Bypasses validation on purpose: the fallback is the second line of defence.
    const intake = new EventIntake({ db: ingest.deps.db, redis: ingest.deps.redis, eventsQueue: ingest.deps.queues.events, maxInFlight: 1 });
    const asEvent = (id: string, text: string) => ({ id, type: 'custom', pageId: PAGE, topic: 'deals', text }) as EventInput;
    const blocker = intake.submit([asEvent('merge-blocker', 'ok')]);
    const merged = [intake.submit([asEvent('merge-a', 'ok')]), intake.submit([asEvent('merge-bad', 'no\u0000')]), intake.submit([asEvent('merge-b', 'ok')])];
    await blocker;
    const [a, bad, b] = await Promise.allSettled(merged);
    expect(a).toEqual({ status: 'fulfilled', value: { accepted: ['merge-a'], duplicates: [] } });
    expect(b).toEqual({ status: 'fulfilled', value: { accepted: ['merge-b'], duplicates: [] } });
    expect(bad?.status).toBe('rejected');
    const reason = (bad as PromiseRejectedResult).reason as IntakeError;
    expect(reason).toBeInstanceOf(IntakeError);
    expect(reason.kind).toBe('invalid');
  });

  it('dead-letters a signed webhook whose strings Postgres cannot store, answers Meta 200, and stores no receipt', async () => {
    const rawBody = JSON.stringify({
      object: 'page',
      entry: [{ id: PAGE, time: Date.now(), messaging: [{ sender: { id: 'psid\u0000x' }, recipient: { id: PAGE }, timestamp: Date.now(), message: { mid: 'm1', text: 'hi\uD800' } }] }],
    });
    const response = await post('/webhooks/messenger', rawBody, { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(rawBody, APP_SECRET) });
    expect(response.status).toBe(200);
    expect((await ingest.deps.db.pool.query(`SELECT count(*)::int AS n FROM "WebhookReceipt"`)).rows[0]?.n).toBe(0);
    const letters = (await (await get('/v1/dead-letters?kind=webhook_body')).json()) as { items: Array<{ reason: string; payload: { rawBody: string } }> };
    expect(letters.items).toHaveLength(1);
    expect(letters.items[0]?.reason).toMatch(/entry\.0\.messaging\.0\.sender\.id must not contain NUL/);
    expect(letters.items[0]?.reason).toMatch(/message\.text must not contain lone UTF-16 surrogates/);
    expect(letters.items[0]?.payload.rawBody).toContain('\\u0000');

    const unsignedPageId = await post('/webhooks/messenger', { object: 'page', entry: [{ id: 'p\u0000' }] }, { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` });
    expect(unsignedPageId.status).toBe(400);
  });

  it('stores and returns an event priority', async () => {
    expect((await post('/v1/events', event('with-priority', { priority: 'low' }))).status).toBe(202);
    expect(await (await get('/v1/events/with-priority')).json()).toMatchObject({ id: 'with-priority', priority: 'LOW' });
    expect(await (await get('/v1/events/concurrent-0')).json()).toMatchObject({ priority: null });
    const wrong = await post('/v1/events', event('bad-priority', { priority: 'urgent' }));
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as ErrorBody).error.details?.[0]?.path).toBe('priority');
  });
});
