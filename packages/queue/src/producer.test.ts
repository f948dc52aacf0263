import pg from 'pg';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, createKnownPages, type Database } from '@renotify/db';
import { createTestServices, type TestServices } from '@renotify/testing';
import { PUBLISH_JOB, eventJobId, publishJobSchema } from './catalog.js';
import { EventPublishError, EventValidationError, createEventProducer, type EventProducer } from './producer.js';

const PAGE = '555000111';

describe('event producer SDK', () => {
  let services: TestServices;
  let producer: EventProducer;
  let inspector: Queue;
  let inspectorConnection: Redis;
  let db: Database;

  beforeAll(async () => {
    services = await createTestServices('queueproducer');
    const client = new pg.Client({ connectionString: services.database.url });
    await client.connect();
    await client.query(
      `INSERT INTO "Page" (id, name, "accessTokenCipher", "appSecretCipher", "updatedAt") VALUES ($1, 'Shop', 'x', 'x', now())`,
      [PAGE],
    );
    await client.end();
    db = createDatabase(services.database.url);
    producer = createEventProducer({ redisUrl: services.redis.url, prefix: services.redis.prefix, pages: createKnownPages(db) });
    inspectorConnection = new Redis(services.redis.url, { maxRetriesPerRequest: null });
    inspector = new Queue('events', { connection: inspectorConnection, prefix: services.redis.prefix });
  });
  afterAll(async () => {
    await producer?.close();
    await db?.close();
    await inspector?.close();
    inspectorConnection?.disconnect();
    await services?.cleanup();
  });

  it('queues one publish job per distinct event id, with the validated event as data', async () => {
    const result = await producer.publish([
      { id: 'sdk-1', type: 'price_drop', pageId: PAGE, productId: 9, oldPrice: 10, newPrice: 8, currency: 'USD' },
      { id: 'sdk:2', type: 'custom', pageId: PAGE, topic: 'weekly_deals', text: 'Hi' },
      { id: 'sdk-1', type: 'price_drop', pageId: PAGE, productId: 9, oldPrice: 10, newPrice: 8, currency: 'USD' },
    ]);
    expect(result).toEqual({ eventIds: ['sdk-1', 'sdk:2'] });

    const job = await inspector.getJob(eventJobId('sdk-1'));
    expect(job?.name).toBe(PUBLISH_JOB);
    expect(job?.data).toEqual({ event: { id: 'sdk-1', type: 'price_drop', pageId: PAGE, productId: '9', oldPrice: 10, newPrice: 8, currency: 'USD' } });
    // What the worker will parse:
    expect(publishJobSchema.safeParse(job?.data).success).toBe(true);
    expect((await inspector.getJob(eventJobId('sdk:2')))?.data.event.topic).toBe('weekly_deals');
    expect(await inspector.getJobCountByTypes('waiting')).toBe(2);
  });

  it('publishing the same id again while it is queued adds nothing', async () => {
    const before = await inspector.getJobCountByTypes('waiting');
    expect(await producer.publish({ id: 'sdk-1', type: 'custom', pageId: PAGE, topic: 'x', text: 'again' })).toEqual({ eventIds: ['sdk-1'] });
    expect(await inspector.getJobCountByTypes('waiting')).toBe(before);
  });

  it('throws EventValidationError with every problem by index and queues nothing', async () => {
    const before = await inspector.getJobCountByTypes('waiting');
    const publishing = producer.publish([
      { id: 'ok', type: 'custom', pageId: PAGE, topic: 't', text: 'fine' },
      { id: 'bad', type: 'price_drop', pageId: PAGE, productId: 1, oldPrice: 5, newPrice: 6, currency: 'usd' },
    ]);
    await expect(publishing).rejects.toBeInstanceOf(EventValidationError);
    const error = (await publishing.catch((caught: unknown) => caught)) as EventValidationError;
    expect(error.problems).toEqual([
      { index: 1, path: 'currency', message: expect.stringContaining('ISO 4217') },
      { index: 1, path: 'newPrice', message: expect.stringContaining('below oldPrice') },
    ]);
    expect(await inspector.getJobCountByTypes('waiting')).toBe(before);
  });

  it('with a Page directory, rejects events for unregistered Pages by index', async () => {
    const publishing = producer.publish([
      { id: 'p1', type: 'custom', pageId: PAGE, topic: 't', text: 'fine' },
      { id: 'p2', type: 'custom', pageId: 'not-registered', topic: 't', text: 'no page' },
    ]);
    const error = (await publishing.catch((caught: unknown) => caught)) as EventValidationError;
    expect(error).toBeInstanceOf(EventValidationError);
    expect(error.problems).toEqual([{ index: 1, path: 'pageId', message: expect.stringContaining('not-registered') }]);
    expect(await inspector.getJob(eventJobId('p1'))).toBeUndefined();
  });

  it('throws EventPublishError quickly when Redis is unreachable', async () => {
    const offline = createEventProducer({ redisUrl: 'redis://127.0.0.1:1', prefix: services.redis.prefix, timeoutMs: 300 });
    try {
      const started = Date.now();
      await expect(offline.publish({ id: 'offline', type: 'custom', pageId: PAGE, topic: 't', text: 'x' })).rejects.toBeInstanceOf(EventPublishError);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await offline.close();
    }
  });

  it('uses a connection the caller owns without closing it', async () => {
    const own = new Redis(services.redis.url, { maxRetriesPerRequest: null });
    const shared = createEventProducer({ connection: own, prefix: services.redis.prefix });
    await shared.publish({ id: 'own-connection', type: 'back_in_stock', pageId: PAGE, productId: 'sku' });
    await shared.close();
    expect(await own.ping()).toBe('PONG');
    own.disconnect();
    expect((await inspector.getJob(eventJobId('own-connection')))?.data.event.productId).toBe('sku');
  });
});
