import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEvents, type EventInput } from '@renotify/domain';
import { createTestDatabase, type TestDatabase } from '@renotify/testing';
import { createDatabase, type Database } from './client.js';
import { acceptEvents, createKnownPages, findUnknownPageIds, getEventSummary, startEventFanOut } from './events.js';

function events(input: unknown): EventInput[] {
  const result = parseEvents(input);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.events;
}
const custom = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: 'custom', pageId: 'page-1', topic: 'weekly_deals', text: `text ${id}`, ...extra });

async function insertPage(db: Database, id: string, deleted = false) {
  await db.pool.query(
    `INSERT INTO "Page" (id, name, "accessTokenCipher", "appSecretCipher", "updatedAt", "deletedAt")
     VALUES ($1, 'p', 'x', 'x', now(), CASE WHEN $2::boolean THEN now() END)`,
    [id, deleted],
  );
}

describe('event repository', () => {
  let database: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    database = await createTestDatabase('dbevents');
    db = createDatabase(database.url);
    await insertPage(db, 'page-1');
    await insertPage(db, 'page-gone', true);
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  it('stores a batch in one statement with topic, type-specific payload and rendered message', async () => {
    const result = await acceptEvents(
      db,
      events([
        { id: 'e1', type: 'back_in_stock', pageId: 'page-1', productId: 'a:b', variant: 'XL', occurredAt: '2026-11-21T10:00:00+01:00' },
        { id: 'e2', type: 'price_drop', pageId: 'page-1', productId: 5, oldPrice: 10, newPrice: 9.5, currency: 'USD', template: 'Now {{newPriceFormatted}}!' },
        custom('e3', { message: { text: 'quoted "text" \\ with backslash' } }),
      ]),
    );
    expect(result).toEqual({ accepted: ['e1', 'e2', 'e3'], duplicates: [], pendingFanout: ['e1', 'e2', 'e3'] });
    const { rows } = await db.pool.query('SELECT id, type, topic, payload, message, status FROM "Event" ORDER BY id');
    expect(rows).toEqual([
      {
        id: 'e1',
        type: 'back_in_stock',
        topic: 'back_in_stock:a%3Ab:XL',
        payload: { productId: 'a:b', variant: 'XL', occurredAt: '2026-11-21T10:00:00+01:00' },
        message: { text: 'Good news: a:b (XL) is back in stock.' },
        status: 'ACCEPTED',
      },
      {
        id: 'e2',
        type: 'price_drop',
        topic: 'price_drop:5',
        payload: { productId: '5', oldPrice: 10, newPrice: 9.5, currency: 'USD' },
        message: { text: 'Now $9.50!' },
        status: 'ACCEPTED',
      },
      {
        id: 'e3',
        type: 'custom',
        topic: 'weekly_deals',
        payload: { topic: 'weekly_deals', text: 'text e3' },
        message: { text: 'quoted "text" \\ with backslash' },
        status: 'ACCEPTED',
      },
    ]);
  });

  it('reports duplicates, keeps the stored content, and lists only duplicates still ACCEPTED for fan-out', async () => {
    await db.pool.query(`UPDATE "Event" SET status = 'FANNED_OUT' WHERE id = 'e2'`);
    const result = await acceptEvents(db, events([custom('e1', { text: 'changed' }), custom('e2'), custom('e4'), custom('e4')]));
    expect(result).toEqual({ accepted: ['e4'], duplicates: ['e1', 'e2'], pendingFanout: ['e1', 'e4'] });
    const stored = await db.pool.query(`SELECT type FROM "Event" WHERE id = 'e1'`);
    expect(stored.rows[0].type).toBe('back_in_stock');
    expect(await acceptEvents(db, [])).toEqual({ accepted: [], duplicates: [], pendingFanout: [] });
  });

  it('under concurrent inserts of the same id, exactly one call accepts it and both ask for its fan-out', async () => {
    const other = createDatabase(database.url);
    try {
      // Opposite orders: without a consistent lock order these two statements would deadlock.
      for (let round = 0; round < 5; round++) {
        const batch = events(Array.from({ length: 500 }, (_, i) => custom(`race-${round}-${i}`)));
        const [first, second] = await Promise.all([acceptEvents(db, batch), acceptEvents(other, [...batch].reverse())]);
        expect(first.accepted.length + second.accepted.length).toBe(500);
        expect(new Set([...first.accepted, ...second.accepted]).size).toBe(500);
        expect(first.pendingFanout).toHaveLength(500);
        expect(second.pendingFanout).toHaveLength(500);
        const reversed = batch.map((event) => event.id).reverse();
        expect(second.accepted).toEqual(reversed.filter((id) => second.accepted.includes(id)));
        expect(second.duplicates).toEqual(reversed.filter((id) => second.duplicates.includes(id)));
      }
    } finally {
      await other.close();
    }
  });

  it('fails the whole statement on an unregistered page (nothing half-stored)', async () => {
    await expect(acceptEvents(db, events([custom('fk-ok'), custom('fk-bad', { pageId: 'no-such-page' })]))).rejects.toMatchObject({ code: '23503' });
    expect((await db.pool.query(`SELECT 1 FROM "Event" WHERE id = 'fk-ok'`)).rowCount).toBe(0);
  });

  it('finds unknown and deleted pages, and caches only known ones', async () => {
    expect(await findUnknownPageIds(db, ['page-1', 'page-gone', 'nope', 'page-1'])).toEqual(new Set(['page-gone', 'nope']));
    const known = createKnownPages(db, { ttlMs: 60_000 });
    expect(await known.findUnknown(['page-1', 'page-new'])).toEqual(new Set(['page-new']));
    await insertPage(db, 'page-new');
    expect(await known.findUnknown(['page-new'])).toEqual(new Set());
    // page-1 is cached: a soft delete is seen after the TTL or forget().
    await db.pool.query(`UPDATE "Page" SET "deletedAt" = now() WHERE id = 'page-new'`);
    expect(await known.findUnknown(['page-new'])).toEqual(new Set());
    known.forget();
    expect(await known.findUnknown(['page-new'])).toEqual(new Set(['page-new']));
  });

  it('summarises an event with zeroed counts, and answers null for an unknown id', async () => {
    const summary = await getEventSummary(db, 'e3');
    expect(summary).toMatchObject({ id: 'e3', topic: 'weekly_deals', counts: { byStatus: { PENDING: 0, SENT: 0, DEAD: 0 }, bySkipReason: {} } });
    expect(summary?.receivedAt).toBeInstanceOf(Date);
    expect(Math.abs((summary?.receivedAt.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
    expect(await getEventSummary(db, 'nope')).toBeNull();
  });

  it('never fans out again an event whose counts the retention job stored (its deliveries may be gone)', async () => {
    await acceptEvents(db, events([custom('evt-finalized')]));
    expect(await startEventFanOut(db, 'evt-finalized')).toMatchObject({ pageId: 'page-1', status: 'ACCEPTED' });
    await db.pool.query(`UPDATE "Event" SET status = 'FANNED_OUT', "finalCounts" = '[]' WHERE id = 'evt-finalized'`);
    expect(await startEventFanOut(db, 'evt-finalized')).toBeNull();
  });
});
