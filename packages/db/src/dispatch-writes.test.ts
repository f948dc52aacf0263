import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from './client.js';
import { usePageDatabase } from './test-support/page-database.js';
import { claim, closeSourceIfFinished, findSourcesToCheck, loadPendingBatch, nextDueBatchInChain, recordOutcomes, settleSource, type Outcome } from './deliveries.js';
import { finishEventFanOut } from './events.js';
import { fanOut } from './fanout.js';

// The dispatch's writes on "Delivery" against real rows: a send's claim and outcome stay HOT updates (no index names
// what they change), abandoned claims come back through the batch's own load, and DispatchSource (the open sources
// the sweeper reads instead of an index of open rows) is opened by fan-out and settled only when nothing is open.

const PAGE = 'page-dispatch-writes';
const FAR_PAST = new Date(0);

async function seedTokens(db: Database, topic: string, count: number): Promise<void> {
  await db.pool.query(
    `WITH s AS (
       INSERT INTO "Subscriber" ("pageId", psid, "updatedAt") SELECT $1, $2 || '-' || n, now() FROM generate_series(1, $3::int) AS n RETURNING id, psid
     )
     INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, token, "tokenFingerprint", "statusAt", "updatedAt")
     SELECT $1, s.id, 'ONE_TIME', $2, 'tok-' || md5(s.psid) || md5(s.psid || 'x'), 'fp', now(), now() FROM s`,
    [PAGE, topic, count],
  );
}

async function fanOutSource(db: Database, sourceId: string, topic: string, batchSize: number): Promise<number[]> {
  const batches: number[] = [];
  await fanOut(db, { sourceType: 'EVENT', sourceId, pageId: PAGE, topics: [topic], kinds: ['ONE_TIME'] }, batchSize, async (batch) => {
    batches.push(batch.batchNo);
  });
  return batches;
}

/** Sends a batch the way the worker does: claims of 64, each carrying the previous chunk's answers, then the last answers. */
async function sendBatch(db: Database, sourceId: string, batchNo: number): Promise<void> {
  const rows = await loadPendingBatch(db, sourceId, batchNo, FAR_PAST);
  let answered: { outcomes: Outcome[]; at: Date } | undefined;
  for (let i = 0; i < rows.length; i += 64) {
    const chunk = rows.slice(i, i + 64);
    const { claimed } = await claim(db, chunk.map((row) => ({ row, nextEligibleAt: null })), new Date(), answered);
    answered = { outcomes: claimed.map((row) => ({ deliveryId: row.id, status: 'SENT', messageId: `m_${row.id}` })), at: new Date() };
  }
  if (answered) await recordOutcomes(db, answered.outcomes, answered.at, 'SENDING');
}

const deliveryUpdateStats = async (db: Database) =>
  (
    await db.pool.query<{ updates: number; hot: number }>(
      `SELECT n_tup_upd::int AS updates, n_tup_hot_upd::int AS hot FROM pg_stat_user_tables WHERE relname = 'Delivery'`,
    )
  ).rows[0]!;

/** This connection's statistics reach the shared ones at its next transaction end (one connection in the pool). */
async function flushStatistics(db: Database): Promise<void> {
  await db.pool.query('SELECT pg_stat_force_next_flush()');
  await db.pool.query('SELECT 1');
}

describe('dispatch writes on "Delivery"', () => {
  const scratch = usePageDatabase('dispatchwrites', PAGE);
  let db: Database;
  beforeAll(() => {
    db = scratch.db;
  });

  it('a send claims and finishes its rows with HOT updates: no index entry, the row stays on its page', async () => {
    await seedTokens(db, 'hot', 1_000);
    const batches = await fanOutSource(db, 'src-hot', 'hot', 500);
    await flushStatistics(db);
    const before = await deliveryUpdateStats(db);
    for (const batchNo of batches) await sendBatch(db, 'src-hot', batchNo);
    await flushStatistics(db);
    const after = await deliveryUpdateStats(db);
    const updates = after.updates - before.updates;
    const hotShare = (after.hot - before.hot) / updates;
    // Two updates per delivery (claim, outcome). With an index naming the status (or a time the dispatch sets) no
    // update can be HOT (0); pages filled to half by fan-out leave room for the new versions (measured: ~0.85).
    expect(updates).toBe(2_000);
    expect(hotShare).toBeGreaterThanOrEqual(0.6);
    const counts = await db.pool.query(`SELECT status, count(*)::int AS n FROM "Delivery" WHERE "sourceId" = 'src-hot' GROUP BY 1`);
    expect(counts.rows).toEqual([{ status: 'SENT', n: 1_000 }]);
  });

  it("a batch's load takes back its own abandoned claims (older than the bound), flagged, and no one else's", async () => {
    await seedTokens(db, 'abandoned', 6);
    await fanOutSource(db, 'src-abandoned', 'abandoned', 3);
    const ids = (await db.pool.query<{ id: string; batchNo: number }>(`SELECT id, "batchNo" FROM "Delivery" WHERE "sourceId" = 'src-abandoned' ORDER BY "batchNo", id`)).rows;
    const [old0, recent0, , old1] = ids;
    await db.pool.query(
      `UPDATE "Delivery" SET status = 'SENDING', "claimedAt" = CASE WHEN id = $2 THEN now() ELSE now() - interval '1 hour' END WHERE id = ANY($1::uuid[])`,
      [[old0!.id, recent0!.id, old1!.id], recent0!.id],
    );
    const loaded = await loadPendingBatch(db, 'src-abandoned', 0, new Date(Date.now() - 60_000));
    expect(loaded.map((row) => [row.id, row.abandoned, row.ambiguousAttempt]).sort()).toEqual(
      [[old0!.id, true, true], [ids[2]!.id, false, false]].sort(),
    );
    const statusOf = async (id: string) => (await db.pool.query(`SELECT status FROM "Delivery" WHERE id = $1`, [id])).rows[0]!.status;
    expect(await statusOf(recent0!.id)).toBe('SENDING'); // in flight: not this load's to take
    expect(await statusOf(old1!.id)).toBe('SENDING'); // another batch's: its own load takes it
  });

  it('fan-out opens the source; the sweeper settles it: checked again while rows are open, closed once none is', async () => {
    await seedTokens(db, 'settle', 4);
    await fanOutSource(db, 'src-settle', 'settle', 2);
    const later = new Date(Date.now() + 3_600_000);
    const [opened] = (await findSourcesToCheck(db, later, null, 100)).filter((source) => source.sourceId === 'src-settle');
    expect(opened).toMatchObject({ sourceType: 'EVENT', sourceId: 'src-settle' });

    // Everything deferred to a later time: the next check is then.
    const deferredUntil = new Date(Date.now() + 600_000);
    await db.pool.query(`UPDATE "Delivery" SET "notBefore" = $1 WHERE "sourceId" = 'src-settle'`, [deferredUntil]);
    const now = new Date();
    expect(await settleSource(db, opened!, now)).toBe('open');
    const [rescheduled] = (await findSourcesToCheck(db, later, null, 100)).filter((source) => source.sourceId === 'src-settle');
    expect(new Date(`${rescheduled!.checkAt}Z`).getTime()).toBe(deferredUntil.getTime());

    // A settle that read an older checkAt changes nothing (fan-out or a redrive opened the source again since).
    expect(await settleSource(db, opened!, now)).toBe('changed');

    // Nothing open any more: closed.
    await db.pool.query(`UPDATE "Delivery" SET status = 'SENT', "finishedAt" = now() WHERE "sourceId" = 'src-settle'`);
    expect(await settleSource(db, rescheduled!, now)).toBe('closed');
    expect((await findSourcesToCheck(db, later, null, 100)).map((source) => source.sourceId)).not.toContain('src-settle');

    // A replay of the fan-out opens it again.
    await fanOutSource(db, 'src-settle', 'settle', 2);
    expect((await findSourcesToCheck(db, later, null, 100)).map((source) => source.sourceId)).toContain('src-settle');
  });

  it('a finished source is closed by whichever finishes last: the end of its fan-out or the end of a chain', async () => {
    await seedTokens(db, 'close-a', 4);
    await seedTokens(db, 'close-b', 4);
    const openSources = async () => (await findSourcesToCheck(db, new Date(Date.now() + 3_600_000), null, 100)).map((source) => source.sourceId);
    const event = (id: string) =>
      db.pool.query(`INSERT INTO "Event" (id, "pageId", type, topic, payload, message, status) VALUES ($1, $2, 'back_in_stock', 'close', '{}', '{}', 'FANNING_OUT')`, [id, PAGE]);

    // Sent before the fan-out was marked over (a small event's one batch often is): the chain's end leaves it open,
    // the fan-out's end closes it.
    await event('close-1');
    const [batch] = await fanOutSource(db, 'close-1', 'close-a', 10);
    await sendBatch(db, 'close-1', batch!);
    expect(await closeSourceIfFinished(db, 'EVENT', 'close-1')).toBe(false); // fan-out not over yet
    await finishEventFanOut(db, 'close-1', 4, 1);
    expect(await openSources()).not.toContain('close-1');

    // Fan-out over first, a row still open: it stays open until the last chain ends.
    await event('close-2');
    expect(await fanOutSource(db, 'close-2', 'close-b', 2)).toEqual([0, 1]);
    await sendBatch(db, 'close-2', 0);
    await finishEventFanOut(db, 'close-2', 4, 2);
    expect(await openSources()).toContain('close-2');
    expect(await closeSourceIfFinished(db, 'EVENT', 'close-2')).toBe(false); // batch 1 still PENDING
    await sendBatch(db, 'close-2', 1);
    expect(await closeSourceIfFinished(db, 'EVENT', 'close-2')).toBe(true);
    expect(await openSources()).not.toContain('close-2');
  });

  it("a chain's end closes a finished source in the statement that looks for the chain's next batch", async () => {
    await seedTokens(db, 'chain-end', 6);
    const openSources = async () => (await findSourcesToCheck(db, new Date(Date.now() + 3_600_000), null, 100)).map((source) => source.sourceId);
    await db.pool.query(`INSERT INTO "Event" (id, "pageId", type, topic, payload, message, status) VALUES ('chain-1', $1, 'back_in_stock', 'chain', '{}', '{}', 'FANNING_OUT')`, [PAGE]);
    // Window 1: batches 0, 1, 2 form one chain.
    expect(await fanOutSource(db, 'chain-1', 'chain-end', 2)).toEqual([0, 1, 2]);
    await finishEventFanOut(db, 'chain-1', 6, 3);
    await sendBatch(db, 'chain-1', 0);
    expect(await nextDueBatchInChain(db, 'chain-1', 0, 1, new Date(), 'EVENT')).toEqual({ batchNo: 1, kind: 'ONE_TIME' });
    expect(await openSources()).toContain('chain-1'); // a next batch was found: rows are open
    await sendBatch(db, 'chain-1', 1);
    await sendBatch(db, 'chain-1', 2);
    expect(await nextDueBatchInChain(db, 'chain-1', 2, 1, new Date())).toBeNull();
    expect(await openSources()).toContain('chain-1'); // without closeAs (a pass that waits): the probe only reads
    expect(await nextDueBatchInChain(db, 'chain-1', 2, 1, new Date(), 'EVENT')).toBeNull();
    expect(await openSources()).not.toContain('chain-1');
  });
});
