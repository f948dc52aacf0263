/**
 * Scale mode of the fan-out benchmark: does the cost per send stay flat as work and tables grow?
 * One event per run, matching N one-time tokens of a fresh Page, against the Messenger sandbox (rate limit lifted),
 * with one worker process for every run (its RSS is watched) and a private redis-server (its memory must come back
 * to the baseline after each run). Then a history run: HISTORY_TOKENS tokens on a Page whose "Delivery" table
 * already holds HISTORY old rows (generated in SQL with generate_series, as years of daily sends would leave them:
 * every row SENT, finished, spread over past days), measured against the empty-table run of the same size.
 * Targets (issue #16): ratio1MTo100k ≥ 0.9, ratioHistoryToEmpty ≥ 0.9, worker RSS < 250 MB at 1M, Redis back to baseline.
 *   pnpm bench:scale [-- --sizes=10000,100000,1000000 --history=10000000 --history-tokens=100000]
 * `--sizes=10000,100000 --history=1000000` is a quick run. The LAST line of output is one JSON object.
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
  emulateAutoanalyze,
  freePort,
  round,
  rssMbOf,
  startChild,
  startPrivateRedis,
  startSandbox,
  stopChildren,
  storeTokens,
  waitHealthy,
} from './support.js';

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    sizes: { type: 'string', default: '10000,100000,1000000' },
    history: { type: 'string', default: '10000000' },
    'history-tokens': { type: 'string', default: '100000' },
  },
});
const SIZES = args.sizes.split(',').map(Number);
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
const sandbox = await startSandbox();
const database = await createTestDatabase('benchscale');
const privateRedis = await startPrivateRedis();
const env = { DATABASE_URL: database.url, REDIS_URL: privateRedis.url, QUEUE_PREFIX: 'benchscale', GRAPH_API_BASE_URL: sandbox.url, LOG_LEVEL: 'warn' };
const db: Database = createDatabase(database.url, { maxConnections: 4 });
const secrets = new SecretBox(loadIngestConfig(env).ENCRYPTION_KEY);
const redis = new Redis(privateRedis.url);
const redisMemoryMb = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0) / 1024 / 1024;

// On a cluster without autovacuum, statistics are refreshed as autoanalyze would (see emulateAutoanalyze).
const stopAutoanalyze = await emulateAutoanalyze(db);
const ingest = await startIngest(loadIngestConfig({ ...env, INGEST_PORT: '0' }));
const workerPort = await freePort();
const worker = startChild('apps/worker/src/main.ts', { ...env, WORKER_PORT: String(workerPort), SEND_CONCURRENCY: String(SEND_CONCURRENCY), WORKER_CONCURRENCY: '4' });
await waitHealthy(`http://127.0.0.1:${workerPort}`);

/** A Page with `count` one-time tokens, in the sandbox and stored in Renotify as its opt-in webhooks would. */
async function preparePage(pageId: string, count: number) {
  await sandbox.createPage(pageId);
  log(`Page ${pageId}: issuing and storing ${count} tokens`);
  const tokens = await sandbox.issueTokens(pageId, count, { prefix: `s${pageId.slice(-3)}-`, topic: TOPIC });
  await createPage(db, secrets, { id: pageId, name: `scale ${pageId}`, accessToken: accessTokenOf(pageId), appSecret: APP_SECRET, sendRatePerSec: 1_000_000 });
  await storeTokens(db, pageId, tokens, { topic: TOPIC });
}

/**
 * `rows` old deliveries on the Page: `rows / tokens` past events, each sent to every token of the Page, final and
 * finished at its time, with the ids fan-out gives them (renotify_delivery_id: grouped by source). Inserted one past
 * event per statement, so progress shows. The past events are spread over less than the default 90-day retention,
 * so the retention job does not purge them during the measured run.
 */
const HOURS_BETWEEN_PAST_EVENTS = 18;
async function generateHistory(pageId: string, rows: number) {
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
       SELECT renotify_delivery_id('history-' || $2::int), 'EVENT', 'history-' || $2::int, o.id, $1, (o.n / 500)::int, 'SENT', 1, 'm.history.' || $2::int || '.' || o.n, at, at, at
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
  workerRssMbMax: number;
  redisBeforeMb: number;
  redisAfterMb: number;
}

/** One event matching every token of the Page, from POST until every delivery is final. */
async function run(pageId: string, tokens: number, label: string): Promise<RunResult> {
  await db.pool.query('ANALYZE');
  const redisBeforeMb = await redisMemoryMb();
  let workerRssMbMax = rssMbOf(worker.pid);
  const eventId = `scale-${label}`;
  log(`${label}: one event → ${tokens} tokens`);
  const started = performance.now();
  const response = await fetch(`${ingest.url}/v1/events`, {
    method: 'POST',
    headers: { authorization: 'Bearer demo-api-key', 'content-type': 'application/json' },
    body: JSON.stringify({ id: eventId, type: 'back_in_stock', pageId, productId: 'scale', productName: 'Scale Sneaker' }),
  });
  if (response.status !== 202) throw new Error(`event rejected: ${response.status} ${await response.text()}`);
  // Counting a million rows is work for Postgres too: large runs are polled less often.
  const pollMs = Math.min(2_000, Math.max(250, tokens / 1_000));
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    workerRssMbMax = Math.max(workerRssMbMax, rssMbOf(worker.pid));
    const { rows } = await db.pool.query<{ open: number; total: number }>(
      `SELECT count(*) FILTER (WHERE status IN ('PENDING','SENDING'))::int AS open, count(*)::int AS total FROM "Delivery" WHERE "sourceId" = $1`,
      [eventId],
    );
    const { open, total } = rows[0]!;
    if (total >= tokens && open === 0) break;
    process.stdout.write(`\r[scale] ${label}: ${total - open}/${tokens} final, worker RSS ${rssMbOf(worker.pid).toFixed(0)} MB   `);
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write('\n');
  const { rows: outcomes } = await db.pool.query(`SELECT status, count(*)::int AS n FROM "Delivery" WHERE "sourceId" = $1 GROUP BY 1`, [eventId]);
  // Finished jobs are removed at once; give the last acknowledgements a moment before reading memory.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const result = { tokens, sendsPerSec: round(tokens / seconds), seconds: round(seconds, 1), workerRssMbMax: round(workerRssMbMax), redisBeforeMb: round(redisBeforeMb, 2), redisAfterMb: round(await redisMemoryMb(), 2) };
  log(`${label}: ${JSON.stringify(result)} outcomes ${JSON.stringify(outcomes)}`);
  return result;
}

const redisBaselineMb = await redisMemoryMb();
const runs: RunResult[] = [];
for (const [index, size] of SIZES.entries()) {
  const pageId = String(320000000000000 + index);
  await preparePage(pageId, size);
  runs.push(await run(pageId, size, `empty-${size}`));
}

let historyRun: RunResult | null = null;
let historyRows = 0;
if (HISTORY > 0) {
  const pageId = '329000000000000';
  await preparePage(pageId, HISTORY_TOKENS);
  historyRows = await generateHistory(pageId, HISTORY);
  historyRun = await run(pageId, HISTORY_TOKENS, `history-${historyRows}`);
}

stopAutoanalyze();
await ingest.close();
worker.kill('SIGTERM');
await new Promise((resolve) => worker.once('exit', resolve));
await db.close();
redis.disconnect();
stopChildren();
await database.drop();

const bySize = (size: number) => runs.find((result) => result.tokens === size);
const ratio = (a: RunResult | null | undefined, b: RunResult | null | undefined) => (a && b ? round(a.sendsPerSec / b.sendsPerSec, 2) : null);
const redisFinalMb = runs.length ? runs.at(-1)!.redisAfterMb : redisBaselineMb;
console.log(
  JSON.stringify({
    bench: 'fanout-scale',
    runs: runs.map((result) => ({ tokens: result.tokens, sendsPerSec: result.sendsPerSec, workerRssMbMax: result.workerRssMbMax, redisAfterMb: result.redisAfterMb })),
    ratio1MTo100k: ratio(bySize(1_000_000), bySize(100_000)),
    historyRows,
    historySendsPerSec: historyRun?.sendsPerSec ?? null,
    ratioHistoryToEmpty: ratio(historyRun, bySize(HISTORY_TOKENS)),
    workerRssMbMaxAt1M: bySize(1_000_000)?.workerRssMbMax ?? null,
    workerRssMbMax: Math.max(...runs.map((result) => result.workerRssMbMax), historyRun?.workerRssMbMax ?? 0),
    redisBaselineMb: round(redisBaselineMb, 2),
    redisAfterMb: historyRun?.redisAfterMb ?? redisFinalMb,
    redisBackToBaseline: Math.abs((historyRun?.redisAfterMb ?? redisFinalMb) - redisBaselineMb) < 1,
  }),
);
process.exit(0);
