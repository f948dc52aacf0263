import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@renotify/testing';
import { startWebhookStack, type WebhookStack } from '../../test-support/webhook-stack.js';

const PAGE_A = '310000000000001';
const PAGE_B = '310000000000002';

/** Issue #10.5: a webhook is verified for one Page; it may never look up or change another Page's tokens. */
describe('page scoping of webhook token changes', () => {
  let stack: WebhookStack;
  const query = async <T = Record<string, unknown>>(sql: string, values: unknown[] = []) => (await stack.ingest.deps.db.pool.query(sql, values)).rows as T[];
  const rowOf = async (token: string) => (await query(`SELECT "pageId", topic, title, frequency, status, "statusAt", "expiresAt", "subscriberId" FROM "OptIn" WHERE token = $1`, [token]))[0];
  const unprocessed = async () => Number((await query<{ n: string }>(`SELECT count(*) AS n FROM "WebhookReceipt" WHERE "processedAt" IS NULL`))[0]!.n);
  const sandboxNow = async () => (await stack.sb('GET', '/__sandbox/clock')).json.now as number;
  /** A webhook the sandbox signs with Page A's app secret, as Meta would for Page A. */
  const emitForPageA = async (messaging: Record<string, unknown>) => {
    await stack.sb('POST', '/__sandbox/clock', { advanceMs: 60_000 });
    const now = await sandboxNow();
    const body = { object: 'page', entry: [{ id: PAGE_A, time: now, messaging: [{ sender: { id: 'a-user' }, recipient: { id: PAGE_A }, timestamp: now, ...messaging }] }] };
    const delivery = await stack.sandbox.dispatcher.send(stack.sandbox.state.getPage(PAGE_A), body);
    expect(delivery.attempts.at(-1)!.status).toBe(200);
    await waitFor(async () => (await unprocessed()) === 0, { what: 'the receipt processed' });
  };

  beforeAll(async () => {
    stack = await startWebhookStack('pagescope');
    await stack.createPage(PAGE_A, ['a-user']);
    await stack.createPage(PAGE_B, ['b-user']);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("Page A's webhook carrying Page B's recurring token changes neither topic, frequency nor status of B's row", async () => {
    const optIn = await stack.trigger({ type: 'recurring_optin', pageId: PAGE_B, psid: 'b-user', payload: 'b-deals', title: 'B deals', frequency: 'WEEKLY' });
    const token = optIn.json.token.token as string;
    const before = await waitFor(() => rowOf(token), { what: "B's token stored" });
    expect(before).toMatchObject({ pageId: PAGE_B, topic: 'b-deals', frequency: 'WEEKLY', status: 'ACTIVE' });

    await emitForPageA({ optin: { type: 'notification_messages', payload: 'a-hijack', title: 'Hijack', notification_messages_token: token, notification_messages_frequency: 'DAILY' } });
    await emitForPageA({ optin: { type: 'notification_messages', notification_messages_token: token, notification_messages_status: 'STOP NOTIFICATIONS', payload: 'a-hijack' } });

    expect(await rowOf(token)).toEqual(before);
    // Refused loudly, not silently: one dead letter per event, naming the reason (the token only as a fingerprint).
    const letters = await query<{ reason: string }>(`SELECT reason FROM "DeadLetter" WHERE reason LIKE '%stored for another Page%' ORDER BY "createdAt"`);
    expect(letters.map((letter) => letter.reason)).toEqual([
      expect.stringMatching(new RegExp(`^recurring_optin for token fp_[0-9a-f]{12}, which is stored for another Page: a webhook for Page ${PAGE_A} cannot change it$`)),
      expect.stringMatching(/^recurring_status for token fp_[0-9a-f]{12}, which is stored for another Page/),
    ]);
    // Page A gained no row for the token either.
    expect(await query(`SELECT id FROM "OptIn" WHERE "pageId" = $1 AND token = $2`, [PAGE_A, token])).toEqual([]);

    // B's own STOP still applies.
    await stack.sb('POST', '/__sandbox/clock', { advanceMs: 60_000 });
    await stack.trigger({ type: 'recurring_status', pageId: PAGE_B, token, status: 'STOP' });
    await waitFor(async () => (await rowOf(token))?.status === 'STOPPED', { what: "B's own STOP applied" });
  });

  it("Page A's webhook carrying Page B's one-time token is refused and leaves B's row as it was", async () => {
    const optIn = await stack.trigger({ type: 'one_time_optin', pageId: PAGE_B, psid: 'b-user', payload: 'b-restock', title: 'B restock' });
    const token = optIn.json.token.token as string;
    const before = await waitFor(() => rowOf(token), { what: "B's one-time token stored" });
    await emitForPageA({ optin: { type: 'one_time_notif_req', payload: 'a-restock', one_time_notif_token: token } });
    expect(await rowOf(token)).toEqual(before);
    const letters = await query(`SELECT reason FROM "DeadLetter" WHERE reason LIKE 'one_time_optin for token %stored for another Page%'`);
    expect(letters).toHaveLength(1);
  });

  it("reconciling Page A with Meta's list leaves a token stored for Page B untouched", async () => {
    // Meta lists a token for Page A that our store holds for Page B (as a tampered or mixed-up store would).
    const issued = await stack.sb('POST', `/__sandbox/pages/${PAGE_A}/tokens/bulk`, { count: 1, kind: 'RECURRING', payload: 'a-listed', title: 'A listed', psidPrefix: 'a-listed-' });
    const token = issued.json.tokens[0].token as string;
    const subscriber = (await query<{ id: string }>(`SELECT id FROM "Subscriber" WHERE "pageId" = $1 AND psid = 'b-user'`, [PAGE_B]))[0]!;
    await query(
      `INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, token, "tokenFingerprint", frequency, status, "statusAt", "updatedAt")
       VALUES ($1, $2, 'RECURRING', 'b-held', $3, 'fp_b_held', 'MONTHLY', 'STOPPED', now(), now())`,
      [PAGE_B, subscriber.id, token],
    );
    const before = await rowOf(token);
    const report = await stack.api('POST', `/v1/pages/${PAGE_A}/reconcile`);
    expect(report.status).toBe(200);
    expect(report.json).toMatchObject({ pageId: PAGE_A, added: 0, updated: 0, foreignTokens: 1 });
    expect(await rowOf(token)).toEqual(before);
  });
});
