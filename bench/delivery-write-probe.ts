/**
 * What a send writes to the WAL, by table and index: the measurement behind the cost per delivery of docs/scaling.md
 * (#16). It runs the pipeline's own statements from packages/db (fan-out, batch load, claims of 64 carrying the
 * previous chunk's answers, the last outcomes) on real tokens, without HTTP or queues, and reads the WAL they wrote
 * with `pg_waldump --relation` for every table and index of the database (a temporary replication slot keeps the
 * segments until they are read), so other databases' work on the cluster does not count.
 *
 *   pnpm --filter @renotify/bench probe:delivery-writes [-- --tokens=10000 --kind=ONE_TIME --checkpoint]
 *
 * `--checkpoint` starts the send right after a CHECKPOINT, so the first change of each page logs its full image
 * (as the first send after a checkpoint does in production); without it, no image (as inside a long send).
 * Needs the cluster's WAL on this machine (pg_waldump). The LAST line of output is one JSON object: per phase
 * (fan-out, dispatch) the bytes per delivery of each relation that wrote any, and the record kinds.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { claim, createDatabase, fanOut, loadPendingBatch, recordOutcomes, type Outcome } from '@renotify/db';
import { createTestDatabase } from '@renotify/testing';

process.env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/postgres';
const PG_WALDUMP = '/usr/lib/postgresql/15/bin/pg_waldump';

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: { tokens: { type: 'string', default: '10000' }, kind: { type: 'string', default: 'ONE_TIME' }, checkpoint: { type: 'boolean', default: false } },
});
const TOKENS = Number(args.tokens);
const KIND = args.kind === 'RECURRING' ? 'RECURRING' : 'ONE_TIME';
const PAGE = 'probe-page';
const SOURCE = 'probe-event';
const FAN_OUT_BATCH = 500;
const CLAIM_CHUNK = 64;

const database = await createTestDatabase('benchprobe');
const db = createDatabase(database.url, { maxConnections: 2 });
await db.pool.query(`INSERT INTO "Page" (id, name, "accessTokenCipher", "appSecretCipher", "updatedAt") VALUES ($1, 'p', 'x', 'x', now())`, [PAGE]);
// Tokens as long as Meta's (~100 characters): the token's unique index holds them.
await db.pool.query(
  `WITH s AS (INSERT INTO "Subscriber" ("pageId", psid, "updatedAt") SELECT $1, 'psid-' || n, now() FROM generate_series(1, $2::int) n RETURNING id, psid)
   INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, token, "tokenFingerprint", frequency, "statusAt", "updatedAt")
   SELECT $1, s.id, $3::"OptInKind", 'probe', 'tok-' || repeat(md5(s.psid), 3), 'fp_' || left(md5(s.psid), 12),
          CASE WHEN $3 = 'RECURRING' THEN 'DAILY'::"Frequency" END, now(), now() FROM s`,
  [PAGE, TOKENS, KIND],
);
if (args.checkpoint) await db.pool.query('CHECKPOINT');
const slot = `renotify_probe_${process.pid}`;
await db.pool.query(`SELECT pg_create_physical_replication_slot($1, true, false)`, [slot]);
const lsn = async () => (await db.pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;

const start = await lsn();
const batches: number[] = [];
await fanOut(db, { sourceType: 'EVENT', sourceId: SOURCE, pageId: PAGE, topics: ['probe'], kinds: [KIND] }, FAN_OUT_BATCH, async (batch) => {
  batches.push(batch.batchNo);
});
const fannedOut = await lsn();
const nextEligibleAt = KIND === 'RECURRING' ? new Date(Date.now() + 86_400_000) : null;
for (const batchNo of batches) {
  const rows = await loadPendingBatch(db, SOURCE, batchNo, new Date(0));
  let answered: { outcomes: Outcome[]; at: Date } | undefined;
  for (let i = 0; i < rows.length; i += CLAIM_CHUNK) {
    const { claimed } = await claim(db, rows.slice(i, i + CLAIM_CHUNK).map((row) => ({ row, nextEligibleAt })), new Date(), answered);
    answered = { outcomes: claimed.map((row) => ({ deliveryId: row.id, status: 'SENT', messageId: `m_${row.id.replace(/-/g, '')}` })), at: new Date() };
  }
  if (answered) await recordOutcomes(db, answered.outcomes, answered.at, 'SENDING');
}
const end = await lsn();

const { rows: relations } = await db.pool.query<{ name: string; path: string }>(
  `SELECT c.relname AS name, concat_ws('/', (SELECT oid FROM pg_tablespace WHERE spcname = 'pg_default'),
          (SELECT oid FROM pg_database WHERE datname = current_database()), pg_relation_filenode(c.oid)) AS path
   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') AND pg_relation_filenode(c.oid) IS NOT NULL`,
);
const walDir = `${(await db.pool.query<{ dir: string }>(`SELECT current_setting('data_directory') AS dir`)).rows[0]!.dir}/pg_wal`;

/** `pg_waldump --stats=record` between two positions, optionally of one relation: total bytes and records by kind. */
function walStats(from: string, to: string, relation?: string): { bytes: number; records: number; kinds: Record<string, number> } {
  let out: string;
  try {
    out = execFileSync(PG_WALDUMP, ['-p', walDir, '-s', from, '-e', to, '--stats=record', ...(relation ? [`--relation=${relation}`] : [])], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch (error) {
    out = (error as { stdout?: string }).stdout ?? ''; // exits 1 when `to` is not a record boundary
  }
  const lines = out.split('\n');
  const total = lines.find((line) => line.startsWith('Total'))?.trim().split(/\s+/) ?? [];
  const kinds = Object.fromEntries(lines.filter((line) => /^\w+\/\w+/.test(line)).map((line) => line.trim().split(/\s+/)).map((cols) => [cols[0]!, Number(cols[1])]));
  return { bytes: Number(total.at(-2) ?? 0), records: Number(total[1] ?? 0), kinds };
}

const perDelivery = (value: number) => Number((value / TOKENS).toFixed(1));
const phase = (from: string, to: string) => {
  const byRelation: Record<string, { bytes: number; records: number; kinds: Record<string, number> }> = {};
  for (const relation of relations) {
    const stats = walStats(from, to, relation.path);
    if (stats.records === 0) continue;
    byRelation[relation.name] = {
      bytes: perDelivery(stats.bytes),
      records: Number((stats.records / TOKENS).toFixed(2)),
      kinds: Object.fromEntries(Object.entries(stats.kinds).map(([kind, n]) => [kind, Number((n / TOKENS).toFixed(2))])),
    };
  }
  // The sum over this database's relations: the cluster's total between the two positions would count other
  // databases' work too (commit records, a few bytes per statement, are left out).
  const bytesPerDelivery = Number(Object.values(byRelation).reduce((sum, stats) => sum + stats.bytes, 0).toFixed(1));
  return { bytesPerDelivery, byRelation };
};
// Disk after the send (table, indexes, TOAST), once vacuum has made the dead row versions' space reusable.
await db.pool.query('VACUUM "Delivery", "OptIn"');
const { rows: sizes } = await db.pool.query<{ delivery: string; optIn: string }>(
  `SELECT pg_total_relation_size('"Delivery"')::text AS delivery, pg_total_relation_size('"OptIn"')::text AS "optIn"`,
);
const diskBytesPerDelivery = { Delivery: Math.round(Number(sizes[0]!.delivery) / TOKENS), OptIn: Math.round(Number(sizes[0]!.optIn) / TOKENS) };
const result = {
  bench: 'delivery-write-probe',
  tokens: TOKENS,
  kind: KIND,
  checkpoint: args.checkpoint,
  fanOut: phase(start, fannedOut),
  dispatch: phase(fannedOut, end),
  diskBytesPerDelivery,
};

await db.pool.query(`SELECT pg_drop_replication_slot($1)`, [slot]);
await db.close();
await database.drop();
for (const [name, { bytesPerDelivery, byRelation }] of [['fan-out', result.fanOut], ['dispatch', result.dispatch]] as const) {
  console.log(`[probe] ${name}: ${bytesPerDelivery} B per delivery`);
  for (const [relation, stats] of Object.entries(byRelation)) console.log(`[probe]   ${relation.padEnd(40)} ${String(stats.bytes).padStart(7)} B  ${JSON.stringify(stats.kinds)}`);
}
console.log(JSON.stringify({ ...result, bytesPerDelivery: Number((result.fanOut.bytesPerDelivery + result.dispatch.bytesPerDelivery).toFixed(1)) }));
