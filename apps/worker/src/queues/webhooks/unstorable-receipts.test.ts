import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeWebhookReceipt } from '@renotify/db';
import { QueueName, WebhooksJobName } from '@renotify/queue';
import { waitFor } from '@renotify/testing';
import { startWebhookStack, type WebhookStack } from '../../test-support/webhook-stack.js';

const PAGE = '320000000000001';

/**
 * Issue #10.6, worker side: a stored receipt whose strings Postgres cannot hold (NUL, lone surrogates) used to fail
 * on every attempt, and so did its dead letter (jsonb refuses \u0000): the receipt was never processed nor
 * dead-lettered. Such events now end as storable dead letters naming the field; their siblings still apply.
 */
describe('webhook receipts with strings Postgres cannot store', () => {
  let stack: WebhookStack;
  const query = async <T = Record<string, unknown>>(sql: string, values: unknown[] = []) => (await stack.ingest.deps.db.pool.query(sql, values)).rows as T[];

  beforeAll(async () => {
    stack = await startWebhookStack('unstorable');
    await stack.createPage(PAGE, ['n1', 'n2', 'n3']);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('dead-letters NUL and lone-surrogate events with the reason, applies their siblings, and finishes the receipt at once', async () => {
    const now = Date.now();
    const item = (psid: string, optin: Record<string, unknown>) => ({ sender: { id: psid }, recipient: { id: PAGE }, timestamp: now, optin });
    const body = {
      object: 'page',
      entry: [{
        id: PAGE,
        time: now,
        messaging: [
          item('n1', { type: 'one_time_notif_req', payload: 'deals\u0000', one_time_notif_token: 'nul-topic-token' }),
          item('n2', { type: 'notification_messages', payload: 'news', title: 'News \uD800', notification_messages_token: 'surrogate-title-token' }),
          item('n3', { type: 'one_time_notif_req', payload: 'clean-topic', one_time_notif_token: 'clean-sibling-token' }),
          { sender: { id: 'n3' }, recipient: { id: PAGE }, timestamp: now, 'odd\u0000key': true },
        ],
      }],
    };
    // JSON.stringify writes NUL and the lone surrogate as \u escapes: valid JSON, storable as the receipt's text.
    const raw = JSON.stringify(body);
    expect(raw).toContain('\\u0000');
    expect(raw).toContain('\\ud800');
    const receipt = await storeWebhookReceipt(stack.ingest.deps.db, Buffer.from(raw));
    const queue = stack.worker!.deps.queues[QueueName.webhooks];
    await queue.add(WebhooksJobName.receipt, { receiptId: receipt.id }, { jobId: receipt.id });

    const processed = await waitFor(
      async () => (await query<{ processedAt: Date | null }>(`SELECT "processedAt" FROM "WebhookReceipt" WHERE id = $1`, [receipt.id]))[0]?.processedAt,
      { what: 'the receipt processed' },
    );
    expect(processed).toBeInstanceOf(Date);
    // First attempt: no retries spent on something that can never be stored.
    expect(await queue.getJobCounts('failed', 'delayed', 'wait', 'active')).toMatchObject({ failed: 0, delayed: 0, wait: 0, active: 0 });

    expect(await query(`SELECT topic, status FROM "OptIn" WHERE token = 'clean-sibling-token'`)).toEqual([{ topic: 'clean-topic', status: 'ACTIVE' }]);
    expect(await query(`SELECT id FROM "OptIn" WHERE token IN ('nul-topic-token', 'surrogate-title-token')`)).toEqual([]);

    const letters = await query<{ reason: string; payload: Record<string, unknown> }>(
      `SELECT reason, payload FROM "DeadLetter" WHERE payload->>'receiptId' = $1 ORDER BY reason`,
      [receipt.id],
    );
    expect(letters.map((letter) => letter.reason)).toEqual([
      expect.stringMatching(/^one_time_optin event not storable: payload must not contain NUL/),
      expect.stringMatching(/^recurring_optin event not storable: title must not contain lone UTF-16 surrogates/),
      expect.any(String), // the item with a NUL in a field name: rejected by the parser, kept as raw
    ]);
    // Stored with the offending characters visible as \u escapes, nothing lost.
    const stored = JSON.stringify(letters.map((letter) => letter.payload));
    expect(stored).toContain('deals\\\\u0000');
    expect(stored).toContain('News \\\\ud800');
    expect(stored).toContain('odd\\\\u0000key');
  });
});
