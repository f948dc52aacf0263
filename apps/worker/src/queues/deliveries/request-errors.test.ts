import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@renotify/testing';
import { allFinal, deliveryCounts, seedTokens, startStack, TEST_PAGE, type Stack } from '../../test-support/stack.js';

/**
 * A code 100 is not always about the token (messenger-platform.md §3.3): a wrong appsecret_proof or a bad
 * parameter refuses the request. Such an answer must stop the send, keep every token, say why, and be
 * redrivable once fixed; only Meta's token-specific refusals may touch a token.
 */
describe('Meta refusing the request, not the token', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack('requesterrors');
  });
  afterAll(async () => {
    await stack?.close();
  });

  const tokenStatuses = async (topic: string) => {
    const { rows } = await stack.db.pool.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM "OptIn" WHERE topic = $1 GROUP BY 1`, [topic]);
    return Object.fromEntries(rows.map((row) => [row.status, row.n]));
  };

  it('a wrong app secret (Meta: "Invalid appsecret_proof") stops the campaign run, keeps every recurring token ACTIVE, and a redrive after the fix sends it', async () => {
    await seedTokens(stack, { kind: 'RECURRING', topic: 'proof-news', count: 5, psidPrefix: 'proof-' });
    expect((await stack.api('PATCH', `/v1/pages/${TEST_PAGE.id}`, { appSecret: 'not-the-app-secret' })).status).toBe(200);
    const campaign = await stack.api('POST', '/v1/campaigns', { pageId: TEST_PAGE.id, name: 'Proof', topic: 'proof-news', message: { text: 'Hello' }, schedule: { cron: '0 9 * * 1' } });
    expect(campaign.status).toBe(201);
    const runId = (await stack.api('POST', `/v1/campaigns/${campaign.body.id}/run`, {})).body.run.id as string;
    await waitFor(() => allFinal(stack.db, runId), { timeoutMs: 20_000, what: 'the run to stop' });
    expect(await deliveryCounts(stack.db, runId)).toEqual({ DEAD: 5 });
    expect(await tokenStatuses('proof-news')).toEqual({ ACTIVE: 5 });
    const { rows } = await stack.db.pool.query<{ lastError: string }>(`SELECT DISTINCT "lastError" FROM "Delivery" WHERE "sourceId" = $1`, [runId]);
    expect(rows.map((row) => row.lastError).join(' | ')).toMatch(/appsecret_proof/i);
    const report = await stack.api('GET', `/v1/campaigns/${campaign.body.id}/runs/${runId}`);
    expect(report.body.counts.byStatus).toEqual({ DEAD: 5 });

    expect((await stack.api('PATCH', `/v1/pages/${TEST_PAGE.id}`, { appSecret: TEST_PAGE.appSecret })).status).toBe(200);
    expect((await stack.api('POST', '/v1/dead-letters/redrive', { sourceId: runId })).status).toBeLessThan(300);
    await waitFor(async () => (await deliveryCounts(stack.db, runId)).SENT === 5, { timeoutMs: 20_000, what: 'the redriven run to be sent' });
  }, 60_000);

  it('a parameter error (code 100 about the message) keeps one-time tokens ACTIVE and stops the event', async () => {
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:param', count: 6, psidPrefix: 'param-' });
    await stack.control('PUT', `/pages/${TEST_PAGE.id}/faults`, {
      errors: [{ code: 100, rate: 1, message: '(#100) Param message[text] must be at most 2000 characters', httpStatus: 400 }],
    });
    try {
      expect((await stack.api('POST', '/v1/events', { id: 'param-1', type: 'back_in_stock', pageId: TEST_PAGE.id, productId: 'param' })).status).toBe(202);
      await waitFor(() => allFinal(stack.db, 'param-1'), { timeoutMs: 20_000, what: 'the event to stop' });
    } finally {
      await stack.control('PUT', `/pages/${TEST_PAGE.id}/faults`, {});
    }
    expect(await deliveryCounts(stack.db, 'param-1')).toEqual({ DEAD: 6 });
    expect(await tokenStatuses('back_in_stock:param')).toEqual({ ACTIVE: 6 });
  }, 60_000);
});
