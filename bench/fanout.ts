/**
 * Fan-out benchmark: one event matching N one-time tokens, from POST /v1/events until every Delivery row
 * is final, against the Messenger sandbox in its own process with its rate limit lifted. In the same run:
 * (a) a bare undici client posting N Send API requests to the same sandbox, and (b) the naive design
 * (one BullMQ job per recipient, one Prisma update per send, default settings), measured on a sample.
 * Prints progress, and as its last line one JSON object.
 * Many-Pages mode in the same run: MANY_PAGES Pages × PER_PAGE tokens, one event each, aggregate sends/s next
 * to the single-Page figure (target ≥ 80 % of it).
 * Cost per delivery of the single-Page run: Postgres rows written and transactions (pg_stat_database of the
 * bench's own database; statements from pg_stat_statements when it is loaded), WAL bytes (pg_current_wal_lsn:
 * cluster-wide, so also printed net of the background rate measured just before), Redis commands (INFO
 * commandstats of a private redis-server only the bench uses) and the worker process's CPU (/proc/<pid>/stat).
 * The per-recipient design runs twice: BullMQ defaults (concurrency 1), and with as many jobs in flight as
 * Renotify has sends in flight (SEND_CONCURRENCY) over a keep-alive pool of as many connections.
 *   pnpm bench:fanout [-- --tokens 100000 --naive 3000 --many-pages 1000 --tokens-per-page 100]
 * BENCH_WAL_STATS=<file> also writes `pg_waldump --stats=record` of the single-Page run there (what the WAL is made of).
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { loadIngestConfig } from '@renotify/config';
import { createDatabase, createPage, SecretBox, type Database } from '@renotify/db';
import { startIngest } from '@renotify/ingest';
import { createTestDatabase } from '@renotify/testing';
import {
  APP_SECRET,
  accessTokenOf,
  appSecretProofOf,
  cpuMsOf,
  emulateAutoanalyze,
  freePort,
  RETENTION_NEVER,
  pgCounters,
  redisCommandCount,
  round,
  root,
  rssMbOf,
  settleStats,
  startChild,
  startWalMeter,
  startPrivateRedis,
  startSandbox,
  stopChildren,
  storeTokens,
  waitHealthy,
} from './support.js';

const { values: args } = parseArgs({
  // `pnpm bench:x -- --tokens 1000` passes a literal "--" first, which would make every option a positional.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    tokens: { type: 'string', default: '100000' },
    naive: { type: 'string', default: '3000' },
    'many-pages': { type: 'string', default: '1000' },
    'tokens-per-page': { type: 'string', default: '100' },
  },
});
const N = Number(args.tokens);
const NAIVE_N = Math.min(N, Number(args.naive));
const MANY_PAGES = Number(args['many-pages']);
const PER_PAGE = Number(args['tokens-per-page']);
const TOPIC = 'back_in_stock:bench';
/** Renotify's sends in flight (the worker's SEND_CONCURRENCY); the per-recipient design gets as many jobs in flight. */
const SEND_CONCURRENCY = 64;

const log = (message: string) => console.log(`[fanout] ${message}`);
const sandbox = await startSandbox();
const sandboxUrl = sandbox.url;

const PAGES = { renotify: '300000000000001', raw: '300000000000002', naive: '300000000000003', naiveConcurrent: '300000000000004' };
const manyPages = Array.from({ length: MANY_PAGES }, (_, i) => String(310000000000000 + i));
for (const id of [...Object.values(PAGES), ...manyPages]) await sandbox.createPage(id);
const issueTokens = (pageId: string, count: number, prefix: string) => sandbox.issueTokens(pageId, count, { prefix, topic: TOPIC });
log(`issuing ${N} + ${N} + ${NAIVE_N} + ${NAIVE_N} one-time tokens in the sandbox, and ${PER_PAGE} on each of ${MANY_PAGES} Pages`);
const renotifyTokens = await issueTokens(PAGES.renotify, N, 'r');
const rawTokens = await issueTokens(PAGES.raw, N, 'w');
const naiveTokens = await issueTokens(PAGES.naive, NAIVE_N, 'n');
const naiveConcurrentTokens = await issueTokens(PAGES.naiveConcurrent, NAIVE_N, 'c');
const manyTokens = new Map<string, Array<{ psid: string; token: string }>>();
for (const pageId of manyPages) manyTokens.set(pageId, await issueTokens(pageId, PER_PAGE, 'm'));

const database = await createTestDatabase('benchfanout');
// A Redis of its own: its command counts and memory are the bench's alone.
const privateRedis = await startPrivateRedis();
const redisHandle = { url: privateRedis.url, prefix: 'benchfanout' };
const env = { DATABASE_URL: database.url, REDIS_URL: redisHandle.url, QUEUE_PREFIX: redisHandle.prefix, GRAPH_API_BASE_URL: sandboxUrl, LOG_LEVEL: 'warn', RETENTION_CRON: RETENTION_NEVER };
const db: Database = createDatabase(database.url, { maxConnections: 4 });
const secrets = new SecretBox(loadIngestConfig(env).ENCRYPTION_KEY);
// On a cluster without autovacuum, statistics are refreshed as autoanalyze would (see emulateAutoanalyze).
const stopAutoanalyze = await emulateAutoanalyze(db);
if (process.env.BENCH_EXPERIMENT_NO_TRIGGERS) await db.pool.query(`ALTER TABLE "Delivery" DISABLE TRIGGER USER; ALTER TABLE "OptIn" DISABLE TRIGGER USER`);

async function storePage(pageId: string, tokens: Array<{ psid: string; token: string }>) {
  await createPage(db, secrets, { id: pageId, name: `bench ${pageId}`, accessToken: accessTokenOf(pageId), appSecret: APP_SECRET, sendRatePerSec: 1_000_000 });
  await storeTokens(db, pageId, tokens, { topic: TOPIC });
}
log('storing tokens in Postgres');
await storePage(PAGES.renotify, renotifyTokens);
await storePage(PAGES.naive, naiveTokens);
await storePage(PAGES.naiveConcurrent, naiveConcurrentTokens);
for (const [pageId, tokens] of manyTokens) await storePage(pageId, tokens);
await db.pool.query('ANALYZE');

// (a) the bare client: the same requests, as fast as one undici pool can post them.
const messageJson = JSON.stringify({ text: 'Good news: Bench Sneaker is back in stock.' });
async function rawRun(): Promise<number> {
  const pool = new Pool(sandboxUrl, { connections: 64 });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < rawTokens.length) {
        const token = rawTokens[next++]!.token;
        const response = await pool.request({
          method: 'POST',
          path: `/v24.0/${PAGES.raw}/messages?appsecret_proof=${appSecretProofOf(PAGES.raw)}`,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${accessTokenOf(PAGES.raw)}` },
          body: `{"recipient":{"one_time_notif_token":${JSON.stringify(token)}},"message":${messageJson}}`,
        });
        await response.body.dump();
        if (response.statusCode !== 200) throw new Error(`raw send failed: ${response.statusCode}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return rawTokens.length / seconds;
}
log(`raw client: posting ${N} sends`);
const rawSendsPerSec = await rawRun();
log(`raw client: ${rawSendsPerSec.toFixed(0)} sends/s`);

// Renotify: ingest in this process, a worker in its own (its RSS is what we watch).
const redis = new Redis(redisHandle.url);
const redisMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
const ingest = await startIngest(loadIngestConfig({ ...env, INGEST_PORT: '0' }));
const workerPort = await freePort();
// The worker counts the statements it sends (bench/count-statements.mjs): the figure the dispatch path is judged by.
const statementsFile = path.join(tmpdir(), `renotify-bench-statements-${process.pid}`);
const worker = startChild('apps/worker/src/main.ts', {
  ...env,
  WORKER_PORT: String(workerPort),
  SEND_CONCURRENCY: String(SEND_CONCURRENCY),
  WORKER_CONCURRENCY: '4',
  BENCH_STATEMENTS_FILE: statementsFile,
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${path.join(root, 'bench/count-statements.mjs')}`.trim(),
});
const workerStatements = () => {
  try {
    return Number(readFileSync(statementsFile, 'utf8'));
  } catch {
    return 0;
  }
};
/** The worker's statements by kind (their first words), as bench/count-statements.mjs last wrote them. */
const workerStatementKinds = (): Record<string, number> => {
  try {
    return JSON.parse(readFileSync(`${statementsFile}.kinds`, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
};
/** Logs the worker's statements since `before`, by kind, per 1,000 deliveries. */
const logStatementKinds = (run: string, before: Record<string, number>, deliveries: number) => {
  log(`${run}worker statements per 1,000 deliveries, by kind:`);
  for (const [kind, count] of Object.entries(workerStatementKinds())
    .map(([kind, count]): [string, number] => [kind, count - (before[kind] ?? 0)])
    .filter(([, count]) => count > 0)
    .sort((a, b) => b[1] - a[1])) {
    log(`  ${((count * 1000) / deliveries).toFixed(2).padStart(7)}  ${kind}`);
  }
};
await waitHealthy(`http://127.0.0.1:${workerPort}`);
const rssMb = () => rssMbOf(worker.pid);
const postEvent = async (id: string, pageId: string, productId: string) => {
  const response = await fetch(`${ingest.url}/v1/events`, {
    method: 'POST',
    headers: { authorization: 'Bearer demo-api-key', 'content-type': 'application/json' },
    body: JSON.stringify({ id, type: 'back_in_stock', pageId, productId, productName: 'Bench Sneaker' }),
  });
  if (response.status !== 202) throw new Error(`event rejected: ${response.status} ${await response.text()}`);
};
const openCount = async (sourceId: string) =>
  (await db.pool.query(`SELECT count(*) FILTER (WHERE status IN ('PENDING','SENDING'))::int AS open, count(*)::int AS total FROM "Delivery" WHERE "sourceId" = $1`, [sourceId])).rows[0] as { open: number; total: number };

// First-send latency on an idle system: events matching one fresh token each.
const latencyTokens = await issueTokens(PAGES.renotify, 21, 'lat');
const latencies: number[] = [];
for (const [index, token] of latencyTokens.entries()) {
  await db.pool.query(
    `WITH s AS (INSERT INTO "Subscriber" ("pageId", psid, "updatedAt") VALUES ($1, $2, now()) RETURNING id)
     INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, token, "tokenFingerprint", status, "statusAt", "updatedAt")
     SELECT $1, s.id, 'ONE_TIME', $3, $4, 'fp', 'ACTIVE', now(), now() FROM s`,
    [PAGES.renotify, token.psid, `back_in_stock:lat${index}`, token.token],
  );
  const before = (await sandbox.control('GET', `/pages/${PAGES.renotify}/messages?limit=1`)).total as number;
  const started = Date.now();
  await postEvent(`lat-${index}`, PAGES.renotify, `lat${index}`);
  for (;;) {
    const page = await sandbox.control('GET', `/pages/${PAGES.renotify}/messages?after=0&limit=200000`);
    if (page.total > before) {
      if (index > 0) latencies.push(page.messages.at(-1).at - started); // the first one warms up connections
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
latencies.sort((a, b) => a - b);
const firstSendMsP50 = latencies[Math.floor(latencies.length / 2)] ?? null;
log(`first send after accept: p50 ${firstSendMsP50} ms over ${latencies.length} idle events`);

const redisBefore = await redisMemory();
let workerRssMbMax = rssMb();
// Cost counters: everything before this point has flushed its statistics; the WAL written meanwhile by other
// databases of the cluster is the background rate.
const backgroundStartLsn = (await pgCounters(db, database.name)).walLsnBytes;
const backgroundStarted = performance.now();
await settleStats();
const costBefore = await pgCounters(db, database.name);
const costBeforeAt = performance.now();
const walMeter = await startWalMeter(db, database.name, costBefore.walLsnBytes);
const backgroundWalBytesPerSec = Number(costBefore.walLsnBytes - backgroundStartLsn) / ((performance.now() - backgroundStarted) / 1000);
const redisCommandsBefore = await redisCommandCount(redis);
const workerStatementsBefore = workerStatements();
const workerStatementKindsBefore = workerStatementKinds();
const workerCpuMsBefore = cpuMsOf(worker.pid);
log(`Renotify: one event → ${N} tokens`);
const started = performance.now();
await postEvent('bench-fanout', PAGES.renotify, 'bench');
let polls = 0;
for (;;) {
  await new Promise((resolve) => setTimeout(resolve, 200));
  workerRssMbMax = Math.max(workerRssMbMax, rssMb());
  const { open, total } = await openCount('bench-fanout');
  polls++;
  if (total >= N && open === 0) break;
  process.stdout.write(`\r[fanout] ${total - open}/${N} final, worker RSS ${rssMb().toFixed(0)} MB   `);
}
const seconds = (performance.now() - started) / 1000;
const sendsPerSec = N / seconds;
process.stdout.write('\n');
const workerCpuMs = cpuMsOf(worker.pid) - workerCpuMsBefore;
// The counters' own reads (two per sample, one INFO) are not the run's: subtract them.
const redisCommands = (await redisCommandCount(redis)) - redisCommandsBefore - 1;
await settleStats();
const costAfter = await pgCounters(db, database.name);
const costSeconds = (performance.now() - costBeforeAt) / 1000;
// The worker's own count (written every 100 ms; the settle above waited longer): every statement it sent, the ingest's
// one INSERT for the event excluded.
const workerStatementCount = workerStatements() - workerStatementsBefore;
logStatementKinds('', workerStatementKindsBefore, N);
const walBytes = Number(costAfter.walLsnBytes - costBefore.walLsnBytes);
const ownWalBytes = await walMeter.stop(costAfter.walLsnBytes);
const cost = {
  rowsWrittenPerDelivery: round((costAfter.rowsWritten - costBefore.rowsWritten) / N, 2),
  // With autocommit each statement is its own transaction; the bench's polls (one each) and counter reads are taken off.
  transactionsPerDelivery: round((costAfter.transactions - costBefore.transactions - polls - 3) / N, 2),
  statementsPerDelivery:
    costAfter.statements === null || costBefore.statements === null
      ? round((costAfter.transactions - costBefore.transactions - polls - 3) / N, 2)
      : round((costAfter.statements - costBefore.statements - polls - 3) / N, 2),
  statementsSource: costAfter.statements === null ? 'pg_stat_database xact_commit+xact_rollback (pg_stat_statements not loaded)' : 'pg_stat_statements calls',
  workerStatementsPerDelivery: round(workerStatementCount / N, 3),
  // The bench database's own WAL (pg_waldump) when readable, else the cluster's LSN difference.
  walBytesPerDelivery: round((ownWalBytes ?? walBytes) / N),
  walSource: ownWalBytes === null ? 'cluster LSN difference (pg_waldump could not read the WAL)' : 'pg_waldump records of the bench database',
  clusterWalBytesPerDelivery: round(walBytes / N),
  walBytesPerDeliveryNetOfBackground: round(Math.max(0, walBytes - backgroundWalBytesPerSec * costSeconds) / N),
  backgroundWalBytesPerSec: round(backgroundWalBytesPerSec),
  redisCommandsPerDelivery: round(redisCommands / N, 2),
  workerCpuMsPerDelivery: round(workerCpuMs / N, 3),
};
log(`cost per delivery: ${JSON.stringify(cost)}`);
const final = (await db.pool.query(`SELECT status, count(*)::int AS n FROM "Delivery" WHERE "sourceId" = 'bench-fanout' GROUP BY 1`)).rows;
log(`Renotify: ${sendsPerSec.toFixed(0)} sends/s (${seconds.toFixed(1)} s), outcomes ${JSON.stringify(final)}`);
await new Promise((resolve) => setTimeout(resolve, 1_000));
const redisMemDeltaMb = (await redisMemory() - redisBefore) / 1024 / 1024;

// Many Pages: one event on each of MANY_PAGES Pages with PER_PAGE tokens each, posted together (rate limits
// lifted): the fairness machinery (windows, priorities, per-Page buckets) must not cost aggregate throughput.
const manyTotal = MANY_PAGES * PER_PAGE;
log(`many Pages: ${MANY_PAGES} Pages × ${PER_PAGE} tokens, one event each`);
const manyKindsBefore = workerStatementKinds();
const manyCpuMsBefore = cpuMsOf(worker.pid);
const manyStarted = performance.now();
for (let offset = 0; offset < manyPages.length; offset += 100) {
  const events = manyPages.slice(offset, offset + 100).map((pageId) => ({ id: `many-${pageId}`, type: 'back_in_stock', pageId, productId: 'bench', productName: 'Bench Sneaker' }));
  const response = await fetch(`${ingest.url}/v1/events`, { method: 'POST', headers: { authorization: 'Bearer demo-api-key', 'content-type': 'application/json' }, body: JSON.stringify(events) });
  if (response.status !== 202) throw new Error(`events rejected: ${response.status} ${await response.text()}`);
}
for (;;) {
  await new Promise((resolve) => setTimeout(resolve, 200));
  workerRssMbMax = Math.max(workerRssMbMax, rssMb());
  // Done when every event is fanned out and none of their sources is open: a source's DispatchSource row is
  // closed by whichever finishes last, its fan-out or its chain's end (the table holds only open sources, so this
  // poll costs the same whatever the size of "Delivery"). Counting open deliveries instead (status has no index,
  // and LIKE cannot use one here) read the whole table twice per poll, five times a second, during the run.
  const { rows } = await db.pool.query(
    `SELECT (SELECT count(*) FROM "DispatchSource" WHERE "sourceId" LIKE 'many-%')::int AS open,
            (SELECT count(*) FROM "Event" WHERE id LIKE 'many-%' AND status = 'FANNED_OUT')::int AS fanned`,
  );
  const { open, fanned } = rows[0] as { open: number; fanned: number };
  if (fanned >= MANY_PAGES && open === 0) break;
  process.stdout.write(`\r[fanout] many Pages: ${fanned}/${MANY_PAGES} events fanned out, ${open} sources open   `);
}
const manyPagesSendsPerSec = manyTotal / ((performance.now() - manyStarted) / 1000);
process.stdout.write('\n');
const manyOutcomes = (await db.pool.query(`SELECT status, count(*)::int AS n FROM "Delivery" WHERE "sourceId" LIKE 'many-%' GROUP BY 1`)).rows;
log(`many Pages: outcomes ${JSON.stringify(manyOutcomes)}, worker CPU ${((cpuMsOf(worker.pid) - manyCpuMsBefore) / manyTotal).toFixed(3)} ms per delivery`);
await new Promise((resolve) => setTimeout(resolve, 300)); // the statement counts are written every 100 ms
logStatementKinds('many Pages: ', manyKindsBefore, manyTotal);
log(`many Pages: ${manyPagesSendsPerSec.toFixed(0)} sends/s (${(manyPagesSendsPerSec / sendsPerSec).toFixed(2)} of the single-Page rate)`);
worker.kill('SIGTERM');
await new Promise((resolve) => worker.once('exit', resolve));

// (b) the per-recipient design: one BullMQ job per recipient, one Prisma read and one update per send. First with
// BullMQ's defaults (concurrency 1), then as a competent team would ship it: as many jobs in flight as Renotify
// has sends in flight, over a keep-alive pool of as many connections, and a Prisma pool as large as the worker's.
const naiveDb: Database = createDatabase(database.url, { maxConnections: 20 });
async function naiveRun(pageId: string, concurrency: number): Promise<number> {
  const sourceId = `naive-${pageId}`;
  log(`per-recipient design: ${NAIVE_N} recipients, one job each, ${concurrency} in flight`);
  const naivePrefix = `${redisHandle.prefix}-naive${concurrency}`;
  const naiveQueue = new Queue('naive', { connection: { url: redisHandle.url }, prefix: naivePrefix });
  const naiveRows = (await db.pool.query(`SELECT id FROM "OptIn" WHERE "pageId" = $1`, [pageId])).rows as Array<{ id: string }>;
  await db.pool.query(
    `INSERT INTO "Event" (id, "pageId", type, topic, payload, message) VALUES ($2, $1, 'back_in_stock', 'back_in_stock:bench', '{}', $3::jsonb)`,
    [pageId, sourceId, messageJson],
  );
  await db.pool.query(
    `INSERT INTO "Delivery" ("sourceType", "sourceId", "optInId", "pageId", "batchNo") SELECT 'EVENT', $2, id, $1, 0 FROM "OptIn" WHERE "pageId" = $1`,
    [pageId, sourceId],
  );
  const http = new Pool(sandboxUrl, { connections: concurrency });
  const naiveStarted = performance.now();
  for (let i = 0; i < naiveRows.length; i += 1000) {
    await naiveQueue.addBulk(naiveRows.slice(i, i + 1000).map((row) => ({ name: 'send', data: { optInId: row.id } })));
  }
  let naiveDone = 0;
  const naiveWorker = new Worker(
    'naive',
    async (job) => {
      const optIn = await naiveDb.prisma.optIn.findUniqueOrThrow({ where: { id: job.data.optInId } });
      const response = await http.request({
        method: 'POST',
        path: `/v24.0/${pageId}/messages?appsecret_proof=${appSecretProofOf(pageId)}`,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${accessTokenOf(pageId)}` },
        body: JSON.stringify({ recipient: { one_time_notif_token: optIn.token }, message: JSON.parse(messageJson) }),
      });
      const body = (await response.body.json()) as { message_id?: string };
      await naiveDb.prisma.delivery.update({
        where: { optInId_sourceId: { optInId: optIn.id, sourceId } },
        data: { status: response.statusCode === 200 ? 'SENT' : 'FAILED', messageId: body.message_id ?? null, finishedAt: new Date() },
      });
      naiveDone++;
    },
    { connection: { url: redisHandle.url, maxRetriesPerRequest: null }, prefix: naivePrefix, concurrency },
  );
  while (naiveDone < naiveRows.length) await new Promise((resolve) => setTimeout(resolve, 100));
  const perSec = naiveRows.length / ((performance.now() - naiveStarted) / 1000);
  log(`per-recipient design, ${concurrency} in flight: ${perSec.toFixed(0)} sends/s`);
  await naiveWorker.close();
  await naiveQueue.close();
  await http.close();
  return perSec;
}
const naiveSendsPerSec = await naiveRun(PAGES.naive, 1);
const naiveConcurrentSendsPerSec = await naiveRun(PAGES.naiveConcurrent, SEND_CONCURRENCY);
await naiveDb.close();

stopAutoanalyze();
await ingest.close();
await db.close();
redis.disconnect();
stopChildren();
privateRedis.stop();
await database.drop();

console.log(
  JSON.stringify({
    bench: 'fanout',
    tokens: N,
    sendsPerSec: round(sendsPerSec),
    rawSendsPerSec: round(rawSendsPerSec),
    ratioToRaw: round(sendsPerSec / rawSendsPerSec, 2),
    naiveSendsPerSec: round(naiveSendsPerSec),
    speedupVsNaive: round(sendsPerSec / naiveSendsPerSec, 1),
    naiveConcurrency: SEND_CONCURRENCY,
    naiveConcurrentSendsPerSec: round(naiveConcurrentSendsPerSec),
    speedupVsNaiveConcurrent: round(sendsPerSec / naiveConcurrentSendsPerSec, 1),
    walBytesPerDelivery: cost.walBytesPerDelivery,
    walSource: cost.walSource,
    clusterWalBytesPerDelivery: cost.clusterWalBytesPerDelivery,
    walBytesPerDeliveryNetOfBackground: cost.walBytesPerDeliveryNetOfBackground,
    rowsWrittenPerDelivery: cost.rowsWrittenPerDelivery,
    statementsPerDelivery: cost.statementsPerDelivery,
    statementsSource: cost.statementsSource,
    transactionsPerDelivery: cost.transactionsPerDelivery,
    workerStatementsPerDelivery: cost.workerStatementsPerDelivery,
    redisCommandsPerDelivery: cost.redisCommandsPerDelivery,
    workerCpuMsPerDelivery: cost.workerCpuMsPerDelivery,
    manyPages: MANY_PAGES,
    manyPagesSendsPerSec: round(manyPagesSendsPerSec),
    manyPagesRatio: round(manyPagesSendsPerSec / sendsPerSec, 2),
    firstSendMsP50,
    workerRssMbMax: round(workerRssMbMax),
    redisMemDeltaMb: round(redisMemDeltaMb, 2),
  }),
);
process.exit(0);
