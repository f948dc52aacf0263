import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@renotify/testing';
import { createDatabase, type Database } from './client.js';
import { applyMessageReceipt, getReceiptCounts } from './message-receipts.js';
import { SecretBox } from './secret-box.js';
import { withTransaction } from './tx.js';
import { createWebhookEndpoint, updateWebhookEndpoint } from './webhook-endpoints.js';
import {
  claimDueWebhookMessages,
  loadWebhookMessageToSend,
  pruneSentWebhookMessages,
  recordInboundMessageWebhooks,
  recordWebhookAttempt,
  redriveWebhookMessages,
} from './webhook-outbox.js';

/*
 * The outbox triggers (migration 20261201200000_outbound_webhooks) and the outbox/receipt operations, against a
 * real Postgres. The triggers are exercised with the kinds of statements dispatch and the webhook apply run:
 * set-based UPDATEs of many rows and INSERT … SELECT.
 */

const PAGE = 'page-hooks';
const QUIET_PAGE = 'page-quiet';
const secrets = new SecretBox(Buffer.alloc(32, 3).toString('base64'));

describe('webhook outbox', () => {
  let database: TestDatabase;
  let db: Database;

  const q = <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => db.pool.query(sql, params).then((result) => result.rows as T[]);
  const outbox = () => q<{ eventType: string; payload: Record<string, unknown>; endpointId: string }>(`SELECT "eventType", payload, "endpointId" FROM "WebhookOutbox" ORDER BY "createdAt", "eventType"`);

  async function person(pageId: string, psid: string): Promise<string> {
    const [subscriber] = await q<{ id: string }>(`INSERT INTO "Subscriber" ("pageId", psid, "updatedAt") VALUES ($1, $2, now()) RETURNING id`, [pageId, psid]);
    const [optIn] = await q<{ id: string }>(
      `INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, token, "tokenFingerprint", "statusAt", "updatedAt")
       VALUES ($1, $2, 'RECURRING', 'deals', $3, 'fp', now(), now()) RETURNING id`,
      [pageId, subscriber!.id, `token-${pageId}-${psid}`],
    );
    return optIn!.id;
  }
  async function deliveries(pageId: string, sourceId: string, optInIds: string[]): Promise<string[]> {
    const rows = await q<{ id: string }>(
      `INSERT INTO "Delivery" ("sourceType", "sourceId", "optInId", "pageId", "batchNo") SELECT 'EVENT', $1, unnest($2::uuid[]), $3, 0 RETURNING id`,
      [sourceId, optInIds, pageId],
    );
    return rows.map((row) => row.id);
  }

  beforeAll(async () => {
    database = await createTestDatabase('dboutbox');
    db = createDatabase(database.url, { maxConnections: 4 });
    for (const id of [PAGE, QUIET_PAGE]) {
      await q(`INSERT INTO "Page" (id, name, "accessTokenCipher", "appSecretCipher", "updatedAt") VALUES ($1, 'p', 'x', 'x', now())`, [id]);
    }
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });
  beforeEach(async () => {
    await q(`DELETE FROM "WebhookEndpoint"`);
    await q(`DELETE FROM "Delivery"`);
    await q(`DELETE FROM "OptIn"`);
    await q(`DELETE FROM "Subscriber"`);
  });

  it('writes nothing while no endpoint is enabled, and nothing for Pages or types no endpoint subscribed to', async () => {
    const optIn = await person(PAGE, 'p0');
    await deliveries(PAGE, 'ev-0', [optIn]);
    await q(`UPDATE "Delivery" SET status = 'SENT', "finishedAt" = now()`);
    expect(await outbox()).toEqual([]);

    const paused = await createWebhookEndpoint(db, secrets, { pageId: PAGE, url: 'https://x.test', events: ['delivery.failed'], secret: 'whsec_x' });
    await updateWebhookEndpoint(db, paused.id, { enabled: false });
    await createWebhookEndpoint(db, secrets, { pageId: QUIET_PAGE, url: 'https://y.test', events: ['delivery.failed', 'optin.created'], secret: 'whsec_y' });
    await createWebhookEndpoint(db, secrets, { pageId: PAGE, url: 'https://z.test', events: ['delivery.read'], secret: 'whsec_z' });
    await person(PAGE, 'p1');
    await q(`UPDATE "Delivery" SET status = 'FAILED', "lastErrorCode" = 10`);
    expect(await outbox()).toEqual([]);
  });

  it('one row per (change, subscribed endpoint) for set-based status changes and receipts; skipped ones batched per source and reason', async () => {
    const all = await createWebhookEndpoint(db, secrets, {
      pageId: PAGE,
      url: 'https://all.test',
      events: ['delivery.sent', 'delivery.failed', 'delivery.dead', 'delivery.skipped', 'delivery.delivered', 'delivery.read', 'optin.created', 'optin.stopped', 'optin.resumed', 'optin.expired'],
      secret: 'whsec_a',
    });
    const sentOnly = await createWebhookEndpoint(db, secrets, { pageId: PAGE, url: 'https://sent.test', events: ['delivery.sent'], secret: 'whsec_b' });
    const optIns = [];
    for (let i = 0; i < 6; i++) optIns.push(await person(PAGE, `p${i}`));
    const ids = await deliveries(PAGE, 'ev-1', optIns);
    await q(`DELETE FROM "WebhookOutbox"`);

    // One outcome statement, as dispatch records a send group: 2 SENT, 1 FAILED, 1 DEAD, 2 SKIPPED.
    await q(
      `UPDATE "Delivery" d SET status = v.status::"DeliveryStatus", "skipReason" = v.reason, "finishedAt" = now(), "claimedAt" = now() - interval '1 second', "messageId" = v.mid
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS v(id, status, reason, mid) WHERE d.id = v.id`,
      [ids, ['SENT', 'SENT', 'FAILED', 'DEAD', 'SKIPPED', 'SKIPPED'], [null, null, null, null, 'COOLDOWN', 'COOLDOWN'], ['m0', 'm1', null, null, null, null]],
    );
    const rows = await outbox();
    const types = (endpointId: string) => rows.filter((row) => row.endpointId === endpointId).map((row) => row.eventType).sort();
    expect(types(all.id)).toEqual(['delivery.dead', 'delivery.failed', 'delivery.sent', 'delivery.sent', 'delivery.skipped']);
    expect(types(sentOnly.id)).toEqual(['delivery.sent', 'delivery.sent']);
    const skipped = rows.find((row) => row.eventType === 'delivery.skipped')!.payload;
    expect(skipped).toMatchObject({ sourceId: 'ev-1', sourceType: 'EVENT', skipReason: 'COOLDOWN', count: 2 });
    expect((skipped.deliveries as Array<{ deliveryId: string }>).map((d) => d.deliveryId).sort()).toEqual(ids.slice(4).sort());
    const sent = rows.find((row) => row.eventType === 'delivery.sent')!.payload;
    expect(sent).toMatchObject({ pageId: PAGE, sourceId: 'ev-1', status: 'SENT', topic: 'deals', psid: expect.stringMatching(/^p[01]$/), messageId: expect.stringMatching(/^m[01]$/) });
    expect(String(sent.finishedAt)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(JSON.stringify(rows)).not.toContain('token-p');

    // Receipts: a watermark covers p0's delivery; the read also delivers; the counts follow.
    await q(`DELETE FROM "WebhookOutbox"`);
    const p0 = { pageId: PAGE, psid: 'p0', at: new Date() };
    expect(await withTransaction(db, (client) => applyMessageReceipt(client, { ...p0, kind: 'read', watermark: new Date(Date.now() + 1000) }))).toBe(1);
    expect(await withTransaction(db, (client) => applyMessageReceipt(client, { ...p0, kind: 'delivery', watermark: new Date(Date.now() + 1000) }))).toBe(0); // already delivered by the read
    expect((await outbox()).map((row) => row.eventType).sort()).toEqual(['delivery.delivered', 'delivery.read']);
    expect(await getReceiptCounts(db, 'EVENT', 'ev-1')).toEqual({ sent: 2, delivered: 1, read: 1, deliveredRate: 0.5, readRate: 0.5 });

    // Opt-in status changes, one statement for three of them.
    await q(`DELETE FROM "WebhookOutbox"`);
    await q(`UPDATE "OptIn" SET status = CASE WHEN id = $1 THEN 'STOPPED'::"OptInStatus" ELSE 'EXPIRED'::"OptInStatus" END WHERE id = ANY($2::uuid[])`, [optIns[0], optIns.slice(0, 3)]);
    await q(`UPDATE "OptIn" SET status = 'ACTIVE' WHERE id = $1`, [optIns[0]]);
    expect((await outbox()).map((row) => row.eventType)).toEqual(['optin.expired', 'optin.expired', 'optin.stopped', 'optin.resumed']);
  });

  it('receipts: watermark against the send time, mids, only SENT rows of that person on that Page', async () => {
    const [mine, other] = [await person(PAGE, 'me'), await person(PAGE, 'other')];
    const elsewhere = await person(QUIET_PAGE, 'me');
    const [early] = await deliveries(PAGE, 'ev-2', [mine]);
    const [late] = await deliveries(PAGE, 'ev-3', [mine]);
    const [failed] = await deliveries(PAGE, 'ev-4', [mine]);
    const [others] = await deliveries(PAGE, 'ev-2', [other]);
    const [foreign] = await deliveries(QUIET_PAGE, 'ev-2', [elsewhere]);
    const watermark = new Date('2026-12-01T10:00:00.000Z');
    const at = (iso: string) => new Date(iso);
    await q(`UPDATE "Delivery" SET status = 'SENT', "claimedAt" = $2, "finishedAt" = $2, "messageId" = $3 WHERE id = $1`, [early, at('2026-12-01T09:59:59.999Z'), 'm-early']);
    await q(`UPDATE "Delivery" SET status = 'SENT', "claimedAt" = $2, "finishedAt" = $2, "messageId" = $3 WHERE id = $1`, [late, at('2026-12-01T10:00:00.001Z'), 'm-late']);
    await q(`UPDATE "Delivery" SET status = 'FAILED', "claimedAt" = $2, "finishedAt" = $2 WHERE id = $1`, [failed, at('2026-12-01T09:00:00Z')]);
    await q(`UPDATE "Delivery" SET status = 'SENT', "claimedAt" = $2, "finishedAt" = $2 WHERE id = ANY($1::uuid[])`, [[others, foreign], at('2026-12-01T09:00:00Z')]);

    const apply = (kind: 'delivery' | 'read', mids?: string[]) =>
      withTransaction(db, (client) => applyMessageReceipt(client, { pageId: PAGE, psid: 'me', kind, watermark, at: at('2026-12-01T10:00:05Z'), ...(mids ? { mids } : {}) }));
    expect(await apply('delivery')).toBe(1); // only `early`
    expect(await apply('delivery', ['m-late'])).toBe(1); // named by its mid, though after the watermark
    const marks = await q<{ id: string; deliveredAt: Date | null; readAt: Date | null }>(`SELECT id, "deliveredAt", "readAt" FROM "Delivery"`);
    const marked = new Set(marks.filter((row) => row.deliveredAt).map((row) => row.id));
    expect(marked).toEqual(new Set([early, late]));
    expect(marks.find((row) => row.id === early)!.deliveredAt!.toISOString()).toBe('2026-12-01T10:00:05.000Z');
    expect(await apply('read')).toBe(1); // `late` was sent after the read watermark
  });

  it('claims due rows once (SKIP LOCKED, lease), records attempts (retry schedule, DEAD), redrives; the inbound relay dedupes by mid', async () => {
    const endpoint = await createWebhookEndpoint(db, secrets, { pageId: PAGE, url: 'https://relay.test', events: ['subscriber.message'], secret: 'whsec_relay' });
    const message = { pageId: PAGE, psid: 'p9', kind: 'message' as const, mid: 'm.1', text: 'hi', quickReplyPayload: null, postback: null, at: new Date() };
    expect(await withTransaction(db, (client) => recordInboundMessageWebhooks(client, message))).toBe(1);
    expect(await withTransaction(db, (client) => recordInboundMessageWebhooks(client, message))).toBe(0); // Meta redelivered it
    expect(await withTransaction(db, (client) => recordInboundMessageWebhooks(client, { ...message, mid: 'm.2' }))).toBe(1);

    const [first, second] = await Promise.all([claimDueWebhookMessages(db, { limit: 10, leaseMs: 60_000 }), claimDueWebhookMessages(db, { limit: 10, leaseMs: 60_000 })]);
    expect([...first, ...second]).toHaveLength(2); // each row to one claimer
    expect(await claimDueWebhookMessages(db, { limit: 10, leaseMs: 60_000 })).toEqual([]); // leased
    const [id] = [...first, ...second];
    const loaded = await loadWebhookMessageToSend(db, secrets, id!);
    expect(loaded).toMatchObject({ status: 'PENDING', url: 'https://relay.test', secret: 'whsec_relay', eventType: 'subscriber.message', attempts: 0 });

    expect(await recordWebhookAttempt(db, id!, { ok: false, statusCode: 500, error: 'HTTP 500', retryInMs: 0 })).toBe('PENDING');
    expect(await claimDueWebhookMessages(db, { limit: 10, leaseMs: 60_000 })).toEqual([id]); // due again at once
    expect(await recordWebhookAttempt(db, id!, { ok: false, statusCode: null, error: 'timeout', retryInMs: 3_600_000 })).toBe('PENDING');
    expect(await claimDueWebhookMessages(db, { limit: 10, leaseMs: 60_000 })).toEqual([]); // waits an hour
    await q(`UPDATE "WebhookOutbox" SET "nextAttemptAt" = now() - interval '1 second' WHERE id = $1`, [id]);
    expect(await recordWebhookAttempt(db, id!, { ok: false, statusCode: 410, error: 'HTTP 410', retryInMs: null })).toBe('DEAD');
    expect(await recordWebhookAttempt(db, id!, { ok: true, statusCode: 200 })).toBeNull(); // not PENDING any more
    expect(await q(`SELECT status, attempts, "lastStatusCode" FROM "WebhookOutbox" WHERE id = $1`, [id])).toEqual([{ status: 'DEAD', attempts: 3, lastStatusCode: 410 }]);

    expect(await redriveWebhookMessages(db, endpoint.id)).toBe(1);
    expect(await claimDueWebhookMessages(db, { limit: 10, leaseMs: 60_000 })).toEqual([id]);
    expect(await recordWebhookAttempt(db, id!, { ok: true, statusCode: 204 })).toBe('SENT');
    await updateWebhookEndpoint(db, endpoint.id, { enabled: false });
    await q(`UPDATE "WebhookOutbox" SET "enqueuedAt" = NULL`);
    expect(await claimDueWebhookMessages(db, { limit: 10, leaseMs: 60_000 })).toEqual([]); // a paused endpoint's rows wait

    // Erasing a person (the Subscriber row goes) deletes the messages that name them, sent or not.
    await updateWebhookEndpoint(db, endpoint.id, { enabled: true });
    await withTransaction(db, (client) => recordInboundMessageWebhooks(client, { ...message, psid: 'erased', mid: 'm.3' }));
    await q(`INSERT INTO "Subscriber" ("pageId", psid, "updatedAt") VALUES ($1, 'erased', now()), ($2, 'p9', now())`, [PAGE, QUIET_PAGE]);
    await q(`DELETE FROM "Subscriber" WHERE psid IN ('erased', 'p9')`); // p9 of another Page: its namesake here stays
    expect((await q<{ psid: string }>(`SELECT payload->>'psid' AS psid FROM "WebhookOutbox"`)).map((row) => row.psid)).toEqual(['p9', 'p9']);

    // SENT rows go once older than the kept period; the PENDING one (m.2) stays.
    expect(await pruneSentWebhookMessages(db, { before: new Date(Date.now() - 60_000), limit: 10 })).toBe(0);
    expect(await pruneSentWebhookMessages(db, { before: new Date(Date.now() + 60_000), limit: 10 })).toBe(1);
    expect(await q(`SELECT status FROM "WebhookOutbox"`)).toEqual([{ status: 'PENDING' }]);

    // DEAD rows go once older than the dead-letter retention; without one (null) they stay redrivable.
    await q(`UPDATE "WebhookOutbox" SET status = 'DEAD', "nextAttemptAt" = now() - interval '2 days'`);
    expect(await pruneSentWebhookMessages(db, { before: new Date(Date.now() + 60_000), deadBefore: null, limit: 10 })).toBe(0);
    expect(await pruneSentWebhookMessages(db, { before: new Date(Date.now() + 60_000), deadBefore: new Date(Date.now() - 3 * 86_400_000), limit: 10 })).toBe(0);
    expect(await pruneSentWebhookMessages(db, { before: new Date(Date.now() + 60_000), deadBefore: new Date(Date.now() - 86_400_000), limit: 10 })).toBe(1);
  });
});
