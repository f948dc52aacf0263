import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { fingerprint } from '@renotify/observability';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from '../index.js';
import { insertDeliveries, insertPage } from '../test-support/ledger-fixtures.js';

const auth = { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' };
const HOUR = 3_600_000;
const PAGE = '600100200';
const OTHER_PAGE = '600100300';

/** #14 item 5: the Subscribers API over real HTTP and Postgres (tokens and deliveries written as fixtures). */
describe('Subscribers API', () => {
  let services: TestServices;
  let ingest: RunningIngest;
  const api = async (method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = body === undefined ? { authorization: auth.authorization } : auth;
    const response = await fetch(`${ingest.url}${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
    const text = await response.text();
    return { status: response.status, text, json: text ? JSON.parse(text) : undefined };
  };
  const query = async <T = Record<string, unknown>>(sql: string, values: unknown[] = []) => (await ingest.deps.db.pool.query(sql, values)).rows as T[];

  /** A person with tokens: ACTIVE ones of `kinds` on `topic`, last message `messagedHoursAgo` ago (null: never). */
  async function person(pageId: string, psid: string, { messagedHoursAgo = null as number | null, topic = 'deals', kinds = ['ONE_TIME'] as Array<'ONE_TIME' | 'RECURRING'> } = {}) {
    const [subscriber] = await query<{ id: string }>(
      `INSERT INTO "Subscriber" ("pageId", psid, "lastUserMessageAt", "updatedAt") VALUES ($1, $2, $3, now()) RETURNING id`,
      [pageId, psid, messagedHoursAgo === null ? null : new Date(Date.now() - messagedHoursAgo * HOUR)],
    );
    const tokens: Array<{ id: string; token: string }> = [];
    for (const kind of kinds) {
      const token = `tok-${psid}-${randomUUID()}`;
      const [optIn] = await query<{ id: string }>(
        `INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, token, "tokenFingerprint", frequency, "statusAt", "updatedAt")
         VALUES ($1, $2, $3::"OptInKind", $4, $5, $6, CASE WHEN $3 = 'RECURRING' THEN 'DAILY'::"Frequency" END, now() - interval '1 hour', now()) RETURNING id`,
        [pageId, subscriber!.id, kind, topic, token, fingerprint(token)],
      );
      tokens.push({ id: optIn!.id, token });
    }
    return { id: subscriber!.id, psid, tokens };
  }

  beforeAll(async () => {
    services = await createTestServices('subscribers');
    ingest = await startIngest(loadIngestConfig(services.env));
    await insertPage(ingest.deps.db.pool, PAGE);
    await insertPage(ingest.deps.db.pool, OTHER_PAGE);
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  it('lists subscribers page by page with window end and active token counts; windowOpen and topic filter', async () => {
    await person(PAGE, 'open-1', { messagedHoursAgo: 1, kinds: ['ONE_TIME', 'ONE_TIME', 'RECURRING'] });
    await person(PAGE, 'open-2', { messagedHoursAgo: 23, topic: 'other' });
    await person(PAGE, 'closed-1', { messagedHoursAgo: 25 });
    await person(PAGE, 'never-1', {});
    const stoppedOnly = await person(PAGE, 'stopped-1', { messagedHoursAgo: 2 });
    await query(`UPDATE "OptIn" SET status = 'STOPPED' WHERE id = $1`, [stoppedOnly.tokens[0]!.id]);
    await person(OTHER_PAGE, 'elsewhere-1', { messagedHoursAgo: 1 });

    const seen: Array<Record<string, unknown>> = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const listed = await api('GET', `/v1/pages/${PAGE}/subscribers?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(listed.status).toBe(200);
      expect(listed.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...listed.json.items);
      cursor = listed.json.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen.map((item) => item.psid).sort()).toEqual(['closed-1', 'never-1', 'open-1', 'open-2', 'stopped-1']);
    const open1 = seen.find((item) => item.psid === 'open-1')!;
    expect(open1.activeTokens).toEqual({ ONE_TIME: 2, RECURRING: 1 });
    expect(Date.parse(open1.windowEndsAt as string) - Date.parse(open1.lastUserMessageAt as string)).toBe(24 * HOUR);
    expect(seen.find((item) => item.psid === 'never-1')).toMatchObject({ lastUserMessageAt: null, windowEndsAt: null });
    expect(seen.find((item) => item.psid === 'stopped-1')!.activeTokens).toEqual({ ONE_TIME: 0, RECURRING: 0 });
    // Tokens never leave the store.
    for (const item of seen) expect(JSON.stringify(item)).not.toMatch(/tok-/);

    const open = await api('GET', `/v1/pages/${PAGE}/subscribers?windowOpen=true`);
    expect(open.json.items.map((item: { psid: string }) => item.psid).sort()).toEqual(['open-1', 'open-2', 'stopped-1']);
    const closed = await api('GET', `/v1/pages/${PAGE}/subscribers?windowOpen=false`);
    expect(closed.json.items.map((item: { psid: string }) => item.psid).sort()).toEqual(['closed-1', 'never-1']);
    const onTopic = await api('GET', `/v1/pages/${PAGE}/subscribers?windowOpen=true&topic=deals`);
    expect(onTopic.json.items.map((item: { psid: string }) => item.psid)).toEqual(['open-1']);

    expect((await api('GET', `/v1/pages/${PAGE}/subscribers?cursor=not-ours`)).status).toBe(400);
    expect((await api('GET', `/v1/pages/${PAGE}/subscribers?windowOpen=yes`)).status).toBe(400);
    expect((await api('GET', `/v1/pages/${PAGE}/subscribers?limit=201`)).status).toBe(400);
    expect((await api('GET', '/v1/pages/404404/subscribers')).status).toBe(404);
  });

  it('sets a subscriber time zone and locale (null clears); validates; another Page cannot reach the PSID', async () => {
    await person(PAGE, 'zoned-1');
    const set = await api('PATCH', `/v1/pages/${PAGE}/subscribers/zoned-1`, { timezone: 'Asia/Tokyo', locale: 'ja_JP' });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({ psid: 'zoned-1', timezone: 'Asia/Tokyo', locale: 'ja_JP' });
    const cleared = await api('PATCH', `/v1/pages/${PAGE}/subscribers/zoned-1`, { locale: null });
    expect(cleared.json).toMatchObject({ timezone: 'Asia/Tokyo', locale: null });

    const bad = await api('PATCH', `/v1/pages/${PAGE}/subscribers/zoned-1`, { timezone: 'Mars/Base', locale: 'not a locale' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.map((detail: { path: string }) => detail.path).sort()).toEqual(['locale', 'timezone']);
    expect((await api('PATCH', `/v1/pages/${PAGE}/subscribers/zoned-1`, {})).status).toBe(400);
    expect((await api('PATCH', `/v1/pages/${PAGE}/subscribers/nobody`, { locale: 'en_US' })).status).toBe(404);
    expect((await api('PATCH', `/v1/pages/${OTHER_PAGE}/subscribers/zoned-1`, { locale: 'en_US' })).status).toBe(404);
    expect((await api('POST', `/v1/pages/${OTHER_PAGE}/subscribers/zoned-1/stop`)).status).toBe(404);
  });

  it('stop: ACTIVE tokens STOPPED, waiting deliveries SKIPPED (STOPPED), others untouched; idempotent; audited', async () => {
    const stopped = await person(PAGE, 'stop-me', { kinds: ['ONE_TIME', 'RECURRING'] });
    const bystander = await person(PAGE, 'keep-me');
    const [waiting, done, other] = await insertDeliveries(ingest.deps.db.pool, [
      { sourceId: 'evt-stop-1', optInId: stopped.tokens[0]!.id, pageId: PAGE, batchNo: 0, status: 'PENDING' },
      { sourceId: 'evt-stop-0', optInId: stopped.tokens[1]!.id, pageId: PAGE, batchNo: 0, status: 'SENT' },
      { sourceId: 'evt-stop-1', optInId: bystander.tokens[0]!.id, pageId: PAGE, batchNo: 0, status: 'PENDING' },
    ]);

    const first = await api('POST', `/v1/pages/${PAGE}/subscribers/stop-me/stop`);
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ stoppedTokens: 2, skippedDeliveries: 1 });
    const second = await api('POST', `/v1/pages/${PAGE}/subscribers/stop-me/stop`);
    expect(second.json).toEqual({ stoppedTokens: 0, skippedDeliveries: 0 });

    const tokens = await query<{ status: string }>(`SELECT status FROM "OptIn" WHERE "subscriberId" = $1`, [stopped.id]);
    expect(tokens.map((token) => token.status)).toEqual(['STOPPED', 'STOPPED']);
    const statuses = await query<{ id: string; status: string; skipReason: string | null }>(`SELECT id, status, "skipReason" FROM "Delivery" WHERE id = ANY($1::uuid[])`, [[waiting, done, other]]);
    expect(Object.fromEntries(statuses.map((row) => [row.id, `${row.status}:${row.skipReason}`]))).toEqual({
      [waiting!]: 'SKIPPED:STOPPED',
      [done!]: 'SENT:null',
      [other!]: 'PENDING:null',
    });
    const audit = await query<{ action: string; actor: string; details: unknown }>(`SELECT action, actor, details FROM "AuditLog" WHERE "pageId" = $1 AND action = 'SUBSCRIBER_STOPPED' ORDER BY at`, [PAGE]);
    expect(audit).toEqual([
      { action: 'SUBSCRIBER_STOPPED', actor: fingerprint(DEMO_API_KEY), details: { stoppedTokens: 2, skippedDeliveries: 1 } },
      { action: 'SUBSCRIBER_STOPPED', actor: fingerprint(DEMO_API_KEY), details: { stoppedTokens: 0, skippedDeliveries: 0 } },
    ]);
    expect((await api('POST', `/v1/pages/${PAGE}/subscribers/nobody/stop`)).status).toBe(404);
  });

  it('erase: no trace of the PSID, user_ref or tokens in any table; deliveries kept as anonymous counts; idempotent; audited', async () => {
    const erased = await person(PAGE, 'erase-me-8723', { messagedHoursAgo: 1, kinds: ['ONE_TIME', 'RECURRING'] });
    await query(`UPDATE "Subscriber" SET "userRef" = 'ref-erase-me-8723', timezone = 'Europe/Rome', locale = 'it_IT' WHERE id = $1`, [erased.id]);
    // The same PSID string on another Page is another person (Meta's PSIDs are Page-scoped): it must survive.
    const twin = await person(OTHER_PAGE, 'erase-me-8723', { messagedHoursAgo: 1 });
    const bystander = await person(PAGE, 'bystander-8723');
    const [sent, pending, dead] = await insertDeliveries(ingest.deps.db.pool, [
      { sourceId: 'evt-erase-1', optInId: erased.tokens[0]!.id, pageId: PAGE, batchNo: 0, status: 'SENT' },
      { sourceId: 'evt-erase-2', optInId: erased.tokens[1]!.id, pageId: PAGE, batchNo: 0, status: 'PENDING' },
      { sourceId: 'evt-erase-3', optInId: erased.tokens[1]!.id, pageId: PAGE, batchNo: 0, status: 'DEAD', lastError: 'gave up sending to erase-me-8723' },
    ]);
    await query(`UPDATE "Delivery" SET "messageId" = 'm_erase-me-8723' WHERE id = $1`, [sent]);
    await query(`INSERT INTO "OptInRequest" ("pageId", "subscriberId", kind, topic, title) VALUES ($1, $2, 'ONE_TIME', 'deals', 'Deals')`, [PAGE, erased.id]);
    const receipt = (who: string, page: string) => JSON.stringify({ object: 'page', entry: [{ id: page, messaging: [{ sender: { id: who }, recipient: { id: page }, optin: { one_time_notif_token: erased.tokens[0]!.token } }] }] });
    await query(`INSERT INTO "WebhookReceipt" ("bodySha256", "rawBody", "processedAt") VALUES ('sha-1', $1, now()), ('sha-2', $2, now()), ('sha-3', $3, now())`, [
      receipt('erase-me-8723', PAGE),
      JSON.stringify({ object: 'page', entry: [{ id: PAGE, messaging: [{ sender: { user_ref: 'ref-erase-me-8723' }, recipient: { id: PAGE } }] }] }),
      JSON.stringify({ object: 'page', entry: [{ id: OTHER_PAGE, messaging: [{ sender: { id: 'erase-me-8723' }, recipient: { id: OTHER_PAGE } }] }] }),
    ]);
    await query(`INSERT INTO "DeadLetter" (kind, reason, payload) VALUES ('webhook', 'broken event', $1::jsonb), ('job', 'unrelated', '{"eventId":"x"}'::jsonb)`, [
      JSON.stringify({ pageId: PAGE, event: { sender: { id: 'erase-me-8723' } } }),
    ]);

    const first = await api('DELETE', `/v1/pages/${PAGE}/subscribers/erase-me-8723`);
    expect(first.status).toBe(204);

    // Every table, every column, as text: the identifiers appear nowhere except with the twin on the other Page.
    const tables = await query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`);
    expect(tables.length).toBeGreaterThan(10);
    const needles = ['erase-me-8723', 'ref-erase-me-8723', ...erased.tokens.map((token) => token.token), ...erased.tokens.map((token) => fingerprint(token.token)), erased.id];
    for (const { table_name: table } of tables) {
      const rows = await query<{ row: string }>(`SELECT t::text AS row FROM "${table}" t`);
      for (const { row } of rows) {
        if (row.includes(twin.id) || row.includes(OTHER_PAGE)) continue;
        for (const needle of needles) expect(row, `${table} still holds ${needle}`).not.toContain(needle);
      }
    }
    // Anonymous counts stay: the three delivery rows, without a token reference; the waiting one will never send.
    const kept = await query<{ id: string; optInId: string | null; status: string; messageId: string | null; lastError: string | null }>(
      `SELECT id, "optInId", status, "messageId", "lastError" FROM "Delivery" WHERE id = ANY($1::uuid[]) ORDER BY "sourceId"`,
      [[sent, pending, dead]],
    );
    expect(kept.map((row) => [row.optInId, row.status, row.messageId, row.lastError])).toEqual([
      [null, 'SENT', null, null],
      [null, 'SKIPPED', null, null],
      [null, 'DEAD', null, null],
    ]);
    // The other Page's person, the bystander and unrelated rows are untouched.
    expect((await api('GET', `/v1/pages/${OTHER_PAGE}/subscribers`)).json.items.map((item: { psid: string }) => item.psid)).toContain('erase-me-8723');
    expect(await query(`SELECT id FROM "OptIn" WHERE "subscriberId" = ANY($1::uuid[])`, [[twin.id, bystander.id]])).toHaveLength(2);
    expect(await query(`SELECT id FROM "WebhookReceipt" WHERE "bodySha256" = 'sha-3'`)).toHaveLength(1);
    expect(await query(`SELECT id FROM "DeadLetter" WHERE reason = 'unrelated'`)).toHaveLength(1);
    expect((await api('GET', `/v1/pages/${PAGE}/subscribers/erase-me-8723`)).status).toBe(404);

    // Idempotent: the same answer again, nothing more to erase; each request audited, with counts and no PSID.
    const second = await api('DELETE', `/v1/pages/${PAGE}/subscribers/erase-me-8723`);
    expect(second.status).toBe(204);
    const audit = await query<{ actor: string; details: Record<string, number> }>(`SELECT actor, details FROM "AuditLog" WHERE "pageId" = $1 AND action = 'SUBSCRIBER_ERASED' ORDER BY at`, [PAGE]);
    expect(audit).toEqual([
      { actor: fingerprint(DEMO_API_KEY), details: { subscribers: 1, tokens: 2, deliveriesAnonymised: 3, optInRequests: 1, webhookReceipts: 2, deadLetters: 1 } },
      { actor: fingerprint(DEMO_API_KEY), details: { subscribers: 0, tokens: 0, deliveriesAnonymised: 0, optInRequests: 0, webhookReceipts: 0, deadLetters: 0 } },
    ]);
    expect((await api('DELETE', `/v1/pages/404404/subscribers/erase-me-8723`)).status).toBe(404);
  });
});
