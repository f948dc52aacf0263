/**
 * What a delivery's three row writes cost in WAL with today's "Delivery" indexes, against a layout whose indexes
 * never name a column the claim or the outcome changes (so both UPDATEs can be HOT): the measurement behind the
 * "path to half the WAL" of docs/scaling.md (#16). It measures the row writes only (no tokens, no pipeline).
 *
 *   pnpm --filter @renotify/bench probe:delivery-writes [-- --rows=100000 --fillfactor=50]
 *
 * On a fresh migrated database: `--rows` deliveries inserted in fan-out batches of 500, claimed in chunks of 64
 * (PENDING → SENDING), finished in groups of 500 (SENDING → SENT with a message id), as the pipeline issues them.
 * WAL is the `pg_current_wal_lsn()` difference of each phase (run it on a quiet cluster: other databases' WAL
 * counts too), after a CHECKPOINT, so the first touch of each page writes its full-page image as in production.
 * The LAST line of output is one JSON object.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createTestDatabase } from '@renotify/testing';

process.env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/postgres';

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: { rows: { type: 'string', default: '100000' }, fillfactor: { type: 'string', default: '50' } },
});
const ROWS = Number(args.rows);
const FILLFACTOR = Number(args.fillfactor);
const FAN_OUT_BATCH = 500;
const CLAIM_CHUNK = 64;
const OUTCOME_GROUP = 500;

const database = await createTestDatabase('benchprobe');
const client = new pg.Client({ connectionString: database.url });
await client.connect();

// Deliveries of no real token: the foreign key to "OptIn" goes (both layouts would pay its row lock alike).
await client.query(`ALTER TABLE "Delivery" DROP CONSTRAINT "Delivery_optInId_fkey"`);
// The status-free layout: the primary key, the exactly-once key and the batch lookup; nothing on status or times.
await client.query(`CREATE TABLE "DeliveryHot" (LIKE "Delivery" INCLUDING DEFAULTS) WITH (fillfactor = ${FILLFACTOR})`);
await client.query(`ALTER TABLE "DeliveryHot" ADD PRIMARY KEY (id)`);
await client.query(`CREATE UNIQUE INDEX ON "DeliveryHot" ("optInId", "sourceId")`);
await client.query(`CREATE INDEX ON "DeliveryHot" ("sourceId", "batchNo")`);

const walLsn = async () => (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
const walSince = async (from: string) =>
  Number((await client.query<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint AS bytes', [from])).rows[0]!.bytes);

async function measure(table: string) {
  const source = `probe-${table}`;
  await client.query('CHECKPOINT');
  const phases: Record<string, number> = {};
  let from = await walLsn();
  for (let batch = 0; batch * FAN_OUT_BATCH < ROWS; batch++) {
    await client.query(
      `INSERT INTO "${table}" ("sourceType", "sourceId", "optInId", "pageId", "batchNo")
       SELECT 'EVENT', $1, gen_random_uuid(), 'probe-page', $2 FROM generate_series(1, $3)`,
      [source, batch, Math.min(FAN_OUT_BATCH, ROWS - batch * FAN_OUT_BATCH)],
    );
  }
  phases.insert = await walSince(from);
  const { rows } = await client.query<{ id: string }>(`SELECT id FROM "${table}" WHERE "sourceId" = $1 ORDER BY "batchNo", id`, [source]);
  const ids = rows.map((row) => row.id);
  from = await walLsn();
  for (let i = 0; i < ids.length; i += CLAIM_CHUNK) {
    await client.query(
      `UPDATE "${table}" SET status = 'SENDING', attempts = attempts + 1, "claimedAt" = now() WHERE id = ANY($1::uuid[]) AND status = 'PENDING'`,
      [ids.slice(i, i + CLAIM_CHUNK)],
    );
  }
  phases.claim = await walSince(from);
  from = await walLsn();
  for (let i = 0; i < ids.length; i += OUTCOME_GROUP) {
    await client.query(
      `UPDATE "${table}" SET status = 'SENT', "messageId" = 'm_' || md5(id::text), "finishedAt" = now() WHERE id = ANY($1::uuid[]) AND status = 'SENDING'`,
      [ids.slice(i, i + OUTCOME_GROUP)],
    );
  }
  phases.outcome = await walSince(from);
  await client.query('SELECT pg_stat_force_next_flush()').catch(() => undefined);
  const stats = await client.query<{ hot: string; updates: string; bytes: string }>(
    `SELECT n_tup_hot_upd AS hot, n_tup_upd AS updates, pg_total_relation_size(relid) AS bytes FROM pg_stat_user_tables WHERE relname = $1`,
    [table],
  );
  const { hot, updates, bytes } = stats.rows[0]!;
  const perDelivery = (value: number) => Math.round(value / ROWS);
  const result = {
    table,
    walBytesPerDelivery: perDelivery(phases.insert! + phases.claim! + phases.outcome!),
    insert: perDelivery(phases.insert!),
    claim: perDelivery(phases.claim!),
    outcome: perDelivery(phases.outcome!),
    hotUpdateShare: Number((Number(hot) / Math.max(1, Number(updates))).toFixed(2)),
    diskBytesPerDelivery: perDelivery(Number(bytes)),
  };
  console.log(`[probe] ${JSON.stringify(result)}`);
  return result;
}

const today = await measure('Delivery');
const hot = await measure('DeliveryHot');
await client.end();
await database.drop();
console.log(
  JSON.stringify({
    bench: 'delivery-write-probe',
    rows: ROWS,
    fillfactor: FILLFACTOR,
    today,
    statusFreeIndexes: hot,
    walRatio: Number((hot.walBytesPerDelivery / today.walBytesPerDelivery).toFixed(2)),
  }),
);
