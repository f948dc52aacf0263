import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueName } from '@renotify/queue';
import { waitFor } from '@renotify/testing';
import { startStack, type Stack } from '../test-support/stack.js';

/** #13: every queue reads its jobs through the catalog, and an unreadable job ends one way (a DeadLetter row). */
describe('defineProcessor: unknown and invalid jobs', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('define-processor');
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  const deadLetters = async (pattern: string) =>
    (await stack.db.pool.query<{ reason: string; payload: { name: string } }>(`SELECT reason, payload FROM "DeadLetter" WHERE kind = 'job' AND reason LIKE $1`, [pattern])).rows;

  it.each([
    // The fan-out job's 200-character limit comes from the catalog (the worker's own copy used to drop it).
    [QueueName.events, 'fanout', { eventId: 'x'.repeat(201) }],
    [QueueName.events, 'no-such-job', {}],
    [QueueName.deliveries, 'dispatch', { sourceType: 'EVENT', sourceId: 'e1', batchNo: -1 }],
    [QueueName.campaigns, 'run', { runId: 'not-a-uuid' }],
  ])('%s/%s with bad data is dead-lettered and completes', async (queue, name, data) => {
    const job = await stack.worker!.deps.queues[queue].add(name, data, { attempts: 1 });
    await waitFor(async () => (await deadLetters(`invalid ${queue}/${name} job:%`)).length > 0, { timeoutMs: 10_000 });
    const rows = await deadLetters(`invalid ${queue}/${name} job:%`);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.payload.name).toBe(name);
    // Completed jobs are removed at once (removeOnComplete), so a finished job is 'unknown' to BullMQ; never 'failed'.
    await waitFor(async () => ['completed', 'unknown'].includes(await job.getState()), { timeoutMs: 10_000 });
  });

  it('webhooks: an invalid receipt job is dead-lettered AND fails for good (no retries), so operators see it in the queue', async () => {
    const job = await stack.worker!.deps.queues.webhooks.add('receipt', { receiptId: 'nope' }, { attempts: 5 });
    await waitFor(async () => (await job.getState()) === 'failed', { timeoutMs: 10_000 });
    const failed = await stack.worker!.deps.queues.webhooks.getJob(job.id!);
    expect(failed?.attemptsMade).toBe(1);
    expect(await deadLetters('invalid webhooks/receipt job:%')).toHaveLength(1);
  });
});
