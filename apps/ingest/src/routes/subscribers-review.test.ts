import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { recordOutcomes } from '@renotify/db';
import { createLogger, fingerprint } from '@renotify/observability';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from '../index.js';
import { insertDeliveries, insertPage } from '../test-support/ledger-fixtures.js';

const auth = { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' };
const PAGE = '700100200';
const OTHER_PAGE = '700100300';

/**
 * Review of the Subscribers API and the per-Page guards (#14) as an outside tester would probe them: bad input is a
 * 4xx, Page scoping, what an erase leaves behind (outbox rows, in-flight sends, stored Idempotency-Key answers)
 * and what the ingest log says about a person. Real HTTP, Postgres and Redis.
 */
describe('Subscribers API under review', () => {
  let services: TestServices;
  let ingest: RunningIngest;
  const logs: string[] = [];
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const base: Record<string, string> = body === undefined ? { authorization: auth.authorization } : auth;
    const response = await fetch(`${ingest.url}${path}`, { method, headers: { ...base, ...headers }, ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
    const text = await response.text();
    return { status: response.status, text, json: text && response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined };
  };
  const query = async <T = Record<string, unknown>>(sql: string, values: unknown[] = []) => (await ingest.deps.db.pool.query(sql, values)).rows as T[];

  async function person(pageId: string, psid: string, topic = 'deals') {
    const [subscriber] = await query<{ id: string }>(`INSERT INTO "Subscriber" ("pageId", psid, "lastUserMessageAt", "updatedAt") VALUES ($1, $2, now(), now()) RETURNING id`, [pageId, psid]);
    const token = `tok-${randomUUID()}`;
    const [optIn] = await query<{ id: string }>(
      `INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, token, "tokenFingerprint", "statusAt", "updatedAt")
       VALUES ($1, $2, 'ONE_TIME', $3, $4, $5, now() - interval '1 hour', now()) RETURNING id`,
      [pageId, subscriber!.id, topic, token, fingerprint(token)],
    );
    return { id: subscriber!.id, psid, optInId: optIn!.id, token };
  }

  beforeAll(async () => {
    services = await createTestServices('subscribersreview');
    const destination = new Writable({ write: (chunk, _encoding, done) => (logs.push(String(chunk)), done()) });
    ingest = await startIngest(loadIngestConfig({ ...services.env, LOG_LEVEL: 'debug' }), createLogger({ name: 'ingest', level: 'debug', destination }));
    await insertPage(ingest.deps.db.pool, PAGE);
    await insertPage(ingest.deps.db.pool, OTHER_PAGE);
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  it('answers every malformed path, query and body with a 400 (never a 5xx), and scopes every route to its Page', async () => {
    await person(PAGE, 'scoped-1');
    const base = `/v1/pages/${PAGE}/subscribers`;
    const badRequests: Array<[string, string, unknown?]> = [
      ['GET', `${base}?limit=0`],
      ['GET', `${base}?limit=-1`],
      ['GET', `${base}?limit=1e3`],
      ['GET', `${base}?limit=abc`],
      ['GET', `${base}?limit=2&limit=3`],
      ['GET', `${base}?windowOpen=1`],
      ['GET', `${base}?windowOpen=`],
      ['GET', `${base}?windowOpen=true&windowOpen=false`],
      ['GET', `${base}?cursor=${'f'.repeat(36)}`],
      ['GET', `${base}?cursor=%00`],
      ['GET', `${base}?topic=`],
      ['GET', `${base}?topic=a%00b`],
      ['GET', `${base}?topic=${'t'.repeat(256)}`],
      ['GET', `${base}?psid=scoped-1`],
      ['PATCH', `${base}/a%00b`, { locale: 'en_US' }],
      ['PATCH', `${base}/${'p'.repeat(65)}`, { locale: 'en_US' }],
      ['PATCH', `${base}/%ED%A0%80`, { locale: 'en_US' }],
      ['PATCH', `${base}/scoped-1`, { timezone: 'Europe/Paris\u0000' }],
      ['PATCH', `${base}/scoped-1`, { timezone: 42 }],
      ['PATCH', `${base}/scoped-1`, { locale: 'en_US', psid: 'someone-else' }],
      ['PATCH', `${base}/scoped-1`, '[]'],
      ['PATCH', `${base}/scoped-1`, '{"locale":'],
      ['POST', `${base}/a%00b/stop`],
      ['DELETE', `${base}/a%00b`],
      ['DELETE', `${base}/${'p'.repeat(65)}`],
      ['DELETE', `${base}/%ED%A0%80`],
      ['PATCH', `/v1/pages/${PAGE}`, { quietHours: { start: '24:00', end: '08:00' } }],
      ['PATCH', `/v1/pages/${PAGE}`, { quietHours: { start: '22:00', end: '22:00' } }],
      ['PATCH', `/v1/pages/${PAGE}`, { quietHours: { start: '9:00', end: '10:00' } }],
      ['PATCH', `/v1/pages/${PAGE}`, { quietHours: { start: '22:00', end: '08:00', timeZone: 'Mars/Base' } }],
      ['PATCH', `/v1/pages/${PAGE}`, { quietHours: { start: '22:00', end: '08:00', extra: 1 } }],
      ['PATCH', `/v1/pages/${PAGE}`, { quietHours: { start: '22:00' } }],
      ['PATCH', `/v1/pages/${PAGE}`, { userCap: { maxSends: 0, windowHours: 24 } }],
      ['PATCH', `/v1/pages/${PAGE}`, { userCap: { maxSends: 3, windowHours: 0 } }],
      ['PATCH', `/v1/pages/${PAGE}`, { userCap: { maxSends: 3, windowHours: 1e300 } }],
      ['PATCH', `/v1/pages/${PAGE}`, { userCap: { maxSends: 1e300, windowHours: 24 } }],
      ['PATCH', `/v1/pages/${PAGE}`, { userCap: { maxSends: 2.5, windowHours: 24 } }],
      ['PATCH', `/v1/pages/${PAGE}`, { userCap: { maxSends: '3', windowHours: 24 } }],
      ['PATCH', `/v1/pages/${PAGE}`, { sendRatePerSec: 0 }],
      ['PATCH', `/v1/pages/${PAGE}`, { sendRatePerSec: 1e12 }],
      ['PATCH', `/v1/pages/${PAGE}`, { unknownSetting: true }],
    ];
    const answers = [];
    for (const [method, path, body] of badRequests) answers.push({ method, path, status: (await api(method, path, body)).status });
    expect(answers.filter((answer) => answer.status !== 400)).toEqual([]);

    // null switches a guard off.
    expect((await api('PATCH', `/v1/pages/${PAGE}`, { quietHours: { start: '22:00', end: '08:00' }, userCap: { maxSends: 3, windowHours: 24 } })).status).toBe(200);
    expect((await api('PATCH', `/v1/pages/${PAGE}`, { quietHours: null, userCap: null })).json).toMatchObject({ quietHours: null, userCap: null });

    // Unicode and the longest PSID are well-formed: unknown → 404 (PATCH, stop) or 204 (DELETE erases nothing).
    for (const psid of ['😀é', 'p'.repeat(64), '%2F..%2F', 'a;b']) {
      expect((await api('PATCH', `${base}/${encodeURIComponent(psid)}`, { locale: 'en_US' })).status).toBe(404);
      expect((await api('POST', `${base}/${encodeURIComponent(psid)}/stop`)).status).toBe(404);
      expect((await api('DELETE', `${base}/${encodeURIComponent(psid)}`)).status).toBe(204);
    }

    // Page scoping: the PSID of Page A is unknown through Page B, and a cursor from Page A lists nothing of A.
    expect((await api('PATCH', `/v1/pages/${OTHER_PAGE}/subscribers/scoped-1`, { locale: 'en_US' })).status).toBe(404);
    expect((await api('POST', `/v1/pages/${OTHER_PAGE}/subscribers/scoped-1/stop`)).status).toBe(404);
    expect((await api('DELETE', `/v1/pages/${OTHER_PAGE}/subscribers/scoped-1`)).status).toBe(204);
    expect(await query(`SELECT 1 FROM "OptIn" o JOIN "Subscriber" s ON s.id = o."subscriberId" WHERE s.psid = 'scoped-1' AND o.status = 'ACTIVE'`)).toHaveLength(1);
    const first = await api('GET', `${base}?limit=1`);
    expect(first.status).toBe(200);
    const foreign = await api('GET', `/v1/pages/${OTHER_PAGE}/subscribers?cursor=${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`);
    expect(foreign.status).toBe(200);
    expect(JSON.stringify(foreign.json)).not.toContain('scoped-1');
    // Without a key, every subscriber route is refused before it runs.
    for (const [method, path] of [['GET', base], ['PATCH', `${base}/scoped-1`], ['POST', `${base}/scoped-1/stop`], ['DELETE', `${base}/scoped-1`]] as const) {
      expect((await fetch(`${ingest.url}${path}`, { method })).status).toBe(401);
    }
  });
});
