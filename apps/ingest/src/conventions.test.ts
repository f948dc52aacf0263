import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { upsertSubscriberByPsid } from '@renotify/db';
import { buildSandbox, type Sandbox } from '@renotify/messenger-sandbox';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from './index.js';
import { apiErrorSchema } from './routes/schemas.js';

/** docs/api-conventions.md, one test per convention, against a real ingest, Postgres, Redis and the sandbox as Meta. */
const PAGE = { id: '500000000000001', name: 'Conventions Shop', accessToken: 'conventions-page-token', appSecret: 'conventions-app-secret' };
const PSID = 'conventions-user';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- each test checks the shape it reads
}

describe('API conventions (docs/api-conventions.md)', () => {
  let services: TestServices;
  let sandbox: Sandbox;
  let ingest: RunningIngest;
  let sandboxUrl = '';

  async function call(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json', ...headers },
      ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  }
  const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => call(`${ingest.url}${path}`, method, body, headers);
  const control = (method: string, path: string, body?: unknown) => call(`${sandboxUrl}/__sandbox${path}`, method, body);
  const optInRequest = (title: string) => ({ pageId: PAGE.id, psid: PSID, kind: 'one_time', topic: 'restock', title });

  beforeAll(async () => {
    services = await createTestServices('ingestconventions');
    sandbox = buildSandbox({ seed: 3, sendRatePerSecond: null });
    sandboxUrl = await sandbox.listen(0, '127.0.0.1');
    ingest = await startIngest(loadIngestConfig({ ...services.env, GRAPH_API_BASE_URL: sandboxUrl }));
    expect((await control('POST', '/pages', PAGE)).status).toBe(201);
    expect((await control('POST', `/pages/${PAGE.id}/users`, { psid: PSID })).status).toBeLessThan(300);
    expect((await api('POST', '/v1/pages', PAGE)).status).toBe(201);
    // The person wrote to the Page a moment ago (what the worker records from the message webhook): the window is open.
    await upsertSubscriberByPsid(ingest.deps.db.pool, PAGE.id, PSID, new Date());
  });
  afterAll(async () => {
    await ingest?.close();
    await sandbox?.close();
    await services?.cleanup();
  });

  it('Idempotency-Key: a retry with the same key and body gets the first answer again, not a conflict', async () => {
    const key = { 'idempotency-key': 'optin-retry-1' };
    const first = await api('POST', '/v1/optin-requests', optInRequest('Back in stock soon'), key);
    expect(first.status, first.text).toBe(201);
    const retry = await api('POST', '/v1/optin-requests', optInRequest('Back in stock soon'), key);
    expect(retry.status).toBe(201);
    expect(retry.json).toEqual(first.json);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    // Without the key, the same request is a second request, which Meta's one-per-title-per-week rule refuses.
    const unkeyed = await api('POST', '/v1/optin-requests', optInRequest('Back in stock soon'));
    expect(unkeyed.status).toBe(409);
    expect(unkeyed.json.error.code).toBe('duplicate_title');

    const page = { id: '500000000000002', name: 'Second', accessToken: 'second-token', appSecret: 'second-secret' };
    const created = await api('POST', '/v1/pages', page, { 'idempotency-key': 'page-2' });
    const again = await api('POST', '/v1/pages', page, { 'idempotency-key': 'page-2' });
    expect([created.status, again.status]).toEqual([201, 201]);
    expect(again.json).toEqual(created.json);
  });

  it('Idempotency-Key: the same key with another body answers 422 and changes nothing', async () => {
    const key = { 'idempotency-key': 'optin-changed-body' };
    expect((await api('POST', '/v1/optin-requests', optInRequest('Price drop alert'), key)).status).toBe(201);
    const changed = await api('POST', '/v1/optin-requests', optInRequest('Another title'), key);
    expect(changed.status).toBe(422);
    expect(changed.json.error).toMatchObject({ code: 'idempotency_key_reused', details: [{ path: 'headers.idempotency-key' }] });
    // Nothing was sent: the changed body's title is still free.
    expect((await api('POST', '/v1/optin-requests', optInRequest('Another title'))).status).toBe(201);
  });

  it('Idempotency-Key: a failed first answer is not stored, so the retry runs again', async () => {
    const key = { 'idempotency-key': 'campaign-bad-then-good' };
    const campaign = { pageId: PAGE.id, name: 'Weekly', topic: 'weekly', message: 'Hello {{firstName}}', schedule: { cron: '0 9 * * 1' } };
    expect((await api('POST', '/v1/campaigns', campaign, key)).status).toBe(400);
    const fixed = { ...campaign, variables: { firstName: 'friend' } };
    // A different body now, and the 400 released the key: it runs, then replays.
    const created = await api('POST', '/v1/campaigns', fixed, { 'idempotency-key': 'campaign-good' });
    const replayed = await api('POST', '/v1/campaigns', fixed, { 'idempotency-key': 'campaign-good' });
    expect([created.status, replayed.status]).toEqual([201, 201]);
    expect(replayed.json.id).toBe(created.json.id);
    expect((await api('POST', '/v1/campaigns', campaign, key)).status).toBe(400);
  });

  it('Retry-After: a 429 carries the header and the same number in error.retryAfterSeconds', async () => {
    await control('PUT', `/pages/${PAGE.id}/faults`, { errors: [{ code: 4, subcode: null, rate: 1 }] });
    try {
      const throttled = await api('POST', '/v1/optin-requests', optInRequest('Throttled title'));
      expect(throttled.status).toBe(429);
      const header = throttled.headers.get('retry-after');
      expect(header).toMatch(/^\d+$/);
      expect(throttled.json.error.retryAfterSeconds).toBe(Number(header));
      expect(throttled.json.error.meta).toMatchObject({ code: 4 });
    } finally {
      await control('PUT', `/pages/${PAGE.id}/faults`, { errors: [] });
    }
  });

  it('one error body: every refusal, from a route, a schema or Fastify itself, has the same shape and a snake_case code', async () => {
    const refusals: Array<[string, Answer]> = [
      ['body schema', await api('POST', '/v1/pages', { id: 'x' })],
      ['query schema', await api('GET', `/v1/pages/${PAGE.id}/optins?limit=0`)],
      ['path schema', await api('GET', '/v1/campaigns/not-a-uuid')],
      ['not found', await api('GET', '/v1/pages/404404')],
      ['unknown route', await api('GET', '/v1/nothing')],
      ['no key', await call(`${ingest.url}/v1/pages`, 'GET', undefined, { authorization: '' })],
      ['conflict', await api('POST', '/v1/pages', PAGE)],
      ['event batch', await api('POST', '/v1/events', [{ id: 'e1', type: 'custom', pageId: PAGE.id }])],
      ['NUL in a string', await api('PATCH', `/v1/pages/${PAGE.id}`, { name: 'a\u0000b' })],
      ['invalid JSON', await api('POST', '/v1/pages', '{"id":')],
      ['media type', await api('POST', '/v1/pages', '<page/>', { 'content-type': 'application/xml' })],
      ['empty JSON body', await api('POST', '/v1/pages', '')],
    ];
    for (const [what, answer] of refusals) {
      expect(answer.status, what).toBeGreaterThanOrEqual(400);
      expect(answer.status, what).toBeLessThan(500);
      const parsed = apiErrorSchema.safeParse(answer.json);
      expect(parsed.success, `${what}: ${answer.text}`).toBe(true);
      expect(answer.json.error.code, what).toMatch(/^[a-z0-9_]+$/);
      expect(answer.json.error.code, what).not.toMatch(/^fst_/);
      if (answer.json.error.details !== undefined) expect(Array.isArray(answer.json.error.details), what).toBe(true);
    }
    const byWhat = Object.fromEntries(refusals.map(([what, answer]) => [what, answer]));
    // Validation problems name the field.
    expect(byWhat['body schema']!.json.error.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['name', 'accessToken']));
    expect(byWhat['query schema']!.json.error).toMatchObject({ code: 'invalid_request', message: 'Invalid query', details: [{ path: 'limit' }] });
    expect(byWhat['path schema']!.json.error).toMatchObject({ code: 'invalid_request', message: 'Invalid path', details: [{ path: 'id' }] });
    expect(byWhat['event batch']!.json.error.details[0]).toMatchObject({ index: 0 });
    expect(byWhat['NUL in a string']!.json.error.details[0]).toMatchObject({ path: 'name' });
    // Fastify's own refusals carry our codes, not FST_ERR_*.
    expect(byWhat['media type']!).toMatchObject({ status: 415, json: { error: { code: 'unsupported_media_type' } } });
    expect(byWhat['invalid JSON']!.json.error.code).toBe('invalid_json');
  });

  it('enum casing: answers are UPPER_SNAKE_CASE, requests may use either casing', async () => {
    const lower = await api('POST', '/v1/optin-requests', { ...optInRequest('Lower-case kind'), kind: 'one_time' });
    const upper = await api('POST', '/v1/optin-requests', { ...optInRequest('Upper-case kind'), kind: 'ONE_TIME', topic: undefined, subject: { type: 'BACK_IN_STOCK', productId: 'sku-9' } });
    expect([lower.status, upper.status], upper.text).toEqual([201, 201]);
    expect([lower.json.kind, upper.json.kind]).toEqual(['ONE_TIME', 'ONE_TIME']);
    // Topics are data, not enums: built from the lower-case subject names whatever the request's casing.
    expect(upper.json.topic).toBe('back_in_stock:sku-9');
    expect((await api('POST', '/v1/events', { id: 'casing-1', type: 'CUSTOM', pageId: PAGE.id, topic: 'deals', text: 'Hi', priority: 'High' })).status).toBe(202);
    expect((await api('GET', '/v1/events/casing-1')).json).toMatchObject({ type: 'CUSTOM', priority: 'HIGH' });
    expect((await api('GET', `/v1/pages/${PAGE.id}/optins?kind=one_time`)).json.items).toEqual([]);
  });

  it('cursor paging: GET /v1/pages pages like every list ({ items, nextCursor })', async () => {
    for (const n of [3, 4, 5]) {
      await api('POST', '/v1/pages', { id: `50000000000000${n}`, name: `Shop ${n}`, accessToken: `t${n}`, appSecret: `s${n}` });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const answer: Answer = await api('GET', `/v1/pages?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(answer.status).toBe(200);
      expect(answer.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...answer.json.items.map((page: { id: string }) => page.id));
      cursor = answer.json.nextCursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBeGreaterThanOrEqual(5);
    expect(pages).toBe(Math.ceil(seen.length / 2));
  });
});
