import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { claim, linkUserRefToPsid, loadPendingBatch, recordOutcomes, resetAbandonedClaims, upsertSubscriberByPsid, withTransaction } from '@renotify/db';
import { buildSandbox, type Sandbox } from '@renotify/messenger-sandbox';
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
  let sandbox: Sandbox;
  let sandboxUrl = '';
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
    sandbox = buildSandbox({ seed: 5, sendRatePerSecond: null });
    sandboxUrl = await sandbox.listen(0, '127.0.0.1');
    ingest = await startIngest(loadIngestConfig({ ...services.env, LOG_LEVEL: 'debug', GRAPH_API_BASE_URL: sandboxUrl }), createLogger({ name: 'ingest', level: 'debug', destination }));
    await insertPage(ingest.deps.db.pool, PAGE);
    await insertPage(ingest.deps.db.pool, OTHER_PAGE);
  });
  afterAll(async () => {
    await ingest?.close();
    await sandbox?.close();
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

  it('erase: outbox rows and an in-flight send leave no trace; an erase waiting on a dispatch claim neither deadlocks nor fails', async () => {
    await query(
      `INSERT INTO "WebhookEndpoint" ("pageId", url, events, "secretCipher", "updatedAt")
       VALUES ($1, 'http://127.0.0.1:9/hook', ARRAY['delivery.sent', 'delivery.failed', 'delivery.dead', 'delivery.skipped'], 'not-a-real-cipher', now())`,
      [PAGE],
    );
    const erased = await person(PAGE, 'erase-review-5531');
    const [sent, sending, pending] = await insertDeliveries(ingest.deps.db.pool, [
      { sourceId: 'evt-review-1', optInId: erased.optInId, pageId: PAGE, batchNo: 0, status: 'SENDING' },
      { sourceId: 'evt-review-2', optInId: erased.optInId, pageId: PAGE, batchNo: 0, status: 'SENDING' },
      { sourceId: 'evt-review-3', optInId: erased.optInId, pageId: PAGE, batchNo: 0, status: 'PENDING' },
    ]);
    // A send that finished before the erase: its delivery.sent webhook names the PSID.
    await recordOutcomes(ingest.deps.db, [{ deliveryId: sent!, status: 'SENT', messageId: 'm_before-erase-5531' }], new Date(), 'SENDING');
    expect(await query(`SELECT 1 FROM "WebhookOutbox" WHERE payload->>'psid' = 'erase-review-5531'`)).toHaveLength(1);

    // A dispatch claim holds the person's delivery (claim locks deliveries first, then updates their tokens).
    const claimer = await ingest.deps.db.pool.connect();
    try {
      await claimer.query('BEGIN');
      await claimer.query(`SELECT id FROM "Delivery" WHERE id = $1 FOR UPDATE`, [pending]);
      const erase = api('DELETE', `/v1/pages/${PAGE}/subscribers/erase-review-5531`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // The claim goes on to its token: this must not wait for the erase (it would deadlock: erase waits for us).
      await claimer.query(`UPDATE "OptIn" SET "lastSentAt" = now() WHERE id = $1`, [erased.optInId]);
      await claimer.query('COMMIT');
      expect((await erase).status).toBe(204);
    } finally {
      claimer.release();
    }

    // The send that was in flight during the erase comes back: its outcome is recorded, without personal data.
    await recordOutcomes(ingest.deps.db, [{ deliveryId: sending!, status: 'SENT', messageId: 'm_after-erase-5531' }], new Date(), 'SENDING');
    const rows = await query<{ status: string; optInId: string | null; messageId: string | null }>(
      `SELECT status, "optInId", "messageId" FROM "Delivery" WHERE id = ANY($1::uuid[]) ORDER BY "sourceId"`,
      [[sent, sending, pending]],
    );
    expect(rows).toEqual([
      { status: 'SENT', optInId: null, messageId: null },
      { status: 'SENT', optInId: null, messageId: null },
      { status: 'SKIPPED', optInId: null, messageId: null },
    ]);
    const outbox = await query<{ row: string }>(`SELECT t::text AS row FROM "WebhookOutbox" t`);
    expect(outbox.length).toBeGreaterThan(0);
    for (const { row } of outbox) for (const needle of ['erase-review-5531', erased.token, 'm_before-erase-5531', 'm_after-erase-5531']) expect(row).not.toContain(needle);
  });

  it('stop during a dispatch claim: the claimed send goes ahead, the stop neither deadlocks nor fails, nothing is claimed after it', async () => {
    const stopped = await person(PAGE, 'stop-review-3307');
    await query(`UPDATE "OptIn" SET kind = 'RECURRING', frequency = 'DAILY' WHERE id = $1`, [stopped.optInId]);
    const [inClaim, later] = await insertDeliveries(ingest.deps.db.pool, [
      { sourceId: 'evt-review-stop-1', optInId: stopped.optInId, pageId: PAGE, batchNo: 0, status: 'PENDING' },
      { sourceId: 'evt-review-stop-2', optInId: stopped.optInId, pageId: PAGE, batchNo: 0, status: 'PENDING' },
    ]);
    // A worker loaded the later batch before the stop and claims it after.
    const [loadedEarlier] = await loadPendingBatch(ingest.deps.db, 'evt-review-stop-2', 0, new Date(0));
    expect(loadedEarlier?.id).toBe(later);

    const claimer = await ingest.deps.db.pool.connect();
    try {
      await claimer.query('BEGIN');
      await claimer.query(`SELECT id FROM "Delivery" WHERE id = $1 FOR UPDATE`, [inClaim]);
      const stop = api('POST', `/v1/pages/${PAGE}/subscribers/stop-review-3307/stop`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await claimer.query(`UPDATE "OptIn" SET "lastSentAt" = now() WHERE id = $1`, [stopped.optInId]);
      await claimer.query(`UPDATE "Delivery" SET status = 'SENDING', "claimedAt" = now() WHERE id = $1`, [inClaim]);
      await claimer.query('COMMIT');
      const answer = await stop;
      expect(answer.status).toBe(200);
      expect(answer.json).toEqual({ stoppedTokens: 1, skippedDeliveries: 1 });
    } finally {
      claimer.release();
    }
    const result = await claim(ingest.deps.db, [{ row: loadedEarlier!, nextEligibleAt: new Date(Date.now() + 86_400_000) }], new Date());
    expect(result.claimed).toEqual([]);
    const rows = await query<{ status: string }>(`SELECT status FROM "Delivery" WHERE id = ANY($1::uuid[]) ORDER BY "sourceId"`, [[inClaim, later]]);
    expect(rows.map((row) => row.status)).toEqual(['SENDING', 'SKIPPED']);
  });

  it('erase during a fan-out that writes a delivery for the person: the erase still answers 204 and that delivery is anonymous too', async () => {
    const erased = await person(PAGE, 'erase-fanout-8150');
    const fanout = await ingest.deps.db.pool.connect();
    try {
      await fanout.query('BEGIN');
      await fanout.query(
        `INSERT INTO "Delivery" ("sourceType", "sourceId", "optInId", "pageId", "batchNo") VALUES ('EVENT', 'evt-review-fanout', $1, $2, 0)`,
        [erased.optInId, PAGE],
      );
      const erase = api('DELETE', `/v1/pages/${PAGE}/subscribers/erase-fanout-8150`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await fanout.query('COMMIT');
      expect((await erase).status).toBe(204);
    } finally {
      fanout.release();
    }
    expect(await query(`SELECT status, "optInId" FROM "Delivery" WHERE "sourceId" = 'evt-review-fanout'`)).toEqual([{ status: 'SKIPPED', optInId: null }]);
    expect(await query(`SELECT 1 FROM "OptIn" WHERE id = $1`, [erased.optInId])).toHaveLength(0);
  });

  it('a send in flight when its person was erased, whose worker then died, ends SKIPPED instead of waiting forever', async () => {
    const erased = await person(PAGE, 'erase-stale-4410');
    const [stale, again] = await insertDeliveries(ingest.deps.db.pool, [
      { sourceId: 'evt-review-stale', optInId: erased.optInId, pageId: PAGE, batchNo: 0, status: 'SENDING' },
      { sourceId: 'evt-review-stale-2', optInId: erased.optInId, pageId: PAGE, batchNo: 0, status: 'SENDING' },
    ]);
    await query(`UPDATE "Delivery" SET "claimedAt" = now() - interval '1 hour' WHERE id = ANY($1::uuid[])`, [[stale, again]]);
    expect((await api('DELETE', `/v1/pages/${PAGE}/subscribers/erase-stale-4410`)).status).toBe(204);
    // The sweeper's recovery of a dead worker's sends: back to PENDING would be a row no batch load can find again.
    expect(await resetAbandonedClaims(ingest.deps.db, 'evt-review-stale', new Date(Date.now() - 60_000))).toBe(1);
    const [row] = await query<{ status: string; skipReason: string | null; ambiguousAttempt: boolean }>(`SELECT status, "skipReason", "ambiguousAttempt" FROM "Delivery" WHERE id = $1`, [stale]);
    expect(row).toEqual({ status: 'SKIPPED', skipReason: 'STOPPED', ambiguousAttempt: true });
    // The batch's own next pass does the same, and has nothing to send for it.
    expect(await loadPendingBatch(ingest.deps.db, 'evt-review-stale-2', 0, new Date(Date.now() - 60_000))).toEqual([]);
    expect(await query(`SELECT status, "skipReason" FROM "Delivery" WHERE id = $1`, [again])).toEqual([{ status: 'SKIPPED', skipReason: 'STOPPED' }]);
  });

  it('erase takes the receipts and dead letters naming the person, not those that merely contain their PSID as a substring', async () => {
    await person(PAGE, '55');
    const body = (psid: string) => JSON.stringify({ object: 'page', entry: [{ id: PAGE, time: 1, messaging: [{ sender: { id: psid }, recipient: { id: PAGE }, message: { text: 'hi' } }] }] });
    await query(`INSERT INTO "WebhookReceipt" ("bodySha256", "rawBody", "processedAt") VALUES ('review-sha-55', $1, now()), ('review-sha-1553', $2, NULL)`, [body('55'), body('1553')]);
    await query(`INSERT INTO "DeadLetter" (kind, reason, payload) VALUES ('webhook', 'review: bad entry', $1::jsonb), ('webhook', 'review: other bad entry', $2::jsonb)`, [
      JSON.stringify({ pageId: PAGE, event: { sender: { id: '55' } } }),
      JSON.stringify({ pageId: PAGE, event: { sender: { id: '9551' } } }),
    ]);
    expect((await api('DELETE', `/v1/pages/${PAGE}/subscribers/55`)).status).toBe(204);
    expect(await query(`SELECT "bodySha256" FROM "WebhookReceipt" WHERE "bodySha256" LIKE 'review-sha-%'`)).toEqual([{ bodySha256: 'review-sha-1553' }]);
    expect(await query(`SELECT reason FROM "DeadLetter" WHERE reason LIKE 'review: %'`)).toEqual([{ reason: 'review: other bad entry' }]);
  });

  it("erase forgets the stored Idempotency-Key answers naming the person (an opt-in request's), and only those", async () => {
    const page = { id: '700100500', name: 'Review Shop', accessToken: 'review-page-token', appSecret: 'review-app-secret' };
    const sandboxCall = (path: string, body: unknown) => fetch(`${sandboxUrl}/__sandbox${path}`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
    expect((await sandboxCall('/pages', page)).status).toBe(201);
    expect((await api('POST', '/v1/pages', page)).status).toBe(201);
    for (const psid of ['7', '77']) {
      expect((await sandboxCall(`/pages/${page.id}/users`, { psid })).status).toBeLessThan(300);
      await upsertSubscriberByPsid(ingest.deps.db.pool, page.id, psid, new Date());
    }
    const ask = (psid: string, key: string) =>
      api('POST', '/v1/optin-requests', { pageId: page.id, psid, kind: 'one_time', topic: 'restock', title: 'Back in stock' }, { 'idempotency-key': key });
    expect((await ask('7', 'review-ask-7')).status).toBe(201);
    expect((await ask('77', 'review-ask-77')).status).toBe(201);
    expect((await ask('7', 'review-ask-7')).text).toBeTruthy();

    expect((await api('DELETE', `/v1/pages/${page.id}/subscribers/7`)).status).toBe(204);
    // The erased person's answer is forgotten: the retry runs again (and finds nobody) instead of replaying the PSID.
    const retried = await ask('7', 'review-ask-7');
    expect(retried.status).not.toBe(201);
    expect(retried.text).not.toContain('"psid":"7"');
    // Another person's answer (whose PSID contains the digit) is still replayed to its retries.
    const other = await api('POST', '/v1/optin-requests', { pageId: page.id, psid: '77', kind: 'one_time', topic: 'restock', title: 'Back in stock' }, { 'idempotency-key': 'review-ask-77' });
    expect(other.status).toBe(201);
    const keys = await ingest.deps.redis.keys(`${ingest.deps.config.QUEUE_PREFIX}:idempotency-person:*`);
    for (const key of keys) expect(key).not.toContain('77');
  });

  it('a checkbox user_ref merged into the PSID row keeps its unsent outbound webhooks (merge is not an erase)', async () => {
    const page = '700100400';
    await insertPage(ingest.deps.db.pool, page);
    await query(
      `INSERT INTO "WebhookEndpoint" ("pageId", url, events, "secretCipher", "updatedAt") VALUES ($1, 'http://127.0.0.1:9/hook', ARRAY['optin.created'], 'not-a-real-cipher', now())`,
      [page],
    );
    await query(`INSERT INTO "Subscriber" ("pageId", psid, "updatedAt") VALUES ($1, 'merge-psid-6620', now())`, [page]);
    const [byRef] = await query<{ id: string }>(`INSERT INTO "Subscriber" ("pageId", "userRef", "updatedAt") VALUES ($1, 'merge-ref-6620', now()) RETURNING id`, [page]);
    await query(
      `INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, token, "tokenFingerprint", "statusAt", "updatedAt") VALUES ($1, $2, 'ONE_TIME', 'deals', $3, 'fp', now(), now())`,
      [page, byRef!.id, `tok-${randomUUID()}`],
    );
    expect(await query(`SELECT 1 FROM "WebhookOutbox" WHERE "pageId" = $1 AND payload->>'userRef' = 'merge-ref-6620'`, [page])).toHaveLength(1);
    expect(await withTransaction(ingest.deps.db, (client) => linkUserRefToPsid(client, page, 'merge-ref-6620', 'merge-psid-6620'))).toBe('merged');
    expect(await query(`SELECT status FROM "WebhookOutbox" WHERE "pageId" = $1 AND payload->>'userRef' = 'merge-ref-6620'`, [page])).toEqual([{ status: 'PENDING' }]);
  });

  it('the ingest log never names a person: no PSID, user_ref or token in any line of this file', async () => {
    const erased = await person(PAGE, 'logged-psid-9917');
    // An opt-in request logs what it sent: the person must not be in that line either.
    const page = { id: '700100600', name: 'Logged Shop', accessToken: 'logged-page-token', appSecret: 'logged-app-secret' };
    const sandboxCall = (path: string, body: unknown) => fetch(`${sandboxUrl}/__sandbox${path}`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
    expect((await sandboxCall('/pages', page)).status).toBe(201);
    expect((await api('POST', '/v1/pages', page)).status).toBe(201);
    expect((await sandboxCall(`/pages/${page.id}/users`, { psid: 'asked-psid-9917' })).status).toBeLessThan(300);
    await upsertSubscriberByPsid(ingest.deps.db.pool, page.id, 'asked-psid-9917', new Date());
    expect((await api('POST', '/v1/optin-requests', { pageId: page.id, psid: 'asked-psid-9917', kind: 'one_time', topic: 'restock', title: 'Back soon' })).status).toBe(201);
    await api('PATCH', `/v1/pages/${PAGE}/subscribers/logged-psid-9917`, { timezone: 'Asia/Tokyo' });
    await api('POST', `/v1/pages/${PAGE}/subscribers/logged-psid-9917/stop`);
    await api('PATCH', `/v1/pages/${PAGE}/subscribers/missing-psid-9917`, { locale: 'en_US' });
    await api('DELETE', `/v1/pages/${PAGE}/subscribers/logged-psid-9917`);
    await api('DELETE', `/v1/pages/${PAGE}/subscribers/logged-psid-9917`);
    await api('PATCH', `/v1/pages/${PAGE}/subscribers/bad%00psid-9917`, { locale: 'en_US' });
    await ingest.app.close();
    const everything = logs.join('\n');
    expect(everything).toContain('subscriber erased');
    expect(everything).toContain('opt-in request sent');
    for (const needle of ['psid-9917', 'erase-review-5531', 'scoped-1', erased.token]) expect(everything).not.toContain(needle);
  });
});
