/**
 * Scale mode of the fan-out benchmark: does the cost per send stay flat as work and tables grow?
 * One event per run, matching N one-time tokens of a fresh Page, against the Messenger sandbox (rate limit lifted),
 * with one worker process for every run (its RSS is watched) and a private redis-server (its memory must come back
 * to the baseline after each run). Then a history run: HISTORY_TOKENS tokens on a Page whose "Delivery" table
 * already holds HISTORY old rows (generated in SQL with generate_series, as years of daily sends would leave them:
 * every row SENT, finished, spread over past days), against the same send on an empty "Delivery" table. Sends/s on
 * this machine move by a factor of up to 1.8 between two identical runs minutes apart, and the second run of a pair
 * measured slower whichever it was, so the history comparison runs ROUNDS rounds of four (empty, history, history,
 * empty), each side with its own database, ingest and worker, each run starting right after a CHECKPOINT (so the
 * 10M-row generation's dirty pages are not the next run's cost); a round's ratio is its mean history rate over its
 * mean empty rate, and the figure is the median over rounds.
 * Targets (issue #16): ratio1MTo100k ≥ 0.9, ratioHistoryToEmpty ≥ 0.9, worker RSS < 250 MB at 1M, Redis back to baseline.
 * Postgres is a private cluster the bench starts with a production primary's settings (PRODUCTION_POSTGRES_SETTINGS
 * in support.ts: 15-minute checkpoints, WAL room, 2 GB shared_buffers, autovacuum); `--postgres=shared` runs on
 * DATABASE_URL's server instead (the development cluster: 128 MB shared_buffers, 1 GB max_wal_size, autovacuum off).
 *   pnpm bench:scale [-- --sizes=10000,100000,1000000,100000 --history=10000000 --history-tokens=100000 --rounds=2 --postgres=private]
 * `--sizes=10000,100000 --history=1000000` is a quick run; `--sizes= ` only the history comparison; a size given twice
 * (`--sizes=100000,1000000,100000`) counts with its mean rate, so the 1M run can be bracketed. The LAST line of
 * output is one JSON object.
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadIngestConfig } from '@renotify/config';
import { createDatabase, createPage, SecretBox, type Database } from '@renotify/db';
import { startIngest } from '@renotify/ingest';
import { createTestDatabase } from '@renotify/testing';
import {
  APP_SECRET,
  accessTokenOf,
  cpuMsOf,
  cpuMsOfTree,
  emulateAutoanalyze,
  freePort,
  PRODUCTION_POSTGRES_SETTINGS,
  RETENTION_NEVER,
  round,
  rssMbOf,
  startChild,
  startPrivatePostgres,
  startPrivateRedis,
  startSandbox,
  stopChildren,
  storeTokens,
  waitHealthy,
} from './support.js';

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    sizes: { type: 'string', default: '10000,100000,1000000,100000' },
    history: { type: 'string', default: '10000000' },
    'history-tokens': { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '2' },
    postgres: { type: 'string', default: 'private' },
  },
});
const SIZES = args.sizes.split(',').map(Number).filter((size) => size > 0);
const ROUNDS = Math.max(1, Number(args.rounds));
const HISTORY = Number(args.history);
const HISTORY_TOKENS = Number(args['history-tokens']);
const TOPIC = 'back_in_stock:scale';
const SEND_CONCURRENCY = 64;

const log = (message: string) => console.log(`[scale] ${message}`);
// Interrupted (Ctrl-C, a timeout): the sandbox, worker and redis-server children go too.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopChildren();
    process.exit(130);
  });
}
/** BENCH_PG_SETTINGS="name=value,name=value" changes the private cluster's settings (an experiment, e.g. autovacuum=off). */
function settingsFromEnv(): Record<string, string> {
  const pairs = (process.env.BENCH_PG_SETTINGS ?? '').split(',').filter((pair) => pair.includes('='));
  return Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')).trim(), pair.slice(pair.indexOf('=') + 1).trim()]));
}
// The measured Postgres: by default a private cluster with a production primary's settings (PRODUCTION_POSTGRES_SETTINGS);
// `--postgres=shared` measures on DATABASE_URL's server as it is configured. BENCH_PG_STATEMENTS=1 loads
// pg_stat_statements there and logs each run's costliest statements per 1,000 deliveries.
const statementsProfile = process.env.BENCH_PG_STATEMENTS === '1' && args.postgres !== 'shared';
const postgresSettings = args.postgres === 'shared' ? 'shared' : { ...PRODUCTION_POSTGRES_SETTINGS, ...settingsFromEnv() };
const privatePostgres =
  postgresSettings === 'shared'
    ? null
    : await startPrivatePostgres({ ...postgresSettings, ...(statementsProfile ? { shared_preload_libraries: 'pg_stat_statements' } : {}) });
if (privatePostgres) process.env.DATABASE_URL = privatePostgres.url; // the server createTestDatabase makes databases on
// Meta's stand-in counts messages without keeping them: a million kept messages would make it slower as a run goes on.
const sandbox = await startSandbox({ keepMessages: false });
const privateRedis = await startPrivateRedis();
const redis = new Redis(privateRedis.url);
const redisMemoryMb = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0) / 1024 / 1024;

/** A database with its own ingest and worker (one per kind of table measured), on the shared sandbox and Redis. */
async function startStack(name: string) {
  const database = await createTestDatabase(name);
  const env = { DATABASE_URL: database.url, REDIS_URL: privateRedis.url, QUEUE_PREFIX: name, GRAPH_API_BASE_URL: sandbox.url, LOG_LEVEL: 'warn', RETENTION_CRON: RETENTION_NEVER };
  const db: Database = createDatabase(database.url, { maxConnections: 4 });
  // BENCH_DELIVERY_IDS=random measures the layout before migration 20261202000000 (random ids) in the same harness.
  if (process.env.BENCH_DELIVERY_IDS === 'random') {
    await db.pool.query(`CREATE OR REPLACE FUNCTION renotify_delivery_id(source text, batch_no int) RETURNS uuid LANGUAGE sql VOLATILE AS 'SELECT gen_random_uuid()'`);
  }
  // On a cluster without autovacuum, statistics are refreshed as autoanalyze would (see emulateAutoanalyze).
  const stopAutoanalyze = await emulateAutoanalyze(db);
  const ingest = await startIngest(loadIngestConfig({ ...env, INGEST_PORT: '0' }));
  const workerPort = await freePort();
  const worker = startChild('apps/worker/src/main.ts', { ...env, WORKER_PORT: String(workerPort), SEND_CONCURRENCY: String(SEND_CONCURRENCY), WORKER_CONCURRENCY: '4' });
  await waitHealthy(`http://127.0.0.1:${workerPort}`);
  return {
    name,
    db,
    ingest,
    worker,
    secrets: new SecretBox(loadIngestConfig(env).ENCRYPTION_KEY),
    async close() {
      stopAutoanalyze();
      await ingest.close();
      worker.kill('SIGTERM');
      await new Promise((resolve) => worker.once('exit', resolve));
      await db.close();
      await database.drop();
    },
  };
}
type Stack = Awaited<ReturnType<typeof startStack>>;

/** A Page with `count` one-time tokens, in the sandbox and stored in Renotify as its opt-in webhooks would. */
async function preparePage(stack: Stack, pageId: string, count: number) {
  await sandbox.createPage(pageId);
  log(`Page ${pageId}: issuing and storing ${count} tokens`);
  const tokens = await sandbox.issueTokens(pageId, count, { prefix: `s${pageId.slice(-3)}-`, topic: TOPIC });
  await createPage(stack.db, stack.secrets, { id: pageId, name: `scale ${pageId}`, accessToken: accessTokenOf(pageId), appSecret: APP_SECRET, sendRatePerSec: 1_000_000 });
  await storeTokens(stack.db, pageId, tokens, { topic: TOPIC });
}

/**
 * `rows` old deliveries on the Page: `rows / tokens` past events, each sent to every token of the Page, final and
 * finished at its time, with the ids fan-out gives them (renotify_delivery_id: grouped by source and batch). Inserted one past
 * event per statement, so progress shows. The past events are spread over less than the default 90-day retention,
 * so the retention job does not purge them during the measured run.
 */
const HOURS_BETWEEN_PAST_EVENTS = 18;
async function generateHistory({ db }: Stack, pageId: string, rows: number) {
  const { rows: counted } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "OptIn" WHERE "pageId" = $1`, [pageId]);
  const perEvent = counted[0]!.n;
  const events = Math.ceil(rows / perEvent);
  log(`generating ${events * perEvent} historical deliveries (${events} past events × ${perEvent} tokens) with generate_series`);
  const started = performance.now();
  await db.pool.query(
    `INSERT INTO "Event" (id, "pageId", type, topic, payload, message, status, "matchedCount", "batchCount", "receivedAt", "fannedOutAt")
     SELECT 'history-' || day, $1, 'back_in_stock', $2, '{}', '{"text":"old news"}', 'FANNED_OUT', $3::int, ceil($3::int / 500.0)::int,
            now() - make_interval(hours => day * $5::int), now() - make_interval(hours => day * $5::int)
     FROM generate_series(1, $4::int) AS day`,
    [pageId, TOPIC, perEvent, events, HOURS_BETWEEN_PAST_EVENTS],
  );
  for (let day = 1; day <= events; day++) {
    await db.pool.query(
      `INSERT INTO "Delivery" (id, "sourceType", "sourceId", "optInId", "pageId", "batchNo", status, attempts, "messageId", "createdAt", "claimedAt", "finishedAt")
       SELECT renotify_delivery_id('history-' || $2::int, (o.n / 500)::int), 'EVENT', 'history-' || $2::int, o.id, $1, (o.n / 500)::int, 'SENT', 1, 'm.history.' || $2::int || '.' || o.n, at, at, at
       FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM "OptIn" WHERE "pageId" = $1) AS o,
            (SELECT now() - make_interval(hours => $2::int * $3::int) AS at) AS past`,
      [pageId, day, HOURS_BETWEEN_PAST_EVENTS],
    );
    if (day % 5 === 0 || day === events) {
      const seconds = (performance.now() - started) / 1000;
      log(`  ${day * perEvent} rows in ${seconds.toFixed(0)} s (${Math.round((day * perEvent) / seconds)} rows/s)`);
    }
  }
  await db.pool.query('VACUUM ANALYZE "Delivery"');
  await db.pool.query('ANALYZE "Event"');
  return events * perEvent;
}

interface RunResult {
  tokens: number;
  sendsPerSec: number;
  seconds: number;
  walBytesPerDelivery: number;
  workerCpuMsPerDelivery: number;
  sandboxCpuMsPerDelivery: number;
  postgresCpuMsPerDelivery: number | null;
  workerRssMbMax: number;
  redisBeforeMb: number;
  redisAfterMb: number;
}

/** One event matching every token of the Page, from POST until every delivery is final. */
async function run({ db, ingest, worker }: Stack, pageId: string, tokens: number, label: string): Promise<RunResult> {
  // Every run starts from the state autovacuum leaves between sends (the run before it left a million dead token
  // versions: vacuuming them inside the next run is the last run's cost) and with nothing dirty: what the run
  // before it (or a bulk load) left is not this run's cost.
  await db.pool.query('VACUUM (ANALYZE)');
  await db.pool.query('CHECKPOINT').catch((error: Error) => log(`CHECKPOINT refused (${error.message}): runs start with whatever is dirty`));
  const redisBeforeMb = await redisMemoryMb();
  const walLsn = async () => BigInt((await db.pool.query<{ lsn: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS lsn`)).rows[0]!.lsn.split('.')[0]!);
  const walBefore = await walLsn();
  let workerRssMbMax = rssMbOf(worker.pid);
  // CPU per delivery of each party: what grows with the size, if anything does (Postgres only when it is private).
  const cpuBefore = { worker: cpuMsOf(worker.pid), sandbox: cpuMsOf(sandbox.pid), postgres: cpuMsOfTree(privatePostgres?.pid) };
  if (statementsProfile) await db.pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()');
  const eventId = `scale-${label}`;
  log(`${label}: one event → ${tokens} tokens`);
  const started = performance.now();
  const response = await fetch(`${ingest.url}/v1/events`, {
    method: 'POST',
    headers: { authorization: 'Bearer demo-api-key', 'content-type': 'application/json' },
    body: JSON.stringify({ id: eventId, type: 'back_in_stock', pageId, productId: 'scale', productName: 'Scale Sneaker' }),
  });
  if (response.status !== 202) throw new Error(`event rejected: ${response.status} ${await response.text()}`);
  // Progress is read from the sandbox (a counter), not by counting the run's rows every second: over a million rows
  // that count was the harness' own Postgres work, growing with the size it measures. Postgres is asked only once
  // Meta has every message, until the last outcomes are written.
  for (let accepted = 0; accepted < tokens; ) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    workerRssMbMax = Math.max(workerRssMbMax, rssMbOf(worker.pid));
    accepted = await sandbox.acceptedCount(pageId);
    process.stdout.write(`\r[scale] ${label}: ${accepted}/${tokens} sent, worker RSS ${rssMbOf(worker.pid).toFixed(0)} MB   `);
  }
  for (;;) {
    const { rows } = await db.pool.query<{ open: number; total: number }>(
      `SELECT count(*) FILTER (WHERE status IN ('PENDING','SENDING'))::int AS open, count(*)::int AS total FROM "Delivery" WHERE "sourceId" = $1`,
      [eventId],
    );
    if (rows[0]!.total >= tokens && rows[0]!.open === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const seconds = (performance.now() - started) / 1000;
  // Cluster-wide (full-page images included): what the run cost the WAL, next to what it cost in time.
  const walBytesPerDelivery = Number((await walLsn()) - walBefore) / tokens;
  const cpuMsPerDelivery = (now: number, before: number) => round((now - before) / tokens, 3);
  const cpu = {
    workerCpuMsPerDelivery: cpuMsPerDelivery(cpuMsOf(worker.pid), cpuBefore.worker),
    sandboxCpuMsPerDelivery: cpuMsPerDelivery(cpuMsOf(sandbox.pid), cpuBefore.sandbox),
    postgresCpuMsPerDelivery: privatePostgres ? cpuMsPerDelivery(cpuMsOfTree(privatePostgres.pid), cpuBefore.postgres) : null,
  };
  process.stdout.write('\n');
  if (statementsProfile) {
    const { rows: top } = await db.pool.query<{ ms: number; calls: number; query: string }>(
      `SELECT round((total_exec_time * 1000 / $1)::numeric, 1)::float AS ms, (calls * 1000 / $1)::float AS calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
       FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 10`,
      [tokens],
    );
    for (const row of top) log(`  ${row.ms} ms, ${row.calls} calls per 1,000 deliveries: ${row.query}`);
  }
  const { rows: outcomes } = await db.pool.query(`SELECT status, count(*)::int AS n FROM "Delivery" WHERE "sourceId" = $1 GROUP BY 1`, [eventId]);
  // Finished jobs are removed at once; give the last acknowledgements a moment before reading memory.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const result = { tokens, sendsPerSec: round(tokens / seconds), seconds: round(seconds, 1), walBytesPerDelivery: round(walBytesPerDelivery), ...cpu, workerRssMbMax: round(workerRssMbMax), redisBeforeMb: round(redisBeforeMb, 2), redisAfterMb: round(await redisMemoryMb(), 2) };
  log(`${label}: ${JSON.stringify(result)} outcomes ${JSON.stringify(outcomes)}`);
  return result;
}

const main = await startStack('benchscale');
const runs: RunResult[] = [];
for (const [index, size] of SIZES.entries()) {
  const pageId = String(320000000000000 + index);
  await preparePage(main, pageId, size);
  await main.db.pool.query('TRUNCATE "Delivery"'); // each size on an empty table: the size is what varies
  runs.push(await run(main, pageId, size, `size-${index + 1}-${size}`)); // the label is the event id: one per run
}

interface HistoryRound {
  emptySendsPerSec: number;
  historySendsPerSec: number;
  ratio: number;
  emptyWalBytesPerDelivery: number;
  historyWalBytesPerDelivery: number;
}
const historyRounds: HistoryRound[] = [];
const historyRuns: RunResult[] = [];
let historyRows = 0;
if (HISTORY > 0) {
  // The empty side is the main stack, its "Delivery" table truncated before each of its runs.
  const history = await startStack('benchscalehist');
  const basePage = '329000000000000';
  await preparePage(history, basePage, HISTORY_TOKENS);
  historyRows = await generateHistory(history, basePage, HISTORY);
  for (let roundNo = 1; roundNo <= ROUNDS; roundNo++) {
    // Each round runs empty, history, history, empty (ABBA): a drift of the machine's speed, and whatever the run
    // before leaves for the next one, weigh on both sides alike.
    const emptyPages = [String(330000000000000 + 2 * roundNo), String(330000000000001 + 2 * roundNo)];
    const historyPages = [String(329000000000000 + 2 * roundNo), String(329000000000001 + 2 * roundNo)];
    for (const pageId of emptyPages) await preparePage(main, pageId, HISTORY_TOKENS);
    for (const pageId of historyPages) await preparePage(history, pageId, HISTORY_TOKENS);
    // Labels are event ids too: each run's own.
    const measureEmpty = async (pageId: string, which: 'a' | 'b') => {
      await main.db.pool.query('TRUNCATE "Delivery"'); // empty means empty: no rows or index pages left by a run before
      return run(main, pageId, HISTORY_TOKENS, `round-${roundNo}${which}-empty`);
    };
    const measureHistory = (pageId: string, which: 'a' | 'b') => run(history, pageId, HISTORY_TOKENS, `round-${roundNo}${which}-history-${historyRows}`);
    const empty = [await measureEmpty(emptyPages[0]!, 'a')];
    const old = [await measureHistory(historyPages[0]!, 'a'), await measureHistory(historyPages[1]!, 'b')];
    empty.push(await measureEmpty(emptyPages[1]!, 'b'));
    historyRuns.push(...old);
    const mean = (results: RunResult[], key: 'sendsPerSec' | 'walBytesPerDelivery') => round(results.reduce((sum, result) => sum + result[key], 0) / results.length);
    historyRounds.push({
      emptySendsPerSec: mean(empty, 'sendsPerSec'),
      historySendsPerSec: mean(old, 'sendsPerSec'),
      ratio: round(mean(old, 'sendsPerSec') / mean(empty, 'sendsPerSec'), 2),
      emptyWalBytesPerDelivery: mean(empty, 'walBytesPerDelivery'),
      historyWalBytesPerDelivery: mean(old, 'walBytesPerDelivery'),
    });
    log(`round ${roundNo}: ${JSON.stringify(historyRounds.at(-1))}`);
  }
  await history.close();
}

await main.close();
redis.disconnect();
await privatePostgres?.stop();
stopChildren();

/** A size may be run more than once (`--sizes=100000,1000000,100000` brackets the 1M run): its mean rate. */
const meanRateOf = (size: number): number | null => {
  const ofSize = runs.filter((result) => result.tokens === size);
  return ofSize.length ? ofSize.reduce((sum, result) => sum + result.sendsPerSec, 0) / ofSize.length : null;
};
const rateRatio = (a: number | null, b: number | null) => (a !== null && b !== null ? round(a / b, 2) : null);
const median = (values: number[]) => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : round((sorted[middle - 1]! + sorted[middle]!) / 2, 2);
};
// Each run reads Redis before and after (its finished jobs removed): memory must come back to where the run found it.
const allRuns = [...runs, ...historyRuns];
const redisGrowthMb = Math.max(0, ...allRuns.map((result) => result.redisAfterMb - result.redisBeforeMb));
console.log(
  JSON.stringify({
    bench: 'fanout-scale',
    postgres: postgresSettings,
    runs: runs.map(({ tokens, sendsPerSec, walBytesPerDelivery, workerCpuMsPerDelivery, sandboxCpuMsPerDelivery, postgresCpuMsPerDelivery, workerRssMbMax }) => ({
      tokens,
      sendsPerSec,
      walBytesPerDelivery,
      workerCpuMsPerDelivery,
      sandboxCpuMsPerDelivery,
      postgresCpuMsPerDelivery,
      workerRssMbMax,
    })),
    ratio1MTo100k: rateRatio(meanRateOf(1_000_000), meanRateOf(100_000)),
    historyRows,
    historyRounds,
    ratioHistoryToEmpty: median(historyRounds.map((pair) => pair.ratio)),
    workerRssMbMaxAt1M: runs.some((result) => result.tokens === 1_000_000)
      ? Math.max(...runs.filter((result) => result.tokens === 1_000_000).map((result) => result.workerRssMbMax))
      : null,
    workerRssMbMax: Math.max(0, ...allRuns.map((result) => result.workerRssMbMax)),
    redisMaxGrowthPerRunMb: round(redisGrowthMb, 2),
    redisBackToBaseline: redisGrowthMb < 1,
  }),
);
process.exit(0);
