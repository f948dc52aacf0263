import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from '../index.js';
import { insertOptIns, insertPage } from '../test-support/ledger-fixtures.js';

const PAGE = '990000001';
const OTHER_PAGE = '990000002';
const auth = { authorization: `Bearer ${DEMO_API_KEY}` };

describe('webhook endpoints API', () => {
  let services: TestServices;
  let ingest: RunningIngest;

  // Tests read arbitrary JSON shapes.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any; text: string }> => {
    const response = await fetch(`${ingest.url}${path}`, {
      method,
      headers: body === undefined ? auth : { ...auth, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, text };
  };
  const outboxRows = async (pageId: string) =>
    (await ingest.deps.db.pool.query<{ eventType: string; endpointId: string }>(`SELECT "eventType", "endpointId" FROM "WebhookOutbox" WHERE "pageId" = $1`, [pageId])).rows;

  beforeAll(async () => {
    services = await createTestServices('ingestwebhookendpoints');
    // As in production: endpoints must be public addresses (the SSRF guard is on).
    ingest = await startIngest(loadIngestConfig({ ...services.env, WEBHOOK_ENDPOINTS_ALLOW_PRIVATE: 'false' }));
    await insertPage(ingest.deps.db.pool, PAGE);
    await insertPage(ingest.deps.db.pool, OTHER_PAGE);
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  it('creates an endpoint with a generated whsec_ secret shown once, stored sealed, never in reads', async () => {
    const created = await call('POST', '/v1/webhook-endpoints', { pageId: PAGE, url: 'https://example.test/hooks', events: ['delivery.sent', 'optin.created', 'delivery.sent'] });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created.body.events).toEqual(['delivery.sent', 'optin.created']);
    expect(created.body.enabled).toBe(true);
    const stored = await ingest.deps.db.pool.query(`SELECT "secretCipher" FROM "WebhookEndpoint" WHERE id = $1`, [created.body.id]);
    expect(stored.rows[0].secretCipher).not.toContain(created.body.secret.slice(6));
    expect(ingest.deps.secrets.decrypt(stored.rows[0].secretCipher)).toBe(created.body.secret);

    const read = await call('GET', `/v1/webhook-endpoints/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(read.text).not.toContain(created.body.secret);
    expect(read.body).not.toHaveProperty('secret');
    const list = await call('GET', `/v1/webhook-endpoints?pageId=${PAGE}`);
    expect(list.text).not.toContain(created.body.secret);
    await call('DELETE', `/v1/webhook-endpoints/${created.body.id}`);
  });

  it('refuses bad input with 4xx and the field named', async () => {
    const cases: Array<[unknown, string]> = [
      [{ pageId: PAGE, url: 'ftp://example.test/x', events: ['delivery.sent'] }, 'url'],
      [{ pageId: PAGE, url: 'https://user:pw@example.test/x', events: ['delivery.sent'] }, 'url'],
      [{ pageId: PAGE, url: 'https://example.test/x', events: ['delivery.nope'] }, 'events.0'],
      [{ pageId: PAGE, url: 'https://example.test/x', events: [] }, 'events'],
      [{ pageId: PAGE, url: 'https://example.test/x', events: ['delivery.sent'], secret: 'plain' }, 'secret'],
      [{ pageId: PAGE, url: 'https://example.test/x', events: ['delivery.sent'], extra: 1 }, 'extra'],
      [{ pageId: PAGE, url: 'http://169.254.169.254/latest/meta-data', events: ['delivery.sent'] }, 'url'],
      [{ pageId: PAGE, url: 'http://127.0.0.1:6379/', events: ['delivery.sent'] }, 'url'],
      [{ pageId: PAGE, url: 'http://localhost:3000/hook', events: ['delivery.sent'] }, 'url'],
      [{ pageId: PAGE, url: 'http://[::1]/hook', events: ['delivery.sent'] }, 'url'],
      [{ pageId: PAGE, url: 'http://10.0.0.5/hook', events: ['delivery.sent'] }, 'url'],
    ];
    for (const [body, path] of cases) {
      const answer = await call('POST', '/v1/webhook-endpoints', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.code).toBe('invalid_request');
      expect(answer.body.error.details.map((detail: { path: string }) => detail.path)).toContain(path);
    }
    const moved = await call('POST', '/v1/webhook-endpoints', { pageId: PAGE, url: 'https://example.test/moved', events: ['delivery.sent'] });
    const inward = await call('PATCH', `/v1/webhook-endpoints/${moved.body.id}`, { url: 'http://169.254.169.254/' });
    expect(inward.status).toBe(400);
    expect(inward.body.error.details[0].message).toMatch(/non-public address/);
    await call('DELETE', `/v1/webhook-endpoints/${moved.body.id}`);
    // A tampered cursor (a year Postgres cannot store) is a 400 naming it, never a 5xx.
    const yearZero = Buffer.from(JSON.stringify(['0000-01-01T00:00:00.000Z', '00000000-0000-4000-8000-000000000000'])).toString('base64url');
    for (const path of [`/v1/webhook-endpoints?cursor=${yearZero}`, `/v1/webhook-endpoints?cursor=not-a-cursor`]) {
      const listed = await call('GET', path);
      expect(listed.status, path).toBe(400);
      expect(listed.body.error.details[0].path).toBe('cursor');
    }
    const unknownPage = await call('POST', '/v1/webhook-endpoints', { pageId: '424242', url: 'https://example.test/x', events: ['delivery.sent'] });
    expect(unknownPage.status).toBe(404);
    expect((await call('GET', '/v1/webhook-endpoints/not-a-uuid')).status).toBe(400);
    expect((await call('GET', '/v1/webhook-endpoints/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await call('GET', '/v1/webhook-endpoints?cursor=nonsense')).status).toBe(400);
    expect((await call('PATCH', '/v1/webhook-endpoints/00000000-0000-4000-8000-000000000000', {})).status).toBe(400);
  });

  it('pages the list with an opaque cursor, filters by Page, patches, rotates and deletes', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await call('POST', '/v1/webhook-endpoints', { pageId: i < 3 ? PAGE : OTHER_PAGE, url: `https://example.test/${i}`, events: ['optin.stopped'] });
      ids.push(answer.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: Array<{ id: string }>; nextCursor: string | null } } = await call('GET', `/v1/webhook-endpoints?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.items.map((item) => item.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(ids);
    expect((await call('GET', `/v1/webhook-endpoints?pageId=${OTHER_PAGE}`)).body.items.map((item: { id: string }) => item.id)).toEqual(ids.slice(3));

    const patched = await call('PATCH', `/v1/webhook-endpoints/${ids[0]}`, { enabled: false, events: ['optin.created'], description: 'crm' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ enabled: false, events: ['optin.created'], description: 'crm', url: 'https://example.test/0' });

    const given = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const rotated = await call('POST', `/v1/webhook-endpoints/${ids[1]}/rotate-secret`, { secret: given });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toBe(given);
    const generated = await call('POST', `/v1/webhook-endpoints/${ids[1]}/rotate-secret`);
    expect(generated.status, generated.text).toBe(200);
    expect(generated.body.secret).toMatch(/^whsec_/);
    expect(generated.body.secret).not.toBe(given);

    for (const id of ids) expect((await call('DELETE', `/v1/webhook-endpoints/${id}`)).status).toBe(204);
    expect((await call('DELETE', `/v1/webhook-endpoints/${ids[0]}`)).status).toBe(404);
  });

  it('the triggers write outbox rows only for enabled endpoints subscribed to the event; messages list and redrive', async () => {
    await insertOptIns(ingest.deps.db.pool, PAGE, 2, 'before_any_endpoint');
    expect(await outboxRows(PAGE)).toEqual([]); // no endpoint: nothing written

    const wanted = await call('POST', '/v1/webhook-endpoints', { pageId: PAGE, url: 'https://example.test/a', events: ['optin.created'] });
    const other = await call('POST', '/v1/webhook-endpoints', { pageId: PAGE, url: 'https://example.test/b', events: ['delivery.sent'] });
    const paused = await call('POST', '/v1/webhook-endpoints', { pageId: PAGE, url: 'https://example.test/c', events: ['optin.created'] });
    await call('PATCH', `/v1/webhook-endpoints/${paused.body.id}`, { enabled: false });
    await insertOptIns(ingest.deps.db.pool, PAGE, 3, 'with_endpoints');
    await insertOptIns(ingest.deps.db.pool, OTHER_PAGE, 2, 'other_page');

    const rows = await outboxRows(PAGE);
    expect(rows).toHaveLength(3);
    expect(new Set(rows.map((row) => row.endpointId))).toEqual(new Set([wanted.body.id]));
    expect(rows.every((row) => row.eventType === 'optin.created')).toBe(true);
    expect(await outboxRows(OTHER_PAGE)).toEqual([]);
    expect((await call('GET', `/v1/webhook-endpoints/${other.body.id}/messages`)).body.items).toEqual([]);

    const messages = await call('GET', `/v1/webhook-endpoints/${wanted.body.id}/messages?limit=2`);
    expect(messages.status).toBe(200);
    expect(messages.body.items).toHaveLength(2);
    expect(messages.body.items[0]).toMatchObject({ eventType: 'optin.created', status: 'PENDING', attempts: 0, data: { pageId: PAGE, topic: 'with_endpoints', kind: 'ONE_TIME' } });
    expect(JSON.stringify(messages.body)).not.toContain('"token"');
    expect(messages.body.nextCursor).not.toBeNull();

    await ingest.deps.db.pool.query(`UPDATE "WebhookOutbox" SET status = 'DEAD', attempts = 8 WHERE "endpointId" = $1`, [wanted.body.id]);
    expect((await call('GET', `/v1/webhook-endpoints/${wanted.body.id}/messages?status=dead`)).body.items).toHaveLength(3);
    const redriven = await call('POST', `/v1/webhook-endpoints/${wanted.body.id}/redrive`);
    expect(redriven.body).toEqual({ redriven: 3 });
    const pending = await call('GET', `/v1/webhook-endpoints/${wanted.body.id}/messages?status=PENDING`);
    expect(pending.body.items.map((item: { attempts: number }) => item.attempts)).toEqual([0, 0, 0]);

    expect((await call('DELETE', `/v1/webhook-endpoints/${wanted.body.id}`)).status).toBe(204);
    expect(await outboxRows(PAGE)).toEqual([]); // its messages went with it
  });
});
