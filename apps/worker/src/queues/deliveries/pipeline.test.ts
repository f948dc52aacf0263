import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@renotify/testing';
import { allFinal, deliveryCounts, messagesByPsid, seedTokens, startStack, TEST_PAGE, type Stack } from '../../test-support/stack.js';

const backInStock = (id: string, productId: string, variant?: string) => ({
  id,
  type: 'back_in_stock',
  pageId: TEST_PAGE.id,
  productId,
  productName: 'Trail Sneaker',
  ...(variant ? { variant } : {}),
});

async function postAndSettle(stack: Stack, event: Record<string, unknown>) {
  const posted = await stack.api('POST', '/v1/events', event);
  expect(posted.status).toBe(202);
  await waitFor(() => allFinal(stack.db, String(event.id)), { timeoutMs: 20_000, what: `deliveries of ${String(event.id)} to be final` });
  return deliveryCounts(stack.db, String(event.id));
}

describe('notification pipeline (ingest → fan-out → dispatch → sandbox)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack('pipeline');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('sends a back-in-stock event to exactly the matching one-time tokens, once, and never again', async () => {
    const anySize = await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:p1', count: 3, psidPrefix: 'any-' });
    const size42 = await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:p1:42', count: 4, psidPrefix: 's42-' });
    const size43 = await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:p1:43', count: 2, psidPrefix: 's43-' });
    const otherProduct = await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:p2', count: 2, psidPrefix: 'p2-' });

    expect(await postAndSettle(stack, backInStock('bis-1', 'p1', '42'))).toEqual({ SENT: 7 });
    const sent = await messagesByPsid(stack);
    for (const token of [...anySize, ...size42]) expect(sent.get(token.psid)).toBe(1);
    for (const token of [...size43, ...otherProduct]) expect(sent.has(token.psid)).toBe(false);

    // A second event for the same product, and a replay of the first: nobody is messaged again.
    const second = await stack.api('POST', '/v1/events', backInStock('bis-2', 'p1', '42'));
    expect(second.status).toBe(202);
    const replay = await stack.api('POST', '/v1/events', backInStock('bis-1', 'p1', '42'));
    expect(replay.status).toBe(202);
    await waitFor(async () => (await stack.db.pool.query(`SELECT status FROM "Event" WHERE id = 'bis-2'`)).rows[0]?.status === 'FANNED_OUT', { what: 'bis-2 fan-out' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await deliveryCounts(stack.db, 'bis-2')).toEqual({});
    expect(await deliveryCounts(stack.db, 'bis-1')).toEqual({ SENT: 7 });
    const after = await messagesByPsid(stack);
    for (const token of [...anySize, ...size42]) expect(after.get(token.psid)).toBe(1);
    const { rows } = await stack.db.pool.query(`SELECT count(*)::int AS n FROM "OptIn" WHERE topic LIKE 'back_in_stock:p1%' AND status = 'USED'`);
    expect(rows[0].n).toBe(7);
  });

  it('sends recurring tokens once per window, and skips stopped and expired tokens with the reason', async () => {
    const daily = await seedTokens(stack, { kind: 'RECURRING', topic: 'daily-deals', count: 3, frequency: 'DAILY', psidPrefix: 'dd-' });
    const stopped = await seedTokens(stack, { kind: 'RECURRING', topic: 'daily-deals', count: 1, psidPrefix: 'dd-stop-' });
    const expired = await seedTokens(stack, { kind: 'RECURRING', topic: 'daily-deals', count: 1, psidPrefix: 'dd-exp-' });
    await stack.db.pool.query(`UPDATE "OptIn" SET status = 'STOPPED' WHERE id = $1`, [stopped[0]!.optInId]);
    await stack.db.pool.query(`UPDATE "OptIn" SET "expiresAt" = now() - interval '1 hour' WHERE id = $1`, [expired[0]!.optInId]);
    const deal = (id: string) => ({ id, type: 'custom', pageId: TEST_PAGE.id, topic: 'daily-deals', text: `Deal of the day (${id})` });

    expect(await postAndSettle(stack, deal('deal-1'))).toEqual({ SENT: 3, 'SKIPPED:STOPPED': 1, 'SKIPPED:TOKEN_EXPIRED': 1 });
    expect(await postAndSettle(stack, deal('deal-2'))).toEqual({ 'SKIPPED:FREQUENCY_WINDOW': 3, 'SKIPPED:STOPPED': 1 });
    const sent = await messagesByPsid(stack);
    for (const token of daily) expect(sent.get(token.psid)).toBe(1);
    expect(sent.has(stopped[0]!.psid)).toBe(false);
    expect(sent.has(expired[0]!.psid)).toBe(false);
    const { rows } = await stack.db.pool.query(`SELECT status FROM "OptIn" WHERE id = $1`, [expired[0]!.optInId]);
    expect(rows[0].status).toBe('EXPIRED');
  });

  it('retries throttling and temporary errors until every message is sent', async () => {
    const tokens = await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:flaky', count: 40, psidPrefix: 'flaky-' });
    await stack.control('PUT', `/pages/${TEST_PAGE.id}/faults`, {
      errors: [
        { code: 2, rate: 0.2, httpStatus: 500 },
        { code: 613, rate: 0.2 },
      ],
    });
    try {
      expect(await postAndSettle(stack, backInStock('flaky-1', 'flaky'))).toEqual({ SENT: 40 });
    } finally {
      await stack.control('PUT', `/pages/${TEST_PAGE.id}/faults`, {});
    }
    const sent = await messagesByPsid(stack);
    for (const token of tokens) expect(sent.get(token.psid)).toBe(1);
    const { rows } = await stack.db.pool.query(`SELECT max(attempts)::int AS most FROM "Delivery" WHERE "sourceId" = 'flaky-1'`);
    expect(rows[0].most).toBeGreaterThan(1);
  });

  it('ends permanent errors FAILED with the code, and releases the one-time token', async () => {
    const tokens = await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:window', count: 2, psidPrefix: 'win-' });
    await stack.control('PUT', `/pages/${TEST_PAGE.id}/faults`, { errors: [{ code: 10, subcode: 2018278, rate: 1 }] });
    try {
      expect(await postAndSettle(stack, backInStock('window-1', 'window'))).toEqual({ FAILED: 2 });
    } finally {
      await stack.control('PUT', `/pages/${TEST_PAGE.id}/faults`, {});
    }
    const { rows } = await stack.db.pool.query(
      `SELECT d."lastErrorCode", d."lastErrorSubcode", o.status FROM "Delivery" d JOIN "OptIn" o ON o.id = d."optInId" WHERE d."sourceId" = 'window-1'`,
    );
    expect(rows).toEqual(tokens.map(() => ({ lastErrorCode: 10, lastErrorSubcode: 2018278, status: 'ACTIVE' })));
  });

  it('dead-letters sends refused for a bad Page access token, and redrives them once it is fixed', async () => {
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:dlq', count: 3, psidPrefix: 'dlq-' });
    const good = await stack.db.pool.query(`SELECT "accessTokenCipher" FROM "Page" WHERE id = $1`, [TEST_PAGE.id]);
    await stack.db.pool.query(`UPDATE "Page" SET "accessTokenCipher" = $2 WHERE id = $1`, [TEST_PAGE.id, stack.ingest.deps.secrets.encrypt('revoked-token')]);
    expect(await postAndSettle(stack, backInStock('dlq-1', 'dlq'))).toEqual({ DEAD: 3 });
    const listed = await stack.api('GET', '/v1/dead-letters?kind=delivery');
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).toContain('190');

    await stack.db.pool.query(`UPDATE "Page" SET "accessTokenCipher" = $2 WHERE id = $1`, [TEST_PAGE.id, good.rows[0].accessTokenCipher]);
    const redriven = await stack.api('POST', '/v1/dead-letters/redrive', { sourceId: 'dlq-1' });
    expect(redriven.status).toBe(200);
    await waitFor(() => allFinal(stack.db, 'dlq-1'), { what: 'redriven deliveries' });
    expect(await deliveryCounts(stack.db, 'dlq-1')).toEqual({ SENT: 3 });
  });
});
