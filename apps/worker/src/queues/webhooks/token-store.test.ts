import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIngestConfig } from '@renotify/config';
import { startIngest } from '@renotify/ingest';
import { signPayload, toMetaJson } from '@renotify/messenger';
import { fingerprint } from '@renotify/observability';
import { waitFor } from '@renotify/testing';
import { http, startWebhookStack, type WebhookStack } from '../../test-support/webhook-stack.js';

const DAY_MS = 24 * 3600_000;
const PAGE = '300000000000001';
const OTHER_PAGE = '300000000000002';

describe('webhook intake and token store (sandbox → ingest → worker → Postgres)', () => {
  let stack: WebhookStack;
  const query = async <T = Record<string, unknown>>(sql: string, values: unknown[] = []) =>
    (await stack.ingest.deps.db.pool.query(sql, values)).rows as T[];
  const optInByToken = async (token: string) => (await query(`SELECT * FROM "OptIn" WHERE token = $1`, [token]))[0];
  const receiptCount = async () => Number((await query<{ n: string }>(`SELECT count(*) AS n FROM "WebhookReceipt"`))[0]!.n);
  const unprocessed = async () => Number((await query<{ n: string }>(`SELECT count(*) AS n FROM "WebhookReceipt" WHERE "processedAt" IS NULL`))[0]!.n);
  const allProcessed = () => waitFor(async () => (await unprocessed()) === 0, { what: 'every receipt processed' });
  const sandboxNow = async () => (await stack.sb('GET', '/__sandbox/clock')).json.now as number;
  const advance = (advanceMs: number) => stack.sb('POST', '/__sandbox/clock', { advanceMs });
  const eventTime = (result: { json: { payload: { entry: Array<{ messaging: Array<{ timestamp: number }> }> } } }) =>
    result.json.payload.entry[0]!.messaging[0]!.timestamp;
  /** Holds the sandbox's deliveries back (no callback URL) so they can be delivered later, in any order. */
  const holdDeliveries = async <T>(fn: () => Promise<T>): Promise<T> => {
    const callback = stack.sandbox.dispatcher.url;
    stack.sandbox.dispatcher.url = undefined;
    try {
      return await fn();
    } finally {
      stack.sandbox.dispatcher.url = callback;
    }
  };
  /** Delivers a held-back webhook: the sandbox's exact bytes and signature, POSTed to the ingest. */
  const deliverHeld = async (deliveryId: number) => {
    const delivery = stack.sandbox.dispatcher.list().find((item) => item.id === deliveryId)!;
    const result = await http('POST', `${stack.ingest.url}/webhooks/messenger`, delivery.body, { 'x-hub-signature-256': delivery.signature });
    expect(result.status).toBe(200);
  };
  /** Lets the sandbox sign and POST any body, as Meta would. */
  const emitRaw = async (pageId: string, body: Record<string, unknown>) => {
    const delivery = await stack.sandbox.dispatcher.send(stack.sandbox.state.getPage(pageId), body);
    return delivery.attempts.at(-1)!;
  };

  beforeAll(async () => {
    stack = await startWebhookStack('tokenstore', { workerOptions: { sweepEveryMs: 200, sweepOlderThanMs: 300 } });
    await stack.createPage(PAGE, ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']);
    // In the sandbox only: Renotify never hears of this Page.
    await stack.sb('POST', '/__sandbox/pages', { id: OTHER_PAGE, accessToken: 'other-page-token', appSecret: 'other-app-secret' });
    await stack.sb('POST', `/__sandbox/pages/${OTHER_PAGE}/users`, { psid: 'x1' });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers the verification handshake with the challenge on the right token, 403 otherwise', async () => {
    const verified = await stack.sb('POST', '/__sandbox/webhooks/verify', { challenge: '1158201444' });
    expect(verified.json).toMatchObject({ status: 200, body: '1158201444', verified: true });
    const wrong = await stack.sb('POST', '/__sandbox/webhooks/verify', { verifyToken: 'not-ours', challenge: '42' });
    expect(wrong.json).toMatchObject({ status: 403, verified: false });
    const badMode = await http('GET', `${stack.ingest.url}/webhooks/messenger?hub.mode=unsubscribe&hub.verify_token=renotify-verify-token&hub.challenge=1`);
    expect(badMode.status).toBe(403);
  });

  it('stores a one-time opt-in with its topic and a 1-year expiry; the API shows only the fingerprint', async () => {
    const result = await stack.trigger({ type: 'one_time_optin', pageId: PAGE, psid: 'u1', payload: 'back_in_stock:123:42', title: 'Size 42 back' });
    expect(result.json.callback.status).toBe(200);
    const token = result.json.token.token as string;
    const row = await waitFor(() => optInByToken(token), { what: 'one-time opt-in' });
    const at = await sandboxNow();
    expect(row).toMatchObject({ kind: 'ONE_TIME', topic: 'back_in_stock:123:42', status: 'ACTIVE', tokenFingerprint: fingerprint(token), frequency: null });
    expect((row.expiresAt as Date).getTime()).toBe((row.statusAt as Date).getTime() + 365 * DAY_MS);
    expect(Math.abs((row.statusAt as Date).getTime() - at)).toBeLessThan(5_000);
    const listed = await stack.api('GET', `/v1/pages/${PAGE}/optins?psid=u1`);
    expect(listed.status).toBe(200);
    expect(listed.json.items).toEqual([expect.objectContaining({ topic: 'back_in_stock:123:42', kind: 'ONE_TIME', tokenFingerprint: fingerprint(token), psid: 'u1' })]);
    expect(listed.text).not.toContain(token);
  });

  it('stores a recurring opt-in with frequency, time zone, Meta expiry and title', async () => {
    const expiresAt = (await sandboxNow()) + 90 * DAY_MS;
    const result = await stack.trigger({
      type: 'recurring_optin', pageId: PAGE, psid: 'u2', payload: 'weekly_deals', title: 'Weekly deals', frequency: 'WEEKLY', timezone: 'Europe/Paris', expiresAt,
    });
    const token = result.json.token.token as string;
    const row = await waitFor(() => optInByToken(token), { what: 'recurring opt-in' });
    expect(row).toMatchObject({ kind: 'RECURRING', topic: 'weekly_deals', title: 'Weekly deals', frequency: 'WEEKLY', timezone: 'Europe/Paris', status: 'ACTIVE' });
    // Meta's token_expiry_timestamp is in seconds.
    expect((row.expiresAt as Date).getTime()).toBe(Math.floor(expiresAt / 1000) * 1000);
  });

  it('defaults a recurring opt-in without frequency to DAILY and keeps the token when the time zone is not IANA', async () => {
    const now = await sandboxNow();
    const body = {
      object: 'page',
      entry: [{ id: PAGE, time: now, messaging: [{
        sender: { id: 'u3' }, recipient: { id: PAGE }, timestamp: now,
        optin: { type: 'notification_messages', payload: 'news', title: 'News', notification_messages_token: 'rec-no-frequency', notification_messages_timezone: 'Moon/Base' },
      }] }],
    };
    expect((await emitRaw(PAGE, body)).status).toBe(200);
    const row = await waitFor(() => optInByToken('rec-no-frequency'), { what: 'recurring opt-in without frequency' });
    expect(row).toMatchObject({ frequency: 'DAILY', timezone: null, topic: 'news' });
    // meta-2022: a DAILY token lives 182 days when Meta gives no expiry.
    expect((row.expiresAt as Date).getTime()).toBe((row.statusAt as Date).getTime() + 182 * DAY_MS);
  });

  it('applies STOP and RESUME in order, with both spellings', async () => {
    const optIn = await stack.trigger({ type: 'recurring_optin', pageId: PAGE, psid: 'u4', payload: 'price_drop:9', title: 'Price drop 9' });
    const token = optIn.json.token.token as string;
    await waitFor(() => optInByToken(token));
    await advance(1_000);
    await stack.trigger({ type: 'recurring_status', pageId: PAGE, token, status: 'STOP', spelling: 'space' });
    await waitFor(async () => (await optInByToken(token))?.status === 'STOPPED', { what: 'STOPPED' });
    await advance(1_000);
    await stack.trigger({ type: 'recurring_status', pageId: PAGE, token, status: 'RESUME', spelling: 'underscore' });
    await waitFor(async () => (await optInByToken(token))?.status === 'ACTIVE', { what: 'ACTIVE again' });
  });

  it('never lets an older status webhook overwrite a newer one (RESUME delivered before its STOP)', async () => {
    const optIn = await stack.trigger({ type: 'recurring_optin', pageId: PAGE, psid: 'u4', payload: 'price_drop:10', title: 'Price drop 10' });
    const token = optIn.json.token.token as string;
    await waitFor(() => optInByToken(token));
    const [stop, resume] = await holdDeliveries(async () => {
      await advance(1_000);
      const stopped = await stack.trigger({ type: 'recurring_status', pageId: PAGE, token, status: 'STOP' });
      await advance(1_000);
      return [stopped, await stack.trigger({ type: 'recurring_status', pageId: PAGE, token, status: 'RESUME' })];
    });
    const resumeAt = eventTime(resume);
    expect(resumeAt).toBeGreaterThan(eventTime(stop));
    await deliverHeld(resume.json.deliveryId);
    await waitFor(async () => ((await optInByToken(token))?.statusAt as Date).getTime() === resumeAt, { what: 'RESUME applied' });
    await deliverHeld(stop.json.deliveryId);
    await allProcessed();
    const row = await optInByToken(token);
    expect(row).toMatchObject({ status: 'ACTIVE' });
    expect((row!.statusAt as Date).getTime()).toBe(resumeAt);
  });

  it('keeps a STOP that overtook its opt-in: the late opt-in does not reactivate the token', async () => {
    const optIn = await holdDeliveries(() =>
      stack.trigger({ type: 'recurring_optin', pageId: PAGE, psid: 'u5', payload: 'restock_alerts', title: 'Restock alerts', frequency: 'MONTHLY' }),
    );
    const token = optIn.json.token.token as string;
    await advance(1_000);
    await stack.trigger({ type: 'recurring_status', pageId: PAGE, token, status: 'STOP' });
    await waitFor(async () => (await optInByToken(token))?.status === 'STOPPED', { what: 'row created by the STOP' });
    await deliverHeld(optIn.json.deliveryId);
    await allProcessed();
    const row = await optInByToken(token);
    expect(row).toMatchObject({ status: 'STOPPED', topic: 'restock_alerts', title: 'Restock alerts' });
    expect(row!.expiresAt).not.toBeNull();
  });

  it('renews a REFRESHED token in place instead of creating a second one', async () => {
    const first = await stack.trigger({ type: 'recurring_optin', pageId: PAGE, psid: 'u6', payload: 'vip', title: 'VIP', expiresAt: (await sandboxNow()) + 60_000 });
    const token = first.json.token.token as string;
    await waitFor(() => optInByToken(token));
    await advance(120_000); // the token expires at Meta
    const refreshed = await stack.trigger({ type: 'recurring_optin', pageId: PAGE, psid: 'u6', payload: 'vip', title: 'VIP' });
    expect(refreshed.json.payload.entry[0].messaging[0].optin.user_token_status).toBe('REFRESHED');
    await allProcessed();
    const rows = await query(`SELECT o.* FROM "OptIn" o JOIN "Subscriber" s ON s.id = o."subscriberId" WHERE s.psid = 'u6' AND o.topic = 'vip'`);
    expect(rows).toHaveLength(1);
    expect((rows[0]!.expiresAt as Date).getTime()).toBeGreaterThan((await sandboxNow()) + 100 * DAY_MS);

    // Meta may also issue a new token on re-opt-in: the same row takes it.
    await advance(1_000);
    const now = await sandboxNow();
    await emitRaw(PAGE, {
      object: 'page',
      entry: [{ id: PAGE, time: now, messaging: [{
        sender: { id: 'u6' }, recipient: { id: PAGE }, timestamp: now,
        optin: { type: 'notification_messages', payload: 'vip', title: 'VIP', notification_messages_token: 'vip-new-token', notification_messages_frequency: 'DAILY', user_token_status: 'REFRESHED' },
      }] }],
    });
    await allProcessed();
    const after = await query(`SELECT o.* FROM "OptIn" o JOIN "Subscriber" s ON s.id = o."subscriberId" WHERE s.psid = 'u6' AND o.topic = 'vip'`);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ id: rows[0]!.id, token: 'vip-new-token', tokenFingerprint: fingerprint('vip-new-token'), status: 'ACTIVE' });
  });

  it('deduplicates redelivered payloads: one receipt, one token', async () => {
    const before = await receiptCount();
    const result = await stack.trigger({ type: 'one_time_optin', pageId: PAGE, psid: 'u1', payload: 'dup-topic', repeat: 3 });
    expect(result.json.attempts.map((attempt: { status: number }) => attempt.status)).toEqual([200, 200, 200]);
    await allProcessed();
    expect(await receiptCount()).toBe(before + 1);
    expect(await query(`SELECT id FROM "OptIn" WHERE topic = 'dup-topic'`)).toHaveLength(1);
  });

  it('applies a batch entry by entry: a poisoned item is dead-lettered, its siblings still apply', async () => {
    const now = await sandboxNow();
    const body = {
      object: 'page',
      entry: [
        { id: PAGE, time: now, messaging: [{ sender: { id: 'u1' }, recipient: { id: PAGE }, timestamp: now, optin: { type: 'one_time_notif_req', payload: 'batch-a', one_time_notif_token: 'batch-token-a' } }] },
        { id: PAGE, time: now, messaging: [
          { sender: { id: 'u2' }, recipient: { id: PAGE }, timestamp: now, optin: { type: 'one_time_notif_req', payload: 'batch-poison' } },
          { sender: { id: 'u2' }, recipient: { id: PAGE }, timestamp: now + 1, message: { mid: 'm_batch_1', text: 'hi' } },
        ] },
        { id: PAGE, time: now, messaging: [{ sender: { id: 'u3' }, recipient: { id: PAGE }, timestamp: now, optin: { type: 'one_time_notif_req', payload: 'batch-c', one_time_notif_token: 'batch-token-c' } }] },
      ],
    };
    expect((await emitRaw(PAGE, body)).status).toBe(200);
    await allProcessed();
    expect(await optInByToken('batch-token-a')).toMatchObject({ topic: 'batch-a' });
    expect(await optInByToken('batch-token-c')).toMatchObject({ topic: 'batch-c' });
    const u2 = (await query(`SELECT "lastUserMessageAt" FROM "Subscriber" WHERE psid = 'u2'`))[0]!;
    expect((u2.lastUserMessageAt as Date).getTime()).toBe(now + 1);
    const letters = await query(`SELECT kind, reason, payload FROM "DeadLetter" WHERE payload::text LIKE '%batch-poison%'`);
    expect(letters).toEqual([expect.objectContaining({ kind: 'webhook_entry', reason: expect.stringContaining('one_time_notif_token') })]);
  });

  it('opens the 24h window on messages and postbacks, never moving it back', async () => {
    await advance(5_000);
    const messagedAt = eventTime(await stack.trigger({ type: 'message', pageId: PAGE, psid: 'u3', text: 'Do you have size 42?' }));
    await waitFor(async () => ((await query(`SELECT "lastUserMessageAt" FROM "Subscriber" WHERE psid = 'u3'`))[0]?.lastUserMessageAt as Date | null)?.getTime() === messagedAt);
    await advance(1_000);
    const tappedAt = eventTime(await stack.trigger({ type: 'postback', pageId: PAGE, psid: 'u3', payload: 'GET_STARTED' }));
    await waitFor(async () => ((await query(`SELECT "lastUserMessageAt" FROM "Subscriber" WHERE psid = 'u3'`))[0]?.lastUserMessageAt as Date | null)?.getTime() === tappedAt);
    // An old message delivered late leaves the window where it is.
    await emitRaw(PAGE, { object: 'page', entry: [{ id: PAGE, time: 1, messaging: [{ sender: { id: 'u3' }, recipient: { id: PAGE }, timestamp: messagedAt - DAY_MS, message: { mid: 'm_old', text: 'old' } }] }] });
    await allProcessed();
    expect(((await query(`SELECT "lastUserMessageAt" FROM "Subscriber" WHERE psid = 'u3'`))[0]!.lastUserMessageAt as Date).getTime()).toBe(tappedAt);
  });

  it('keeps checkbox opt-ins by user_ref and links them to the PSID when the person replies', async () => {
    const checkbox = await stack.trigger({ type: 'checkbox_optin', pageId: PAGE, userRef: 'cart-7781', ref: 'checkout' });
    expect(checkbox.json.userRef).toBe('cart-7781');
    await waitFor(async () => (await query(`SELECT id FROM "Subscriber" WHERE "userRef" = 'cart-7781'`)).length === 1, { what: 'user_ref subscriber' });
    const now = await sandboxNow();
    await emitRaw(PAGE, {
      object: 'page',
      entry: [{ id: PAGE, time: now, messaging: [{
        sender: { id: 'psid-from-checkbox' }, recipient: { id: PAGE }, timestamp: now + 10,
        message: { mid: 'm_checkbox_reply', text: 'Thanks!' }, prior_message: { source: 'checkbox_plugin', identifier: 'cart-7781' },
      }] }],
    });
    await allProcessed();
    const rows = await query(`SELECT psid, "userRef", "lastUserMessageAt" FROM "Subscriber" WHERE "userRef" = 'cart-7781' OR psid = 'psid-from-checkbox'`);
    expect(rows).toEqual([expect.objectContaining({ psid: 'psid-from-checkbox', userRef: 'cart-7781' })]);
    expect((rows[0]!.lastUserMessageAt as Date).getTime()).toBe(now + 10);
  });

  it('refuses missing, malformed and wrong signatures (401) and stores nothing, including for a unicode body', async () => {
    const before = await receiptCount();
    const now = await sandboxNow();
    const body = { object: 'page', entry: [{ id: PAGE, time: now, messaging: [{ sender: { id: 'u1' }, recipient: { id: PAGE }, timestamp: now, message: { mid: 'm_unicode', text: 'Grüße 👟 äöå' } }] }] };
    const metaBytes = toMetaJson(body);
    const appSecret = `app-secret-${PAGE}`;
    const post = (payload: string | Uint8Array, signature?: string) =>
      http('POST', `${stack.ingest.url}/webhooks/messenger`, payload, signature === undefined ? {} : { 'x-hub-signature-256': signature });

    expect((await post(metaBytes)).status).toBe(401);
    expect((await post(metaBytes, 'sha1=abc')).status).toBe(401);
    expect((await post(metaBytes, signPayload(metaBytes, 'some-other-secret'))).status).toBe(401);
    // Signed over Meta's escaped form, delivered re-serialised (raw UTF-8): the bytes differ, so it is refused.
    expect((await post(JSON.stringify(body), signPayload(metaBytes, appSecret))).status).toBe(401);
    // One byte changed after signing.
    const tampered = metaBytes.replace('Gr\\u00fc', 'Gr\\u00fd');
    expect((await post(tampered, signPayload(metaBytes, appSecret))).status).toBe(401);
    expect(await receiptCount()).toBe(before);

    // Raw UTF-8 bytes signed as sent are fine: the signature is over the exact bytes received.
    const utf8 = new TextEncoder().encode(JSON.stringify(body));
    expect((await post(utf8, signPayload(Buffer.from(utf8), appSecret))).status).toBe(200);
    expect((await post(metaBytes, signPayload(metaBytes, appSecret))).status).toBe(200);
    expect(await receiptCount()).toBe(before + 2);
  });

  it('answers 200 for a Page it does not serve and stores nothing', async () => {
    const before = await receiptCount();
    const result = await stack.trigger({ type: 'message', pageId: OTHER_PAGE, psid: 'x1', text: 'hello?' });
    expect(result.json.callback.status).toBe(200);
    expect(await receiptCount()).toBe(before);
  });

  it('acknowledges within 5 s even with Redis down, and the sweeper applies the stored receipt later', async () => {
    const offline = await startIngest(loadIngestConfig({ ...stack.services.env, REDIS_URL: 'redis://127.0.0.1:1', GRAPH_API_BASE_URL: stack.sandboxUrl }));
    try {
      const started = Date.now();
      const delivery = await stack.sandbox.dispatcher.send(
        stack.sandbox.state.getPage(PAGE),
        { object: 'page', entry: [{ id: PAGE, time: Date.now(), messaging: [{ sender: { id: 'u5' }, recipient: { id: PAGE }, timestamp: Date.now(), optin: { type: 'one_time_notif_req', payload: 'redis-down', one_time_notif_token: 'swept-token' } }] }] },
        { url: `${offline.url}/webhooks/messenger` },
      );
      expect(delivery.attempts.at(-1)!.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(await query(`SELECT id FROM "WebhookReceipt" WHERE "rawBody" LIKE '%swept-token%'`)).toHaveLength(1);
      const row = await waitFor(() => optInByToken('swept-token'), { what: 'swept receipt applied', timeoutMs: 15_000 });
      expect(row).toMatchObject({ topic: 'redis-down', kind: 'ONE_TIME' });
    } finally {
      await offline.close();
    }
  });

  it('pages through opt-ins with a keyset cursor and filters; shows a subscriber with its opt-ins', async () => {
    const all = await query<{ id: string }>(`SELECT id FROM "OptIn" WHERE "pageId" = $1 ORDER BY id`, [PAGE]);
    expect(all.length).toBeGreaterThan(5);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const result = await stack.api('GET', `/v1/pages/${PAGE}/optins?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(result.status).toBe(200);
      expect(result.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...result.json.items.map((item: { id: string }) => item.id));
      cursor = result.json.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.map((row) => row.id));

    const stopped = await stack.api('GET', `/v1/pages/${PAGE}/optins?status=stopped&kind=RECURRING`);
    expect(stopped.json.items.length).toBeGreaterThan(0);
    expect(stopped.json.items.every((item: { status: string; kind: string }) => item.status === 'STOPPED' && item.kind === 'RECURRING')).toBe(true);
    expect((await stack.api('GET', `/v1/pages/${PAGE}/optins?topic=weekly_deals`)).json.items).toEqual([expect.objectContaining({ psid: 'u2', title: 'Weekly deals' })]);
    expect((await stack.api('GET', `/v1/pages/${PAGE}/optins?limit=201`)).status).toBe(400);
    expect((await stack.api('GET', `/v1/pages/${PAGE}/optins?cursor=not-a-cursor`)).status).toBe(400);
    expect((await stack.api('GET', `/v1/pages/${PAGE}/optins?kind=SOMETIMES`)).status).toBe(400);
    expect((await stack.api('GET', `/v1/pages/999/optins`)).status).toBe(404);

    const subscriber = await stack.api('GET', `/v1/pages/${PAGE}/subscribers/u4`);
    expect(subscriber.status).toBe(200);
    expect(subscriber.json.subscriber).toMatchObject({ pageId: PAGE, psid: 'u4' });
    expect(subscriber.json.optIns.map((optIn: { topic: string }) => optIn.topic).sort()).toEqual(['price_drop:10', 'price_drop:9']);
    expect(subscriber.text).not.toMatch(/"token"/);
    expect((await stack.api('GET', `/v1/pages/${PAGE}/subscribers/nobody`)).status).toBe(404);
  });

  it('is idempotent: re-running every receipt, in any order, changes no token or subscriber', async () => {
    const snapshot = async () => ({
      optIns: await query(`SELECT token, "subscriberId", kind, topic, title, frequency, timezone, status, "statusAt", "expiresAt" FROM "OptIn" ORDER BY token`),
      subscribers: await query(`SELECT psid, "userRef", "lastUserMessageAt" FROM "Subscriber" ORDER BY psid, "userRef"`),
    });
    const before = await snapshot();
    expect(before.optIns.length).toBeGreaterThan(8);
    const reset = await stack.ingest.deps.db.pool.query(`UPDATE "WebhookReceipt" SET "processedAt" = NULL`);
    expect(reset.rowCount).toBeGreaterThan(10);
    // The sweeper re-enqueues them all at once; the worker applies them concurrently, in no particular order.
    await waitFor(async () => (await unprocessed()) === 0, { what: 'receipts re-processed', timeoutMs: 20_000 });
    expect(await snapshot()).toEqual(before);
  });
});
