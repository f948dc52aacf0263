import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from './client.js';
import { usePageDatabase } from './test-support/page-database.js';
import { nextDueBatchInChain } from './deliveries.js';

// The progressive release's "next batch of this chain with something due" (apps/worker queues/deliveries/release.ts),
// against real rows: the answer, and what finding it costs.

const PAGE = 'page-release';
const BATCH_SIZE = 3;
const NOW = new Date('2026-12-01T12:00:00Z');
const LATER = new Date('2026-12-01T13:00:00Z');

type RowState = 'PENDING' | 'SENDING' | 'SENT' | 'DEFERRED';

/** A source whose batch `b` holds BATCH_SIZE deliveries in the states `stateOf(b, i)` gives. */
async function writeSource(db: Database, sourceId: string, batches: number, stateOf: (batchNo: number, row: number) => RowState) {
  const rows: Array<{ batchNo: number; status: string; notBefore: Date | null }> = [];
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < BATCH_SIZE; i++) {
      const state = stateOf(b, i);
      rows.push({ batchNo: b, status: state === 'DEFERRED' ? 'PENDING' : state, notBefore: state === 'DEFERRED' ? LATER : null });
    }
  }
  await db.pool.query(
    `WITH s AS (
       INSERT INTO "Subscriber" ("pageId", psid, "updatedAt") SELECT $1, $2 || '-' || n, now() FROM generate_series(1, $3::int) AS n RETURNING id, psid
     ), o AS (
       INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, token, "tokenFingerprint", "statusAt", "updatedAt")
       SELECT $1, s.id, 'ONE_TIME', 'release', 'tok-' || s.psid, 'fp', now(), now() FROM s RETURNING id, token
     ), numbered AS (SELECT id, row_number() OVER (ORDER BY token) AS n FROM o)
     INSERT INTO "Delivery" ("sourceType", "sourceId", "optInId", "pageId", "batchNo", status, "notBefore")
     SELECT 'EVENT', $2, numbered.id, $1, r."batchNo", r.status::"DeliveryStatus", r."notBefore"
     FROM numbered JOIN unnest($4::int[], $5::text[], $6::timestamp[]) WITH ORDINALITY AS r("batchNo", status, "notBefore", n) ON r.n = numbered.n`,
    [PAGE, sourceId, rows.length, rows.map((row) => row.batchNo), rows.map((row) => row.status), rows.map((row) => row.notBefore)],
  );
}

/** The rule, computed in memory: the nearest batchNo + k·window (k ≥ 1) holding a row due at NOW. */
function expectedNext(batches: number, stateOf: (batchNo: number, row: number) => RowState, batchNo: number, window: number): number | null {
  for (let b = batchNo + window; b < batches; b += window) {
    for (let i = 0; i < BATCH_SIZE; i++) {
      const state = stateOf(b, i);
      if (state === 'PENDING' || state === 'SENDING') return b;
    }
  }
  return null;
}

describe('nextDueBatchInChain', () => {
  const scratch = usePageDatabase('dbrelease', PAGE);
  let db: Database;
  beforeAll(() => {
    db = scratch.db;
  });

  it('finds the nearest batch of the chain with a row due now: pending, or in flight, not deferred or final', async () => {
    const batches = 40;
    // A fixed pseudo-random mix of states, so every kind of gap in a chain occurs.
    const states: RowState[] = ['SENT', 'SENT', 'SENT', 'DEFERRED', 'PENDING', 'SENDING'];
    const stateOf = (b: number, i: number): RowState => states[(b * 7 + i * 13 + ((b * b) % 5)) % states.length]!;
    await writeSource(db, 'src-mixed', batches, stateOf);
    for (const window of [1, 2, 3, 4, 8]) {
      for (let batchNo = 0; batchNo < batches; batchNo++) {
        const expected = expectedNext(batches, stateOf, batchNo, window);
        const found = await nextDueBatchInChain(db, 'src-mixed', batchNo, window, NOW);
        expect(found, `batch ${batchNo}, window ${window}`).toEqual(expected === null ? null : { batchNo: expected, kind: 'ONE_TIME' });
      }
    }
    expect(await nextDueBatchInChain(db, 'src-unknown', 0, 4, NOW)).toBeNull();
  });

  it('stops at the first due batch: its cost does not grow with the batches the fan-out wrote ahead', async () => {
    // A large send mid-way: every later batch is written and waiting, so the nearest one is due. Probing the whole
    // chain (sorting every probe's answer) made each call cost the size of the send.
    const batches = 400;
    await writeSource(db, 'src-ahead', batches, () => 'PENDING');
    await db.pool.query('ANALYZE "Delivery"');
    // This connection's index scans on "Delivery" not yet flushed to the shared statistics, read around one call on
    // the same (only) connection: the maximum batch and the probes, a handful; not one per batch of the chain (99).
    const indexScans = async () =>
      (await db.pool.query<{ scans: number }>(`SELECT idx_scan::int AS scans FROM pg_stat_xact_user_tables WHERE relname = 'Delivery'`)).rows[0]!.scans;
    await db.pool.query('BEGIN');
    try {
      const before = await indexScans();
      expect(await nextDueBatchInChain(db, 'src-ahead', 0, 4, NOW)).toEqual({ batchNo: 4, kind: 'ONE_TIME' });
      expect((await indexScans()) - before).toBeLessThan(10);
    } finally {
      await db.pool.query('ROLLBACK');
    }
  });
});
