import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appSecretProof } from '@renotify/messenger';
import { fingerprint } from '@renotify/observability';
import { QueueName, WebhooksJobName } from '@renotify/queue';
import { waitFor } from '@renotify/testing';
import { http, RECONCILE_SCHEDULER_ID, scheduleReconciliation, startWebhookStack, type TestPage, type WebhookStack } from './support.js';

const PAGE = '400000000000001';
const RECONCILE_PAGE = '400000000000002';
const DAY_MS = 24 * 3600_000;

describe('opt-in requests and reconciliation (through the sandbox)', () => {
  let stack: WebhookStack;
  let page: TestPage;
  const query = async <T = Record<string, unknown>>(sql: string, values: unknown[] = []) =>
    (await stack.ingest.deps.db.pool.query(sql, values)).rows as T[];
  const request = (body: Record<string, unknown>) => stack.api('POST', '/v1/optin-requests', { pageId: PAGE, ...body });
  /** The person writes to the Page: Renotify learns it from the webhook, which opens the 24h window. */
  const personMessages = async (pageId: string, psid: string) => {
    const result = await stack.trigger({ type: 'message', pageId, psid, text: 'hello' });
    const at = result.json.payload.entry[0].messaging[0].timestamp as number;
    await waitFor(async () => ((await query(`SELECT "lastUserMessageAt" FROM "Subscriber" WHERE psid = $1`, [psid]))[0]?.lastUserMessageAt as Date | undefined)?.getTime() === at, { what: `${psid} window` });
  };
  const lastCard = async (pageId: string, psid: string) => {
    const thread = await stack.sb('GET', `/__sandbox/pages/${pageId}/users/${psid}/thread`);
    return thread.json.items.filter((item: { from: string }) => item.from === 'page').at(-1);
  };
  const setFaults = (errors: Array<Record<string, unknown>>) => stack.sb('PUT', `/__sandbox/pages/${PAGE}/faults`, { errors });

  beforeAll(async () => {
    stack = await startWebhookStack('optinrequests');
    page = await stack.createPage(PAGE, ['a1', 'a2', 'a3', 'a4', 'a5']);
    await stack.createPage(RECONCILE_PAGE, ['r1', 'r2', 'r3']);
    for (const psid of ['a1', 'a2', 'a4', 'a5']) await personMessages(PAGE, psid);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('sends a one-time request whose topic comes from topicFor; the answer lands under that topic', async () => {
    const sent = await request({ psid: 'a1', kind: 'one_time', subject: { type: 'back_in_stock', productId: '123', variant: '42' }, title: 'Size 42 is back in stock' });
    expect(sent.status).toBe(201);
    expect(sent.json).toMatchObject({ pageId: PAGE, psid: 'a1', kind: 'ONE_TIME', topic: 'back_in_stock:123:42', title: 'Size 42 is back in stock', messageId: expect.any(String) });
    const card = await lastCard(PAGE, 'a1');
    expect(card.mid).toBe(sent.json.messageId);
    expect(card.card).toMatchObject({ type: 'one_time', title: 'Size 42 is back in stock', payload: 'back_in_stock:123:42' });

    const answer = await stack.trigger({ type: 'one_time_optin', pageId: PAGE, psid: 'a1', inReplyTo: card.mid });
    const token = answer.json.token.token as string;
    await waitFor(async () => (await stack.api('GET', `/v1/pages/${PAGE}/optins?topic=back_in_stock:123:42`)).json.items.length === 1);
    const listed = await stack.api('GET', `/v1/pages/${PAGE}/optins?topic=${encodeURIComponent('back_in_stock:123:42')}&kind=one_time`);
    expect(listed.json.items[0]).toMatchObject({ psid: 'a1', tokenFingerprint: fingerprint(token), status: 'ACTIVE' });
    const recorded = await query(`SELECT kind, topic, title, "messageId" FROM "OptInRequest" WHERE "messageId" = $1`, [sent.json.messageId]);
    expect(recorded).toEqual([{ kind: 'ONE_TIME', topic: 'back_in_stock:123:42', title: 'Size 42 is back in stock', messageId: sent.json.messageId }]);
  });

  it('sends a recurring request with frequency, time zone and CTA; the opt-in is stored as RECURRING', async () => {
    const sent = await request({ psid: 'a2', kind: 'recurring', topic: 'weekly_deals', title: 'Weekly deals', frequency: 'WEEKLY', timezone: 'Europe/Paris', ctaText: 'GET' });
    expect(sent.status).toBe(201);
    const card = await lastCard(PAGE, 'a2');
    const answer = await stack.trigger({ type: 'recurring_optin', pageId: PAGE, psid: 'a2', inReplyTo: card.mid });
    const row = await waitFor(async () => (await query(`SELECT * FROM "OptIn" WHERE token = $1`, [answer.json.token.token]))[0]);
    expect(row).toMatchObject({ kind: 'RECURRING', topic: 'weekly_deals', title: 'Weekly deals', frequency: 'WEEKLY', timezone: 'Europe/Paris' });
  });

  it('refuses titles over 65 characters (400), counting characters as Meta does', async () => {
    const long = await request({ psid: 'a4', kind: 'one_time', topic: 't', title: 'x'.repeat(66) });
    expect(long.status).toBe(400);
    expect(long.json.error.details).toEqual([{ path: 'title', message: 'title is 66 characters; Meta allows at most 65' }]);
    // 65 emoji are 130 UTF-16 units but 65 characters.
    expect((await request({ psid: 'a4', kind: 'one_time', topic: 'emoji', title: '👟'.repeat(65) })).status).toBe(201);
  });

  it('refuses outside the 24h window (409): never messaged, or last message over a day ago', async () => {
    const never = await request({ psid: 'a3', kind: 'one_time', topic: 't', title: 'Never messaged' });
    expect(never.status).toBe(409);
    expect(never.json.error).toMatchObject({ code: 'outside_window', message: expect.stringContaining('never messaged') });
    await stack.ingest.deps.db.pool.query(`UPDATE "Subscriber" SET "lastUserMessageAt" = now() - interval '25 hours' WHERE psid = 'a5'`);
    const stale = await request({ psid: 'a5', kind: 'one_time', topic: 't', title: 'Too late' });
    expect(stale.status).toBe(409);
    expect(stale.json.error.message).toMatch(/within 24 hours/);
    await personMessages(PAGE, 'a5');
  });

  it('answers 404 for an unknown Page and 400 for bad input, listing every problem', async () => {
    const unknown = await stack.api('POST', '/v1/optin-requests', { pageId: '999', psid: 'a1', kind: 'one_time', topic: 't', title: 'x' });
    expect(unknown.status).toBe(404);
    const bad = await request({ psid: 'a1', kind: 'one_time', topic: 't', subject: { type: 'price_drop', productId: 1 }, title: 'x', frequency: 'DAILY' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['frequency', 'topic']);
    expect((await request({ psid: 'a1', kind: 'sometimes', topic: 't', title: 'x' })).status).toBe(400);
  });

  it("maps Meta's refusals to a status, code and readable reason, and releases the 7-day slot", async () => {
    const cases = [
      { fault: { code: 613, subcode: 1893016 }, status: 409, code: 'meta_duplicate_request' },
      { fault: { code: 4, subcode: null }, status: 429, code: 'meta_throttled' },
      { fault: { code: 190, subcode: 460, httpStatus: 401 }, status: 502, code: 'meta_access_token_invalid' },
      { fault: { code: 2, subcode: null, httpStatus: 503 }, status: 502, code: 'meta_unavailable' },
    ];
    try {
      for (const { fault, status, code } of cases) {
        await setFaults([{ ...fault, rate: 1 }]);
        const refused = await request({ psid: 'a5', kind: 'recurring', topic: 'flash', title: 'Flash sales' });
        expect(refused.status, code).toBe(status);
        expect(refused.json.error).toMatchObject({ code, message: expect.stringMatching(/^Meta refused the opt-in request: /), meta: { code: fault.code, subcode: fault.subcode } });
        expect(refused.text).not.toContain('"error":{"message"');
      }
    } finally {
      await setFaults([]);
    }
    expect(await query(`SELECT id FROM "OptInRequest" WHERE title = 'Flash sales'`)).toEqual([]);
    // Renotify thinks the window is open, Meta knows it is not: Meta's 10/2018278 comes back as outside_window.
    await stack.sb('PATCH', `/__sandbox/pages/${PAGE}/users/a5`, { lastUserMessageAt: Date.now() - 2 * DAY_MS });
    const closed = await request({ psid: 'a5', kind: 'one_time', topic: 'flash', title: 'Flash sales' });
    expect(closed.status).toBe(409);
    expect(closed.json.error).toMatchObject({ code: 'outside_window', meta: { code: 10, subcode: 2018278 } });
    // With everything healthy the same request goes through.
    await personMessages(PAGE, 'a5');
    expect((await request({ psid: 'a5', kind: 'recurring', topic: 'flash', title: 'Flash sales' })).status).toBe(201);
  });

  it('refuses the same title to the same person within 7 days (409)', async () => {
    const again = await request({ psid: 'a1', kind: 'recurring', topic: 'another_topic', title: 'Size 42 is back in stock' });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('duplicate_title');
    expect(again.json.error.message).toMatch(/one per title per person per week/);
    // A week later it is allowed again (Meta, played by the sandbox, keeps the same rule on its own clock).
    await stack.ingest.deps.db.pool.query(`UPDATE "OptInRequest" SET "sentAt" = "sentAt" - interval '7 days 1 minute' WHERE title = 'Size 42 is back in stock'`);
    await stack.sb('POST', '/__sandbox/clock', { advanceMs: 7 * DAY_MS + 60_000 });
    await personMessages(PAGE, 'a1');
    expect((await request({ psid: 'a1', kind: 'one_time', topic: 'back_in_stock:123:42', title: 'Size 42 is back in stock' })).status).toBe(201);
    await stack.sb('POST', '/__sandbox/clock', { now: Date.now() });
  });

  describe('reconciliation', () => {
    it('adds tokens Meta has that we lack, corrects drift, and reports it; a second run changes nothing', async () => {
      // r1 asks for "Flash deals" through Renotify, but the opt-in webhook never arrives.
      await personMessages(RECONCILE_PAGE, 'r1');
      const sent = await stack.api('POST', '/v1/optin-requests', { pageId: RECONCILE_PAGE, psid: 'r1', kind: 'recurring', topic: 'flash_deals', title: 'Flash deals' });
      expect(sent.status).toBe(201);
      const callback = stack.sandbox.dispatcher.url;
      stack.sandbox.dispatcher.url = undefined;
      let lost: string;
      try {
        lost = (await stack.trigger({ type: 'recurring_optin', pageId: RECONCILE_PAGE, psid: 'r1', inReplyTo: (await lastCard(RECONCILE_PAGE, 'r1')).mid })).json.token.token;
        // 130 more tokens only Meta knows about: more than one page of the listing.
        const bulk = await stack.sb('POST', `/__sandbox/pages/${RECONCILE_PAGE}/tokens/bulk`, { count: 130, kind: 'RECURRING', payload: 'deals', title: 'Deals', psidPrefix: 'bulk-' });
        expect(bulk.json.count).toBe(130);
      } finally {
        stack.sandbox.dispatcher.url = callback;
      }
      // r2 opted in normally; then our copy drifts (expired here, next-eligible unknown) while Meta sent with it.
      const known = (await stack.trigger({ type: 'recurring_optin', pageId: RECONCILE_PAGE, psid: 'r2', payload: 'news', title: 'News' })).json.token;
      await waitFor(async () => (await query(`SELECT id FROM "OptIn" WHERE token = $1`, [known.token])).length === 1);
      const send = await http('POST', `${stack.sandboxUrl}/v24.0/${RECONCILE_PAGE}/messages?appsecret_proof=${appSecretProof(`page-token-${RECONCILE_PAGE}`, `app-secret-${RECONCILE_PAGE}`)}`, { recipient: { notification_messages_token: known.token }, message: { text: 'Today\'s news' } }, { authorization: `Bearer page-token-${RECONCILE_PAGE}` });
      expect(send.status).toBe(200);
      await stack.ingest.deps.db.pool.query(`UPDATE "OptIn" SET status = 'EXPIRED', "expiresAt" = now() - interval '1 day' WHERE token = $1`, [known.token]);

      const report = await stack.api('POST', `/v1/pages/${RECONCILE_PAGE}/reconcile`);
      expect(report.status).toBe(200);
      expect(report.json).toMatchObject({ pageId: RECONCILE_PAGE, fetched: 132, added: 131, updated: 1, unchanged: 0 });
      expect(report.text).not.toContain(known.token);
      const drift = report.json.details.find((detail: { action: string }) => detail.action === 'updated');
      expect(drift).toMatchObject({ tokenFingerprint: fingerprint(known.token), psid: 'r2', changes: { status: ['EXPIRED', 'ACTIVE'] } });
      // Meta also knows the token's time zone (UTC here), which the webhook did not carry.
      expect(drift.changes.timezone).toEqual([null, 'UTC']);
      expect(Object.keys(drift.changes).sort()).toEqual(['expiresAt', 'nextEligibleAt', 'status', 'timezone']);

      const lostRow = (await query(`SELECT o.*, s.psid FROM "OptIn" o JOIN "Subscriber" s ON s.id = o."subscriberId" WHERE token = $1`, [lost!]))[0];
      // The listing has only the title; the opt-in request we sent with that title knows the topic.
      expect(lostRow).toMatchObject({ psid: 'r1', kind: 'RECURRING', topic: 'flash_deals', title: 'Flash deals', status: 'ACTIVE' });
      expect(await query(`SELECT id FROM "OptIn" WHERE "pageId" = $1 AND topic = 'Deals'`, [RECONCILE_PAGE])).toHaveLength(130);
      const fixed = (await query(`SELECT status, "expiresAt", "nextEligibleAt" FROM "OptIn" WHERE token = $1`, [known.token]))[0]!;
      expect(fixed.status).toBe('ACTIVE');
      expect((fixed.nextEligibleAt as Date).getTime()).toBeGreaterThan(Date.now());

      const second = await stack.api('POST', `/v1/pages/${RECONCILE_PAGE}/reconcile`);
      expect(second.json).toMatchObject({ fetched: 132, added: 0, updated: 0, unchanged: 132, notListedByMeta: 0, details: [] });
    });

    it('runs as a reconcile job on the webhooks queue too', async () => {
      await stack.ingest.deps.db.pool.query(`DELETE FROM "OptIn" WHERE id IN (SELECT id FROM "OptIn" WHERE "pageId" = $1 AND topic = 'Deals' LIMIT 3)`, [RECONCILE_PAGE]);
      await stack.ingest.deps.queues[QueueName.webhooks].add(WebhooksJobName.reconcile, { pageId: RECONCILE_PAGE });
      await waitFor(async () => (await query(`SELECT id FROM "OptIn" WHERE "pageId" = $1 AND topic = 'Deals'`, [RECONCILE_PAGE])).length === 130, { what: 'tokens restored by the job' });
    });

    it('schedules the all-Pages run by cron (nothing runs at install), and that run repairs every Page', async () => {
      const queue = stack.ingest.deps.queues[QueueName.webhooks];
      await scheduleReconciliation(queue, '0 3 * * *');
      const scheduler = await queue.getJobScheduler(RECONCILE_SCHEDULER_ID);
      expect(scheduler).toMatchObject({ pattern: '0 3 * * *', name: WebhooksJobName.reconcile });
      const delayed = await queue.getJobs(['delayed']);
      expect(delayed.filter((job) => job.name === WebhooksJobName.reconcile).every((job) => job.delay > 0)).toBe(true);
      await queue.removeJobScheduler(RECONCILE_SCHEDULER_ID);

      await stack.ingest.deps.db.pool.query(`DELETE FROM "OptIn" WHERE id IN (SELECT id FROM "OptIn" WHERE "pageId" = $1 AND topic = 'Deals' LIMIT 2)`, [RECONCILE_PAGE]);
      await queue.add(WebhooksJobName.reconcile, {});
      await waitFor(async () => (await query(`SELECT id FROM "OptIn" WHERE "pageId" = $1 AND topic = 'Deals'`, [RECONCILE_PAGE])).length === 130, { what: 'all-Pages run' });
    });

    it('answers 404 for an unknown Page', async () => {
      expect((await stack.api('POST', '/v1/pages/999/reconcile')).status).toBe(404);
      expect(page.id).toBe(PAGE);
    });
  });
});
