import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptEvents } from '@renotify/db';
import { createEventProducer, eventJobId, FANOUT_JOB, fanoutJobId, parseEvents, type FanoutJob } from '@renotify/queue';
import { waitFor } from '@renotify/testing';
import { allFinal, deliveryCounts, seedTokens, startStack, TEST_PAGE, type Stack } from '../../test-support/stack.js';
import { fanOutEventsOfJob } from './events.js';

const backInStock = (id: string, productId: string) => ({ id, type: 'back_in_stock' as const, pageId: TEST_PAGE.id, productId, productName: 'Trail Sneaker' });

/** The fanout job contract: one job per intake flush carrying event ids, and the one-id shape of older releases. */
describe('fanout jobs (events queue)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack('eventjobs');
  });
  afterAll(async () => {
    await stack?.close();
  });

  const settled = (eventId: string) => waitFor(() => allFinal(stack.db, eventId), { timeoutMs: 20_000, what: `deliveries of ${eventId} to be final` });

  it('fans out every event of a batch POSTed in one request (one job carrying their ids)', async () => {
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:jb-a', count: 2, psidPrefix: 'jba-' });
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:jb-b', count: 3, psidPrefix: 'jbb-' });
    const posted = await stack.api('POST', '/v1/events', [backInStock('jb-1', 'jb-a'), backInStock('jb-2', 'jb-b'), backInStock('jb-3', 'jb-none')]);
    expect(posted.status).toBe(202);
    await waitFor(
      async () => (await stack.db.pool.query(`SELECT count(*)::int AS n FROM "Event" WHERE id LIKE 'jb-%' AND status = 'FANNED_OUT'`)).rows[0].n === 3,
      { what: 'three events fanned out' },
    );
    for (const id of ['jb-1', 'jb-2']) await settled(id);
    expect(await deliveryCounts(stack.db, 'jb-1')).toEqual({ SENT: 2 });
    expect(await deliveryCounts(stack.db, 'jb-2')).toEqual({ SENT: 3 });
    expect(await deliveryCounts(stack.db, 'jb-3')).toEqual({});
  });

  it("gives one send's deliveries ids that share the source's 48-bit prefix, then the batch's, and other sends other prefixes", async () => {
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:ids-a', count: 3, psidPrefix: 'idsa-' });
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:ids-b', count: 2, psidPrefix: 'idsb-' });
    expect((await stack.api('POST', '/v1/events', [backInStock('ids-1', 'ids-a'), backInStock('ids-2', 'ids-b')])).status).toBe(202);
    for (const id of ['ids-1', 'ids-2']) await settled(id);
    const { rows } = await stack.db.pool.query<{ sourceId: string; id: string; batchNo: number }>(
      `SELECT "sourceId", id::text, "batchNo" FROM "Delivery" WHERE "sourceId" IN ('ids-1', 'ids-2') ORDER BY 1`,
    );
    expect(rows).toHaveLength(5);
    // RFC 9562 version 8 (application-defined bits) with the RFC variant: what z.uuid() and other validators accept.
    for (const { id } of rows) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const prefixes = (sourceId: string) => new Set(rows.filter((row) => row.sourceId === sourceId).map((row) => row.id.slice(0, 13)));
    expect(prefixes('ids-1').size).toBe(1);
    expect(prefixes('ids-2').size).toBe(1);
    expect([...prefixes('ids-1')][0]).not.toBe([...prefixes('ids-2')][0]);
    // Then the batch number (12 bits, after the version nibble): a batch's rows share 64 bits, so its claims and
    // outcomes touch a few primary-key leaves (migration 20261202110000_delivery_ids_by_batch).
    for (const { id, batchNo } of rows) expect(id.slice(14, 18)).toBe(`8${(batchNo & 0xfff).toString(16).padStart(3, '0')}`);
    expect(new Set(rows.map((row) => row.id)).size).toBe(5);
  });

  it('still runs a fanout job of the older shape ({ eventId }), as queued by an earlier ingest or the sweeper', async () => {
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:legacy', count: 2, psidPrefix: 'legacy-' });
    const parsed = parseEvents(backInStock('legacy-1', 'legacy'));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    await acceptEvents(stack.db, parsed.events);
    await stack.ingest.deps.queues.events.add(FANOUT_JOB, { eventId: 'legacy-1' } satisfies FanoutJob, { jobId: eventJobId('legacy-1') });
    await waitFor(async () => (await stack.db.pool.query(`SELECT status FROM "Event" WHERE id = 'legacy-1'`)).rows[0]?.status === 'FANNED_OUT', {
      what: 'legacy-1 fanned out',
    });
    await settled('legacy-1');
    expect(await deliveryCounts(stack.db, 'legacy-1')).toEqual({ SENT: 2 });
  });

  it('skips an id of a multi-id job that is already fanned out: a retried request adds no deliveries and no sends', async () => {
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:retried', count: 2, psidPrefix: 'retried-' });
    expect((await stack.api('POST', '/v1/events', backInStock('retried-1', 'retried'))).status).toBe(202);
    await waitFor(async () => (await stack.db.pool.query(`SELECT status FROM "Event" WHERE id = 'retried-1'`)).rows[0]?.status === 'FANNED_OUT', {
      what: 'retried-1 fanned out',
    });
    await settled('retried-1');
    const fannedOutAt = async () => (await stack.db.pool.query(`SELECT "fannedOutAt" FROM "Event" WHERE id = 'retried-1'`)).rows[0].fannedOutAt as Date;
    const firstFannedOutAt = await fannedOutAt();
    const parsed = parseEvents(backInStock('retried-2', 'retried'));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    await acceptEvents(stack.db, parsed.events);
    // The job a retry of the first request merged with a new event would queue.
    const ids = ['retried-1', 'retried-2'];
    await stack.ingest.deps.queues.events.add(FANOUT_JOB, { eventIds: ids } satisfies FanoutJob, { jobId: fanoutJobId(ids) });
    await waitFor(async () => (await stack.db.pool.query(`SELECT status FROM "Event" WHERE id = 'retried-2'`)).rows[0]?.status === 'FANNED_OUT', {
      what: 'retried-2 fanned out',
    });
    const { rows } = await stack.db.pool.query(`SELECT id, "matchedCount" FROM "Event" WHERE id = ANY($1) ORDER BY id`, [ids]);
    // retried-2 found no token left (one-time tokens were used by retried-1); retried-1's count is unchanged.
    expect(rows).toEqual([
      { id: 'retried-1', matchedCount: 2 },
      { id: 'retried-2', matchedCount: 0 },
    ]);
    expect(await deliveryCounts(stack.db, 'retried-1')).toEqual({ SENT: 2 });
    // Not replayed at all (a replay re-reads every token and stamps the event again).
    expect(await fannedOutAt()).toEqual(firstFannedOutAt);
  });

  it('the producer SDK path still works next to it: published events are stored once and fanned out once', async () => {
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:sdk', count: 3, psidPrefix: 'sdk-' });
    const producer = createEventProducer({ redisUrl: stack.env.REDIS_URL as string, prefix: stack.env.QUEUE_PREFIX as string });
    try {
      expect(await producer.publish([backInStock('sdk-1', 'sdk'), backInStock('sdk-1', 'sdk')])).toEqual({ eventIds: ['sdk-1'] });
      await waitFor(async () => (await stack.db.pool.query(`SELECT status FROM "Event" WHERE id = 'sdk-1'`)).rows[0]?.status === 'FANNED_OUT', {
        what: 'sdk-1 fanned out',
      });
      await settled('sdk-1');
      // Published again after it was done: the id is the idempotency key, nothing is sent twice.
      await producer.publish(backInStock('sdk-1', 'sdk'));
      await waitFor(async () => (await stack.ingest.deps.queues.events.getJobCountByTypes('waiting', 'active', 'prioritized', 'delayed')) === 0, {
        what: 'the events queue to drain',
      });
    } finally {
      await producer.close();
    }
    expect(await deliveryCounts(stack.db, 'sdk-1')).toEqual({ SENT: 3 });
    const { rows } = await stack.db.pool.query(`SELECT count(*)::int AS n FROM "Event" WHERE id = 'sdk-1'`);
    expect(rows[0].n).toBe(1);
  });

  it('keeps only the ids that failed in the job before it fails, so its retry redoes just those', async () => {
    // A queue without a worker: the job is a real BullMQ job in Redis, run here by hand.
    const queue = new Queue('fanout-jobs-unit', { connection: { url: stack.env.REDIS_URL as string }, prefix: stack.env.QUEUE_PREFIX as string });
    try {
      const job = await queue.add(FANOUT_JOB, { eventIds: ['ok-1', 'bad-1', 'ok-2', 'bad-2', 'ok-3'] } satisfies FanoutJob);
      const ran: string[] = [];
      const run = fanOutEventsOfJob(job, job.data.eventIds, async (eventId) => {
        ran.push(eventId);
        if (eventId.startsWith('bad')) throw new Error(`cannot fan out ${eventId}`);
      });
      await expect(run).rejects.toThrow(/fan-out failed for 2 of 5 event\(s\): cannot fan out bad-/);
      expect(ran.sort()).toEqual(['bad-1', 'bad-2', 'ok-1', 'ok-2', 'ok-3']);
      expect((await queue.getJob(job.id as string))?.data).toEqual({ eventIds: ['bad-1', 'bad-2'] });

      const allGood = await queue.add(FANOUT_JOB, { eventIds: ['a', 'b'] } satisfies FanoutJob);
      await expect(fanOutEventsOfJob(allGood, ['a', 'b'], async () => undefined)).resolves.toEqual({ events: 2 });
      expect((await queue.getJob(allGood.id as string))?.data).toEqual({ eventIds: ['a', 'b'] });
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
