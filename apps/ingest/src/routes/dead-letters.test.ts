import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { DISPATCH_JOB, dispatchJobId, eventJobId, FANOUT_JOB, QueueName } from '@renotify/queue';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from '../index.js';
import { insertDeliveries, insertOptIns, insertPage } from '../test-support/ledger-fixtures.js';
import { redactPayload } from '@renotify/observability';

const PAGE = '700800900';
const auth = { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' };

interface Item {
  kind: string;
  id: string;
  at: string;
  reason: string | null;
  [field: string]: unknown;
}
interface ListBody {
  items: Item[];
  nextCursor: string | null;
}

describe('dead letters: list and redrive', () => {
  let services: TestServices;
  let ingest: RunningIngest;
  const ids: Record<string, string> = {};
  const campaignRunId = randomUUID();

  const get = async (path: string) => {
    const response = await fetch(`${ingest.url}${path}`, { headers: auth });
    expect(response.status).toBe(200);
    return (await response.json()) as ListBody;
  };
  const redrive = (body: unknown, target: RunningIngest = ingest) =>
    fetch(`${target.url}/v1/dead-letters/redrive`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
  const statusOf = async (id: string) =>
    (await ingest.deps.db.pool.query<{ status: string; attempts: number; finished: boolean }>(
      `SELECT status, attempts, "finishedAt" IS NOT NULL AS finished FROM "Delivery" WHERE id = $1`,
      [id],
    )).rows[0];
  const dispatchJobs = async () => (await ingest.deps.queues.deliveries.getJobs(['waiting', 'prioritized', 'delayed'])).filter((job) => job.name === DISPATCH_JOB);

  beforeAll(async () => {
    services = await createTestServices('ingestdeadletters');
    ingest = await startIngest(loadIngestConfig(services.env));
    const pool = ingest.deps.db.pool;
    await insertPage(pool, PAGE);
    const optIns = await insertOptIns(pool, PAGE, 5);
    const [o0, o1, o2, o3, o4] = optIns as [string, string, string, string, string];
    const inserted = await insertDeliveries(pool, [
      { sourceId: 'event-a', optInId: o0, pageId: PAGE, batchNo: 0, status: 'DEAD', attempts: 8, lastErrorCode: 2, lastError: 'gave up after 8 attempts' },
      { sourceId: 'event-a', optInId: o1, pageId: PAGE, batchNo: 0, status: 'DEAD', attempts: 8, lastErrorCode: 2, lastError: 'gave up after 8 attempts' },
      { sourceId: 'event-a', optInId: o2, pageId: PAGE, batchNo: 1, status: 'DEAD', attempts: 3, lastErrorCode: 190, lastError: 'access token invalid' },
      { sourceId: 'event-a', optInId: o3, pageId: PAGE, batchNo: 1, status: 'SENT', attempts: 1 },
      { sourceId: 'event-b', optInId: o4, pageId: PAGE, batchNo: 0, status: 'DEAD', attempts: 8, lastError: 'gave up' },
      { sourceType: 'CAMPAIGN_RUN', sourceId: campaignRunId, optInId: o0, pageId: PAGE, batchNo: 4, status: 'DEAD', attempts: 8, lastError: 'gave up' },
    ]);
    Object.assign(ids, { a0: inserted[0], a1: inserted[1], a2: inserted[2], sent: inserted[3], b0: inserted[4], run: inserted[5] });
    await pool.query(
      `INSERT INTO "DeadLetter" (kind, reason, payload, "createdAt") VALUES
         ('webhook_entry', 'unparsable entry', $1, now() AT TIME ZONE 'UTC'),
         ('job', 'invalid events/publish job', '{"jobId":"x"}', now() AT TIME ZONE 'UTC' - interval '1 hour')`,
      [JSON.stringify({ id: PAGE, messaging: [{ optin: { type: 'notification_messages', notification_messages_token: 'SECRET-TOKEN-1' } }] })],
    );
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  it('lists DEAD deliveries and dead-letter rows newest first, with reason, code and source, and no tokens', async () => {
    const body = await get('/v1/dead-letters');
    expect(body.items.map((item) => item.kind).sort()).toEqual(['DELIVERY', 'DELIVERY', 'DELIVERY', 'DELIVERY', 'DELIVERY', 'JOB', 'WEBHOOK_ENTRY']);
    expect(body.items.some((item) => item.id === ids.sent)).toBe(false);
    const order = body.items.map((item) => [Date.parse(item.at), item.id] as const);
    expect(order).toEqual([...order].sort((x, y) => y[0] - x[0] || (x[1] < y[1] ? 1 : -1)));
    expect(body.items[body.items.length - 1]?.kind).toBe('JOB');

    expect(body.items.find((item) => item.id === ids.a2)).toMatchObject({
      kind: 'DELIVERY',
      reason: 'access token invalid',
      code: 190,
      attempts: 3,
      source: { type: 'EVENT', id: 'event-a', batchNo: 1 },
      pageId: PAGE,
    });
    expect(body.items.find((item) => item.id === ids.run)).toMatchObject({ source: { type: 'CAMPAIGN_RUN', id: campaignRunId, batchNo: 4 } });
    const webhookEntry = body.items.find((item) => item.kind === 'WEBHOOK_ENTRY');
    expect(webhookEntry).toMatchObject({ reason: 'unparsable entry', redrivenAt: null });
    expect(JSON.stringify(body)).not.toContain('SECRET-TOKEN-1');
    expect(JSON.stringify(webhookEntry)).toContain('[Redacted]');
  });

  it('filters by kind and pages by keyset without gaps or repeats', async () => {
    expect((await get('/v1/dead-letters?kind=delivery')).items.every((item) => item.kind === 'DELIVERY')).toBe(true);
    // Enums answer in upper case and filter in either case.
    expect((await get('/v1/dead-letters?kind=DELIVERY')).items).toHaveLength(5);
    expect((await get('/v1/dead-letters?kind=delivery')).items).toHaveLength(5);
    expect((await get('/v1/dead-letters?kind=webhook_entry')).items.map((item) => item.kind)).toEqual(['WEBHOOK_ENTRY']);
    expect((await get('/v1/dead-letters?kind=nothing_here')).items).toEqual([]);

    const all = (await get('/v1/dead-letters')).items.map((item) => item.id);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: ListBody = await get(`/v1/dead-letters?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.items.length).toBeLessThanOrEqual(2);
      paged.push(...page.items.map((item) => item.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(all);

    expect((await fetch(`${ingest.url}/v1/dead-letters?cursor=nonsense`, { headers: auth })).status).toBe(400);
    expect((await fetch(`${ingest.url}/v1/dead-letters?limit=0`, { headers: auth })).status).toBe(400);
  });

  it('rejects a redrive without exactly one valid selector', async () => {
    for (const body of [{}, { all: true, sourceId: 'event-a' }, { deliveryIds: ['not-a-uuid'] }, { all: false }, { everything: true }]) {
      const response = await redrive(body);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    }
    expect((await statusOf(ids.a0 as string))?.status).toBe('DEAD');
  });

  it('answers 503 and changes nothing when Redis is unreachable', async () => {
    const broken = await startIngest(loadIngestConfig({ ...services.env, REDIS_URL: 'redis://127.0.0.1:1' }));
    try {
      const response = await redrive({ all: true }, broken);
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: { retryable: boolean } }).error.retryable).toBe(true);
    } finally {
      await broken.close();
    }
    expect((await get('/v1/dead-letters?kind=delivery')).items).toHaveLength(5);
  });

  it('redrives chosen deliveries: DEAD → PENDING with attempts 0, one dispatch job per batch', async () => {
    const response = await redrive({ deliveryIds: [ids.a0, ids.a1, ids.a2, ids.sent] });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ redriven: 3, batches: 2 });
    for (const id of [ids.a0, ids.a1, ids.a2]) expect(await statusOf(id as string)).toEqual({ status: 'PENDING', attempts: 0, finished: false });
    expect((await statusOf(ids.sent as string))?.status).toBe('SENT');
    expect((await statusOf(ids.b0 as string))?.status).toBe('DEAD');

    const jobs = await dispatchJobs();
    expect(jobs.map((job) => job.data).sort((x, y) => x.batchNo - y.batchNo)).toEqual([
      { sourceType: 'EVENT', sourceId: 'event-a', batchNo: 0 },
      { sourceType: 'EVENT', sourceId: 'event-a', batchNo: 1 },
    ]);
    // The batch's fixed id, as fan-out queues it: a redrive never duplicates a live job of the batch.
    for (const job of jobs) expect(job.id).toBe(dispatchJobId(job.data));
  });

  it('releases a redriven source within its window: only its chain heads get a job, the rest follow the chains', async () => {
    const window = ingest.deps.config.DISPATCH_WINDOW;
    const optIns = await insertOptIns(ingest.deps.db.pool, PAGE, window + 3);
    await insertDeliveries(
      ingest.deps.db.pool,
      optIns.map((optInId, batchNo) => ({ sourceId: 'event-wide', optInId, pageId: PAGE, batchNo, status: 'DEAD', attempts: 8, lastError: 'gave up' })),
    );
    expect(await (await redrive({ sourceId: 'event-wide' })).json()).toEqual({ redriven: window + 3, batches: window + 3 });
    const queued = (await dispatchJobs()).filter((job) => job.data.sourceId === 'event-wide');
    expect(queued.map((job) => job.data.batchNo).sort((x, y) => x - y)).toEqual([...Array(window).keys()]);
    for (const job of queued) expect(job.id).toBe(dispatchJobId(job.data));
  });

  it('redrives a dead-lettered job into its queue under its original id and stamps redrivenAt; other kinds are skipped with a reason', async () => {
    const pool = ingest.deps.db.pool;
    const jobId = eventJobId('event-redriven');
    const { rows } = await pool.query<{ id: string; kind: string }>(
      `INSERT INTO "DeadLetter" (kind, reason, payload) VALUES
         ('job', 'invalid events/${FANOUT_JOB} job: eventId: too long', $1::jsonb),
         ('webhook_entry', 'unparsable entry', '{}'::jsonb)
       RETURNING id::text, kind`,
      [JSON.stringify({ jobId, name: FANOUT_JOB, data: { eventId: 'event-redriven' } })],
    );
    const jobLetter = rows.find((row) => row.kind === 'job')!.id;
    const entryLetter = rows.find((row) => row.kind === 'webhook_entry')!.id;
    const unknown = randomUUID();
    const response = await redrive({ deadLetterIds: [jobLetter, entryLetter, unknown] });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      redriven: 1,
      batches: 0,
      skipped: [
        { id: unknown, reason: 'no such dead letter' },
        { id: entryLetter, reason: expect.stringContaining('cannot be redriven') },
      ],
    });
    const job = await ingest.deps.queues[QueueName.events].getJob(jobId);
    expect(job).toMatchObject({ name: FANOUT_JOB, data: { eventId: 'event-redriven' } });
    const listed = (await get('/v1/dead-letters?kind=job')).items;
    expect(listed.find((item) => item.id === jobLetter)?.redrivenAt).toEqual(expect.any(String));
    expect((await get('/v1/dead-letters?kind=webhook_entry')).items.find((item) => item.id === entryLetter)?.redrivenAt).toBeNull();
    await job?.remove();
  });

  it('redrives by source, then everything left, and is a no-op once nothing is DEAD', async () => {
    expect(await (await redrive({ sourceId: 'event-b' })).json()).toEqual({ redriven: 1, batches: 1 });
    expect((await statusOf(ids.b0 as string))?.status).toBe('PENDING');
    expect(await (await redrive({ all: true })).json()).toEqual({ redriven: 1, batches: 1 });
    expect((await dispatchJobs()).map((job) => job.data)).toContainEqual({ sourceType: 'CAMPAIGN_RUN', sourceId: campaignRunId, batchNo: 4 });
    expect(await (await redrive({ all: true })).json()).toEqual({ redriven: 0, batches: 0 });
    expect((await get('/v1/dead-letters?kind=delivery')).items).toEqual([]);
  });
});

describe('redactPayload (what the dead-letter list applies)', () => {
  it('replaces token, secret and signature values at any depth and keeps the rest', () => {
    expect(
      redactPayload({ a: 1, accessToken: 'x', nested: [{ notification_messages_token: 'y', title: 'ok' }], app_secret: 'z', signature: 's' }),
    ).toEqual({ a: 1, accessToken: '[Redacted]', nested: [{ notification_messages_token: '[Redacted]', title: 'ok' }], app_secret: '[Redacted]', signature: '[Redacted]' });
  });
});
