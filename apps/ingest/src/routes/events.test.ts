import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { FANOUT_JOB, MAX_EVENTS_PER_BATCH, eventJobId, fanoutEventIds, fanoutJobId, parseEvents, type EventInput, type FanoutJob } from '@renotify/queue';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from '../index.js';
import { insertDeliveries, insertOptIns, insertPage } from '../test-support/ledger-fixtures.js';
import { EventIntake, IntakeError } from './event-intake.js';

const PAGE = '100200300400500';
const OTHER_PAGE = '100200300400501';
const DELETED_PAGE = '100200300400599';
const auth = { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' };

interface Problem {
  index: number;
  path: string;
  message: string;
}
interface ErrorBody {
  error: { code: string; message: string; details: Problem[]; retryable?: boolean };
}
interface DeliveryView {
  id: string;
  batchNo: number;
  [field: string]: unknown;
}
interface EventView {
  id: string;
  receivedAt: string;
  counts: { byStatus: Record<string, number>; bySkipReason: Record<string, number> };
  deliveries: DeliveryView[];
  nextCursor: string | null;
  [field: string]: unknown;
}
const errorOf = async (response: Response) => (await response.json()) as ErrorBody;
const eventOf = async (response: Response) => (await response.json()) as EventView;

const backInStock = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: 'back_in_stock',
  pageId: PAGE,
  productId: 'sku-42',
  variant: '42',
  productName: 'Red Shoe',
  ...extra,
});

describe('POST /v1/events and GET /v1/events/:id', () => {
  let services: TestServices;
  let ingest: RunningIngest;

  const post = (body: unknown, target: RunningIngest = ingest) =>
    fetch(`${target.url}/v1/events`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
  const get = (path: string) => fetch(`${ingest.url}${path}`, { headers: auth });
  const eventCount = async () => (await ingest.deps.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM "Event"')).rows[0]?.n;
  const eventsQueue = () => ingest.deps.queues.events;
  /** The waiting fanout jobs that carry this event id (one, normally). */
  const fanoutJobsCarrying = async (eventId: string) =>
    (await eventsQueue().getJobs(['waiting', 'prioritized', 'delayed'])).filter((job) => fanoutEventIds(job.data as FanoutJob).includes(eventId));

  beforeAll(async () => {
    services = await createTestServices('ingestevents');
    ingest = await startIngest(loadIngestConfig(services.env));
    await insertPage(ingest.deps.db.pool, PAGE);
    await insertPage(ingest.deps.db.pool, OTHER_PAGE);
    await insertPage(ingest.deps.db.pool, DELETED_PAGE, { deleted: true });
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  it('needs an API key', async () => {
    const response = await fetch(`${ingest.url}/v1/events`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(401);
  });

  it('accepts one event with 202, stores topic, payload and rendered message, and enqueues its fan-out job', async () => {
    const response = await post(backInStock('single-1', { url: 'https://shop.example/red-shoe' }));
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: ['single-1'], duplicates: [] });

    const { rows } = await ingest.deps.db.pool.query('SELECT * FROM "Event" WHERE id = $1', ['single-1']);
    expect(rows[0]).toMatchObject({
      pageId: PAGE,
      type: 'back_in_stock',
      topic: 'back_in_stock:sku-42:42',
      status: 'ACCEPTED',
      payload: { productId: 'sku-42', variant: '42', productName: 'Red Shoe', url: 'https://shop.example/red-shoe' },
      message: { text: 'Good news: Red Shoe (42) is back in stock.\nhttps://shop.example/red-shoe' },
    });
    // Stored as UTC: within a minute of now whatever the server's time zone.
    const received = await ingest.deps.db.pool.query<{ skew: number }>(
      `SELECT abs(extract(epoch FROM ("receivedAt" AT TIME ZONE 'UTC') - now()))::float AS skew FROM "Event" WHERE id = 'single-1'`,
    );
    expect(received.rows[0]?.skew).toBeLessThan(60);

    const job = await eventsQueue().getJob(eventJobId('single-1'));
    expect(job?.name).toBe(FANOUT_JOB);
    expect(job?.data).toEqual({ eventIds: ['single-1'] });
    expect(job?.id).not.toContain(':');
  });

  it('accepts an array, renders overrides and templates, and treats the same id twice as one event', async () => {
    const batch = [
      { id: 'batch-1', type: 'price_drop', pageId: PAGE, productId: 7, oldPrice: 20, newPrice: 15, currency: 'EUR', productName: 'Lamp' },
      { id: 'batch-2', type: 'custom', pageId: OTHER_PAGE, topic: 'weekly_deals', text: 'Deals!', message: { text: 'Override wins' } },
      {
        id: 'batch:3/with odd chars',
        type: 'back_in_stock',
        pageId: PAGE,
        productId: 'sku-1',
        template: '{{productName}} is back, {{who}}',
        vars: { who: 'Ada' },
        productName: 'Blue Hat',
      },
      { id: 'batch-1', type: 'price_drop', pageId: PAGE, productId: 7, oldPrice: 20, newPrice: 15, currency: 'EUR', productName: 'Lamp' },
    ];
    const response = await post(batch);
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: ['batch-1', 'batch-2', 'batch:3/with odd chars'], duplicates: [] });

    const { rows } = await ingest.deps.db.pool.query<{ id: string; topic: string; message: { text: string } }>(
      `SELECT id, topic, message FROM "Event" WHERE id = ANY($1) ORDER BY id`,
      [['batch-1', 'batch-2', 'batch:3/with odd chars']],
    );
    expect(rows).toEqual([
      { id: 'batch-1', topic: 'price_drop:7', message: { text: 'Price drop: Lamp is now €15.00 (was €20.00)' } },
      { id: 'batch-2', topic: 'weekly_deals', message: { text: 'Override wins' } },
      { id: 'batch:3/with odd chars', topic: 'back_in_stock:sku-1', message: { text: 'Blue Hat is back, Ada' } },
    ]);
    // One fanout job for the request, carrying its stored ids in order (not one BullMQ job per event).
    const ids = ['batch-1', 'batch-2', 'batch:3/with odd chars'];
    const job = await eventsQueue().getJob(fanoutJobId(ids));
    expect(job?.name).toBe(FANOUT_JOB);
    expect(job?.data).toEqual({ eventIds: ids });
    expect(job?.id).not.toContain(':');
    for (const id of ids) expect(await fanoutJobsCarrying(id)).toHaveLength(1);
  });

  it('is idempotent: a retried id is reported as a duplicate and keeps one row; the retry queues one job', async () => {
    const first = await post([backInStock('idem-1'), backInStock('idem-2')]);
    expect(await first.json()).toEqual({ accepted: ['idem-1', 'idem-2'], duplicates: [] });
    const waitingBefore = await eventsQueue().getJobCountByTypes('waiting', 'prioritized', 'delayed');

    const retry = await post([backInStock('idem-1', { productName: 'Changed' }), backInStock('idem-2'), backInStock('idem-3')]);
    expect(retry.status).toBe(202);
    expect(await retry.json()).toEqual({ accepted: ['idem-3'], duplicates: ['idem-1', 'idem-2'] });

    const rows = await ingest.deps.db.pool.query('SELECT id, payload FROM "Event" WHERE id LIKE \'idem-%\' ORDER BY id');
    expect(rows.rows.map((row) => row.id)).toEqual(['idem-1', 'idem-2', 'idem-3']);
    expect(rows.rows[0].payload.productName).toBe('Red Shoe');
    // The retry added one job (its request's). It carries idem-1/2 too, as they are still ACCEPTED (their first job
    // may be the lost one); the worker skips an id of a multi-id job that is already fanned out by then.
    expect(await eventsQueue().getJobCountByTypes('waiting', 'prioritized', 'delayed')).toBe(waitingBefore + 1);
    expect((await eventsQueue().getJob(fanoutJobId(['idem-1', 'idem-2', 'idem-3'])))?.data).toEqual({ eventIds: ['idem-1', 'idem-2', 'idem-3'] });
    // The same retry again while that job waits adds nothing: the job id is made from the ids.
    await post([backInStock('idem-1'), backInStock('idem-2'), backInStock('idem-3')]);
    expect(await eventsQueue().getJobCountByTypes('waiting', 'prioritized', 'delayed')).toBe(waitingBefore + 1);
  });

  it('re-enqueues a duplicate still ACCEPTED (lost job) but not one already fanned out', async () => {
    await post([backInStock('lost-job'), backInStock('done-event')]);
    expect(await eventsQueue().remove(fanoutJobId(['lost-job', 'done-event']))).toBe(1);
    await ingest.deps.db.pool.query(`UPDATE "Event" SET status = 'FANNED_OUT' WHERE id = 'done-event'`);

    const retry = await post([backInStock('lost-job'), backInStock('done-event')]);
    expect(await retry.json()).toEqual({ accepted: [], duplicates: ['lost-job', 'done-event'] });
    expect((await eventsQueue().getJob(eventJobId('lost-job')))?.data).toEqual({ eventIds: ['lost-job'] });
    expect(await fanoutJobsCarrying('done-event')).toEqual([]);
  });

  it('rejects with 400 listing every problem by index, and accepts nothing from the batch', async () => {
    const before = await eventCount();
    const response = await post([
      backInStock('valid-but-rejected'),
      { id: 'bad-type', type: 'restock', pageId: PAGE },
      { id: 'bad-price', type: 'price_drop', pageId: PAGE, productId: 'p', oldPrice: 10, newPrice: 12, currency: 'EURO' },
      { type: 'back_in_stock', pageId: PAGE, productId: 'x', colour: 'red' },
    ]);
    expect(response.status).toBe(400);
    const body = await errorOf(response);
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.details).toEqual(
      expect.arrayContaining([
        { index: 1, path: 'type', message: expect.stringContaining('back_in_stock') },
        { index: 2, path: 'currency', message: expect.stringContaining('ISO 4217') },
        { index: 2, path: 'newPrice', message: expect.stringContaining('below oldPrice') },
        { index: 3, path: 'id', message: expect.any(String) },
        { index: 3, path: 'colour', message: 'unknown field "colour"' },
      ]),
    );
    expect(body.error.details.some((problem) => problem.index === 0)).toBe(false);
    expect(await eventCount()).toBe(before);
  });

  it('rejects unknown and deleted pages by index before inserting anything', async () => {
    const before = await eventCount();
    const response = await post([backInStock('page-ok'), backInStock('page-missing', { pageId: '999' }), backInStock('page-deleted', { pageId: DELETED_PAGE })]);
    expect(response.status).toBe(400);
    const body = await errorOf(response);
    expect(body.error.details).toEqual([
      { index: 1, path: 'pageId', message: expect.stringContaining('unknown page "999"') },
      { index: 2, path: 'pageId', message: expect.stringContaining(`unknown page "${DELETED_PAGE}"`) },
    ]);
    expect(await eventCount()).toBe(before);
  });

  it('rejects more than 1,000 events as one problem, and bodies that are not events', async () => {
    const tooMany = Array.from({ length: MAX_EVENTS_PER_BATCH + 1 }, (_, i) => backInStock(`many-${i}`));
    const response = await post(tooMany);
    expect(response.status).toBe(400);
    const body = await errorOf(response);
    expect(body.error.details).toEqual([{ index: -1, path: '(body)', message: expect.stringContaining('maximum is 1000') }]);

    for (const bad of [[], 'text', 42]) {
      const answer = await post(bad);
      expect(answer.status).toBe(400);
      expect((await errorOf(answer)).error.details[0]).toMatchObject({ index: -1, path: '(body)' });
    }
    const malformed = await fetch(`${ingest.url}/v1/events`, { method: 'POST', headers: auth, body: '{"id":' });
    expect(malformed.status).toBe(400);
  });

  it('accepts a full batch of 1,000 in one request', async () => {
    const batch = Array.from({ length: MAX_EVENTS_PER_BATCH }, (_, i) => backInStock(`full-${i}`, { productId: `sku-${i % 10}` }));
    const response = await post(batch);
    expect(response.status).toBe(202);
    expect(((await response.json()) as { accepted: string[] }).accepted).toHaveLength(MAX_EVENTS_PER_BATCH);
    const stored = await ingest.deps.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Event" WHERE id LIKE 'full-%'`);
    expect(stored.rows[0]?.n).toBe(MAX_EVENTS_PER_BATCH);
    // One job for the 1,000 events.
    const jobs = await fanoutJobsCarrying('full-999');
    expect(jobs).toHaveLength(1);
    expect(fanoutEventIds(jobs[0]!.data as FanoutJob)).toEqual(batch.map((event) => event.id));
  });

  it('answers 503 (retryable) when Redis is unreachable, keeps the row, and a retry enqueues the job', async () => {
    const broken = await startIngest(loadIngestConfig({ ...services.env, REDIS_URL: 'redis://127.0.0.1:1' }));
    try {
      const started = Date.now();
      const response = await post(backInStock('redis-down'), broken);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect((await errorOf(response)).error).toMatchObject({ code: 'queue_unavailable', retryable: true });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await broken.close();
    }
    const stored = await ingest.deps.db.pool.query(`SELECT status FROM "Event" WHERE id = 'redis-down'`);
    expect(stored.rows[0]?.status).toBe('ACCEPTED');

    const retry = await post(backInStock('redis-down'));
    expect(await retry.json()).toEqual({ accepted: [], duplicates: ['redis-down'] });
    expect((await eventsQueue().getJob(eventJobId('redis-down')))?.data).toEqual({ eventIds: ['redis-down'] });
  });

  it('answers each of many concurrent requests on its own; an id sent by two of them is accepted once', async () => {
    const bodies = [
      ...Array.from({ length: 40 }, (_, i) => backInStock(`conc-${i}`)),
      backInStock('conc-shared'),
      [backInStock('conc-shared'), backInStock('conc-extra')],
    ];
    const answers = await Promise.all(
      bodies.map(async (body) => {
        const response = await post(body);
        expect(response.status).toBe(202);
        return (await response.json()) as { accepted: string[]; duplicates: string[] };
      }),
    );
    answers.slice(0, 40).forEach((answer, i) => expect(answer).toEqual({ accepted: [`conc-${i}`], duplicates: [] }));
    const shared = answers.slice(40).flatMap((answer) => [...answer.accepted.map((id) => `+${id}`), ...answer.duplicates.map((id) => `=${id}`)]);
    expect(shared.sort()).toEqual(['+conc-extra', '+conc-shared', '=conc-shared']);
    const stored = await ingest.deps.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Event" WHERE id LIKE 'conc-%'`);
    expect(stored.rows[0]?.n).toBe(42);
    // Merged requests share fanout jobs: each id sent once is in exactly one. The shared id is in one or two (the
    // second request re-queues it when it was not merged with the first: still ACCEPTED, fan-out is idempotent).
    expect((await fanoutJobsCarrying('conc-shared')).length).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 40; i++) expect(await fanoutJobsCarrying(`conc-${i}`)).toHaveLength(1);
  });

  it('EventIntake: when a Page is missing at insert time, only the request naming it fails', async () => {
    const parse = (input: unknown): EventInput[] => {
      const result = parseEvents(input);
      if (!result.ok) throw new Error(JSON.stringify(result.problems));
      return result.events;
    };
    let forgotten = 0;
    const intake = new EventIntake({
      db: ingest.deps.db,
      redis: ingest.deps.redis,
      eventsQueue: eventsQueue(),
      maxInFlight: 1,
      onUnknownPage: () => forgotten++,
    });
    // The first submission takes the only slot; the next three are merged into one flush.
    const results = await Promise.allSettled([
      intake.submit(parse(backInStock('fk-first'))),
      intake.submit(parse(backInStock('fk-a'))),
      intake.submit(parse(backInStock('fk-ghost', { pageId: 'ghost-page' }))),
      intake.submit(parse(backInStock('fk-c'))),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(IntakeError);
    expect((results[2] as PromiseRejectedResult).reason.kind).toBe('unknown_page');
    expect((results[3] as PromiseFulfilledResult<unknown>).value).toEqual({ accepted: ['fk-c'], duplicates: [] });
    expect(forgotten).toBe(1);
    const stored = await ingest.deps.db.pool.query<{ id: string }>(`SELECT id FROM "Event" WHERE id LIKE 'fk-%' ORDER BY id`);
    expect(stored.rows.map((row) => row.id)).toEqual(['fk-a', 'fk-c', 'fk-first']);
  });

  it('shows an event with delivery counts and keyset-paged deliveries, never tokens', async () => {
    expect((await post({ id: 'status-1', type: 'custom', pageId: PAGE, topic: 'weekly_deals', text: 'Hello' })).status).toBe(202);
    const optIns = await insertOptIns(ingest.deps.db.pool, PAGE, 7);
    const statuses = ['SENT', 'SENT', 'SKIPPED', 'SKIPPED', 'FAILED', 'DEAD', 'PENDING'] as const;
    const deliveryIds = await insertDeliveries(
      ingest.deps.db.pool,
      optIns.map((optInId, i) => ({
        sourceId: 'status-1',
        optInId,
        pageId: PAGE,
        batchNo: i < 4 ? 0 : 1,
        status: statuses[i] as (typeof statuses)[number],
        skipReason: statuses[i] === 'SKIPPED' ? (i === 2 ? 'TOKEN_USED' : 'FREQUENCY_WINDOW') : null,
        attempts: statuses[i] === 'DEAD' ? 8 : 1,
        lastErrorCode: statuses[i] === 'FAILED' ? 10 : null,
      })),
    );
    // Another source's deliveries must not be counted.
    await insertDeliveries(ingest.deps.db.pool, [{ sourceId: 'another-event', optInId: optIns[0] as string, pageId: PAGE, batchNo: 0, status: 'SENT' }]);

    const first = await get('/v1/events/status-1?limit=3');
    expect(first.status).toBe(200);
    const body = await eventOf(first);
    expect(body).toMatchObject({ id: 'status-1', type: 'CUSTOM', topic: 'weekly_deals', status: 'ACCEPTED', matchedCount: 0, pageId: PAGE });
    expect(new Date(body.receivedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(body.counts).toEqual({
      byStatus: { PENDING: 1, SENDING: 0, SENT: 2, FAILED: 1, SKIPPED: 2, DEAD: 1 },
      bySkipReason: { TOKEN_USED: 1, FREQUENCY_WINDOW: 1 },
    });
    expect(body.deliveries).toHaveLength(3);
    expect(Object.keys(body.deliveries[0] ?? {}).sort()).toEqual(
      ['attempts', 'batchNo', 'finishedAt', 'id', 'lastErrorCode', 'lastErrorSubcode', 'messageId', 'optInId', 'skipReason', 'status'].sort(),
    );
    expect(JSON.stringify(body)).not.toContain('secret-token');

    const seen = [...body.deliveries];
    let cursor: string | null = body.nextCursor;
    while (cursor) {
      const page = await eventOf(await get(`/v1/events/status-1?limit=3&cursor=${cursor}`));
      seen.push(...page.deliveries);
      cursor = page.nextCursor;
    }
    expect(seen.map((delivery) => delivery.id).sort()).toEqual([...deliveryIds].sort());
    const order = seen.map((delivery) => [delivery.batchNo, delivery.id] as const);
    expect(order).toEqual([...order].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1)));
  });

  it('answers 404 for an unknown event and 400 for a bad cursor or limit', async () => {
    expect((await get('/v1/events/nope')).status).toBe(404);
    expect((await get('/v1/events/single-1?cursor=garbage')).status).toBe(400);
    expect((await get('/v1/events/single-1?limit=501')).status).toBe(400);
    const encoded = await get(`/v1/events/${encodeURIComponent('batch:3/with odd chars')}`);
    expect(encoded.status).toBe(200);
    expect((await eventOf(encoded)).id).toBe('batch:3/with odd chars');
  });
});
