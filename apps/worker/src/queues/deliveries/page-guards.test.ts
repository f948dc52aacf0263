import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint } from '@renotify/observability';
import { nextAllowedTime } from '@renotify/domain';
import { waitFor } from '@renotify/testing';
import { deliveryCounts, messagesByPsid, seedTokens, startStack, TEST_PAGE, type Stack } from '../../test-support/stack.js';

const PAGE = TEST_PAGE.id;
const backInStock = (id: string, productId: string) => ({ id, type: 'back_in_stock', pageId: PAGE, productId, productName: 'Trail Sneaker' });
const hh = (hour: number) => `${String(((hour % 24) + 24) % 24).padStart(2, '0')}:00`;

/**
 * #14 items 4 and 5 end to end (ingest → fan-out → dispatch → sandbox as Meta): guards switched on through the API
 * change what is sent; a stopped person is sent nothing; an erased person leaves nothing behind.
 */
describe('per-Page guards and subscribers, end to end', () => {
  let stack: Stack;
  const query = async <T = Record<string, unknown>>(sql: string, values: unknown[] = []) => (await stack.db.pool.query(sql, values)).rows as T[];
  const settle = (eventId: string, expected: Record<string, number>) =>
    waitFor(async () => JSON.stringify(await deliveryCounts(stack.db, eventId)) === JSON.stringify(expected), { timeoutMs: 20_000, what: `${eventId} → ${JSON.stringify(expected)}` });
  const post = async (event: Record<string, unknown>) => expect((await stack.api('POST', '/v1/events', event)).status).toBe(202);
  const patchPage = async (body: Record<string, unknown>) => {
    const patched = await stack.api('PATCH', `/v1/pages/${PAGE}`, body);
    expect(patched.status).toBe(200);
    return patched.body;
  };

  beforeAll(async () => {
    stack = await startStack('pageguards');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("quiet hours set through the API defer a delivery in the person's zone (set through the API) and let another through", async () => {
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:q1', count: 1, psidPrefix: 'quiet-tokyo-' });
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:q1', count: 1, psidPrefix: 'quiet-utc-' });
    const zoned = await stack.api('PATCH', `/v1/pages/${PAGE}/subscribers/quiet-tokyo-0`, { timezone: 'Asia/Tokyo' });
    expect(zoned.status).toBe(200);
    // Quiet from an hour ago to two hours ahead on Tokyo's clock (UTC+9, no DST): it is quiet there now, not in UTC.
    const tokyoHour = (new Date().getUTCHours() + 9) % 24;
    const quietHours = { start: hh(tokyoHour - 1), end: hh(tokyoHour + 2) };
    expect(await patchPage({ quietHours })).toMatchObject({ quietHours: { ...quietHours, timeZone: null } });

    await post(backInStock('quiet-1', 'q1'));
    await settle('quiet-1', { 'PENDING:QUIET_HOURS': 1, SENT: 1 });
    const [deferred] = await query<{ notBefore: Date }>(
      `SELECT d."notBefore" FROM "Delivery" d JOIN "OptIn" o ON o.id = d."optInId" JOIN "Subscriber" s ON s.id = o."subscriberId" WHERE d."sourceId" = 'quiet-1' AND s.psid = 'quiet-tokyo-0'`,
    );
    const expectedEnd = nextAllowedTime(quietHours, 'Asia/Tokyo', new Date());
    expect(Math.abs(deferred!.notBefore.getTime() - expectedEnd.getTime())).toBeLessThan(60_000);
    const sent = await messagesByPsid(stack);
    expect(sent.get('quiet-utc-0')).toBe(1);
    expect(sent.has('quiet-tokyo-0')).toBe(false);
    await patchPage({ quietHours: null });
  });

  it('a per-person cap set through the API skips the capped person across topics; null switches it off', async () => {
    expect(await patchPage({ userCap: { maxSends: 1, windowHours: 24 } })).toMatchObject({ userCap: { maxSends: 1, windowHours: 24 } });
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:c1', count: 1, psidPrefix: 'cap-a-' });
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:c2', count: 1, psidPrefix: 'cap-a-' });
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:c3', count: 1, psidPrefix: 'cap-a-' });
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:c2', count: 1, psidPrefix: 'cap-b-' });

    await post(backInStock('cap-1', 'c1'));
    await settle('cap-1', { SENT: 1 });
    // cap-a-0 had their one notification of the day on another topic; cap-b-0 had none.
    await post(backInStock('cap-2', 'c2'));
    await settle('cap-2', { SENT: 1, 'SKIPPED:USER_CAP': 1 });
    const sent = await messagesByPsid(stack);
    expect(sent.get('cap-a-0')).toBe(1);
    expect(sent.get('cap-b-0')).toBe(1);

    await patchPage({ userCap: null });
    await post(backInStock('cap-3', 'c3'));
    await settle('cap-3', { SENT: 1 });
    expect((await messagesByPsid(stack)).get('cap-a-0')).toBe(2);
  });

  it("stop: nothing is sent on the next event; the person's own new opt-in through Meta counts again", async () => {
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:s1', count: 1, psidPrefix: 'stop-' });
    const stopped = await stack.api('POST', `/v1/pages/${PAGE}/subscribers/stop-0/stop`);
    expect(stopped).toEqual({ status: 200, body: { stoppedTokens: 1, skippedDeliveries: 0 } });
    expect(await stack.api('POST', `/v1/pages/${PAGE}/subscribers/stop-0/stop`)).toEqual({ status: 200, body: { stoppedTokens: 0, skippedDeliveries: 0 } });

    await post(backInStock('stop-1', 's1'));
    await waitFor(async () => (await query<{ status: string }>(`SELECT status FROM "Event" WHERE id = 'stop-1'`))[0]?.status === 'FANNED_OUT', { what: 'stop-1 fanned out' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const counts = await deliveryCounts(stack.db, 'stop-1');
    expect(counts.SENT).toBeUndefined();
    expect((await messagesByPsid(stack)).has('stop-0')).toBe(false);

    // The person asks again (a new token from Meta): the business's stop does not outlive the person's own choice.
    await stack.control('POST', '/webhooks/trigger', { type: 'one_time_optin', pageId: PAGE, psid: 'stop-0', payload: 'back_in_stock:s1', title: 'Back in stock' });
    await waitFor(async () => (await stack.api('GET', `/v1/pages/${PAGE}/subscribers?topic=back_in_stock:s1`)).body.items.some((item: { psid: string }) => item.psid === 'stop-0'), {
      what: 'the new opt-in stored',
    });
    await post(backInStock('stop-2', 's1'));
    // The old token stays stopped (recorded as skipped), the new one is sent.
    await settle('stop-2', { SENT: 1, 'SKIPPED:STOPPED': 1 });
    expect((await messagesByPsid(stack)).get('stop-0')).toBe(1);
  });

  it('erase after real webhooks and sends: the PSID and the tokens appear in no table; a second erase answers the same', async () => {
    const psid = 'erase-e2e-4711';
    await stack.control('POST', `/pages/${PAGE}/users`, { psid, windowOpen: true });
    const optIn = await stack.control('POST', '/webhooks/trigger', { type: 'one_time_optin', pageId: PAGE, psid, payload: 'back_in_stock:e1', title: 'Back in stock' });
    const token = optIn.token.token as string;
    await waitFor(async () => (await query(`SELECT id FROM "OptIn" WHERE token = $1`, [token])).length === 1, { what: 'token stored from the webhook' });
    await post(backInStock('erase-1', 'e1'));
    await settle('erase-1', { SENT: 1 });
    expect((await query(`SELECT id FROM "WebhookReceipt" WHERE strpos("rawBody", $1) > 0`, [psid])).length).toBeGreaterThan(0);
    // The person writes (their 24h window opens), and the business asks them to opt in to more, with an
    // Idempotency-Key: the stored answer (24 h in Redis) names the PSID.
    await stack.control('POST', '/webhooks/trigger', { type: 'message', pageId: PAGE, psid, text: 'hello' });
    await waitFor(async () => (await stack.api('GET', `/v1/pages/${PAGE}/subscribers?windowOpen=true`)).body.items.some((item: { psid: string }) => item.psid === psid), { what: 'window open' });
    const asked = await fetch(`${stack.ingest.url}/v1/optin-requests`, {
      method: 'POST',
      headers: { authorization: 'Bearer demo-api-key', 'content-type': 'application/json', 'idempotency-key': 'erase-e2e-ask-1' },
      body: JSON.stringify({ pageId: PAGE, psid, kind: 'ONE_TIME', topic: 'back_in_stock:e2', title: 'Back in stock again' }),
    });
    expect(asked.status).toBe(201);
    const redis = stack.ingest.deps.redis;
    const storedAnswers = async () => {
      const keys = await redis.keys(`${stack.ingest.deps.config.QUEUE_PREFIX}:idempotency:*`);
      const values = keys.length ? await redis.mget(...keys) : [];
      return values.filter((value) => value?.includes(psid)).length;
    };
    expect(await storedAnswers()).toBe(1);

    expect((await stack.api('DELETE', `/v1/pages/${PAGE}/subscribers/${psid}`)).status).toBe(204);
    const needles = [psid, token, fingerprint(token)];
    const tables = await query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`);
    for (const { table_name: table } of tables) {
      const rows = await query<{ row: string }>(`SELECT t::text AS row FROM "${table}" t`);
      for (const { row } of rows) for (const needle of needles) expect(row, `${table} still holds ${needle}`).not.toContain(needle);
    }
    expect(await storedAnswers()).toBe(0);
    // The send is still counted, anonymously.
    expect(await deliveryCounts(stack.db, 'erase-1')).toEqual({ SENT: 1 });
    expect((await stack.api('DELETE', `/v1/pages/${PAGE}/subscribers/${psid}`)).status).toBe(204);
    const audit = await query<{ details: Record<string, number> }>(`SELECT details FROM "AuditLog" WHERE action = 'SUBSCRIBER_ERASED' ORDER BY at`);
    expect(audit.map((entry) => entry.details.tokens)).toEqual([1, 0]);
    expect(JSON.stringify(audit)).not.toContain(psid);
  });
});
