/**
 * Fan-out benchmark: one event matching N one-time tokens, from POST /v1/events until every Delivery row
 * is final, against the Messenger sandbox in its own process with its rate limit lifted. In the same run:
 * (a) a bare undici client posting N Send API requests to the same sandbox, and (b) the naive design
 * (one BullMQ job per recipient, one Prisma update per send, default settings), measured on a sample.
 * Prints progress, and as its last line one JSON object.
 *   pnpm bench:fanout [-- --tokens 100000 --naive 3000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { loadIngestConfig } from '@renotify/config';
import { createDatabase, createPage, SecretBox, type Database } from '@renotify/db';
import { startIngest } from '@renotify/ingest';
import { createTestDatabase, createTestRedis } from '@renotify/testing';

const { values: args } = parseArgs({ allowPositionals: true, options: { tokens: { type: 'string', default: '100000' }, naive: { type: 'string', default: '3000' } } });
const N = Number(args.tokens);
const NAIVE_N = Math.min(N, Number(args.naive));
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/postgres';
process.env.REDIS_URL ??= 'redis://127.0.0.1:6379';

const log = (message: string) => console.log(`[fanout] ${message}`);
const children: ChildProcess[] = [];
const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

/** Runs an app's build (as production does) when there is one, else its source through tsx. */
function startChild(entry: string, env: Record<string, string>): ChildProcess {
  const built = path.join(root, entry.replace('/src/', '/dist/').replace(/\.ts$/, '.js'));
  const argv = existsSync(built) ? [built] : ['--conditions=source', '--import', 'tsx', path.join(root, entry)];
  const child = spawn(process.execPath, argv, {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child;
}

async function waitHealthy(url: string) {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not become healthy`);
}

const sandboxPort = await freePort();
const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
startChild('apps/messenger-sandbox/src/main.ts', { SANDBOX_PORT: String(sandboxPort), SANDBOX_SEED_DEMO: 'false', SANDBOX_WEBHOOK_URL: 'http://127.0.0.1:9/none' });
await waitHealthy(sandboxUrl);

async function control(method: string, route: string, body?: unknown) {
  const response = await fetch(`${sandboxUrl}/__sandbox${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`sandbox ${route}: ${response.status} ${await response.text()}`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the sandbox's control API is untyped here
  return response.json() as Promise<any>;
}

const PAGES = { renotify: '300000000000001', raw: '300000000000002', naive: '300000000000003' };
const accessTokenOf = (pageId: string) => `bench-access-token-${pageId}`;
for (const id of Object.values(PAGES)) await control('POST', '/pages', { id, accessToken: accessTokenOf(id), appSecret: 'bench-app-secret', sendRatePerSecond: null });
async function issueTokens(pageId: string, count: number, prefix: string): Promise<Array<{ psid: string; token: string }>> {
  const tokens: Array<{ psid: string; token: string }> = [];
  for (let offset = 0; offset < count; offset += 50_000) {
    const issued = await control('POST', `/pages/${pageId}/tokens/bulk`, { count: Math.min(50_000, count - offset), kind: 'ONE_TIME', payload: 'back_in_stock:bench', psidPrefix: `${prefix}${offset}-` });
    tokens.push(...issued.tokens);
  }
  return tokens;
}
log(`issuing ${N} + ${N} + ${NAIVE_N} one-time tokens in the sandbox`);
const renotifyTokens = await issueTokens(PAGES.renotify, N, 'r');
const rawTokens = await issueTokens(PAGES.raw, N, 'w');
const naiveTokens = await issueTokens(PAGES.naive, NAIVE_N, 'n');

const database = await createTestDatabase('benchfanout');
const redisHandle = await createTestRedis('benchfanout');
const env = { DATABASE_URL: database.url, REDIS_URL: redisHandle.url, QUEUE_PREFIX: redisHandle.prefix, GRAPH_API_BASE_URL: sandboxUrl, LOG_LEVEL: 'warn' };
const db: Database = createDatabase(database.url, { maxConnections: 4 });
const secrets = new SecretBox(loadIngestConfig(env).ENCRYPTION_KEY);

async function storeTokens(pageId: string, tokens: Array<{ psid: string; token: string }>) {
  await createPage(db, secrets, { id: pageId, name: `bench ${pageId}`, accessToken: accessTokenOf(pageId), appSecret: 'bench-app-secret', sendRatePerSec: 1_000_000 });
  for (let offset = 0; offset < tokens.length; offset += 10_000) {
    const chunk = tokens.slice(offset, offset + 10_000);
    await db.pool.query(
      `WITH subs AS (
         INSERT INTO "Subscriber" ("pageId", psid, "updatedAt") SELECT $1, unnest($2::text[]), now() RETURNING id, psid
       )
       INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, token, "tokenFingerprint", status, "statusAt", "updatedAt")
       SELECT $1, subs.id, 'ONE_TIME', 'back_in_stock:bench', t.token, 'fp', 'ACTIVE', now(), now()
       FROM unnest($2::text[], $3::text[]) AS t(psid, token) JOIN subs ON subs.psid = t.psid`,
      [pageId, chunk.map((t) => t.psid), chunk.map((t) => t.token)],
    );
  }
}
log('storing tokens in Postgres');
await storeTokens(PAGES.renotify, renotifyTokens);
await storeTokens(PAGES.naive, naiveTokens);
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
          path: `/v24.0/${PAGES.raw}/messages`,
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
const worker = startChild('apps/worker/src/main.ts', { ...env, WORKER_PORT: String(workerPort), SEND_CONCURRENCY: '64', WORKER_CONCURRENCY: '4' });
await waitHealthy(`http://127.0.0.1:${workerPort}`);
const rssMb = () => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${worker.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
};
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
  const before = (await control('GET', `/pages/${PAGES.renotify}/messages?limit=1`)).total as number;
  const started = Date.now();
  await postEvent(`lat-${index}`, PAGES.renotify, `lat${index}`);
  for (;;) {
    const page = await control('GET', `/pages/${PAGES.renotify}/messages?after=0&limit=200000`);
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
log(`Renotify: one event → ${N} tokens`);
const started = performance.now();
await postEvent('bench-fanout', PAGES.renotify, 'bench');
for (;;) {
  await new Promise((resolve) => setTimeout(resolve, 200));
  workerRssMbMax = Math.max(workerRssMbMax, rssMb());
  const { open, total } = await openCount('bench-fanout');
  if (total >= N && open === 0) break;
  process.stdout.write(`\r[fanout] ${total - open}/${N} final, worker RSS ${rssMb().toFixed(0)} MB   `);
}
const seconds = (performance.now() - started) / 1000;
const sendsPerSec = N / seconds;
process.stdout.write('\n');
const final = (await db.pool.query(`SELECT status, count(*)::int AS n FROM "Delivery" WHERE "sourceId" = 'bench-fanout' GROUP BY 1`)).rows;
log(`Renotify: ${sendsPerSec.toFixed(0)} sends/s (${seconds.toFixed(1)} s), outcomes ${JSON.stringify(final)}`);
await new Promise((resolve) => setTimeout(resolve, 1_000));
const redisMemDeltaMb = (await redisMemory() - redisBefore) / 1024 / 1024;
worker.kill('SIGTERM');
await new Promise((resolve) => worker.once('exit', resolve));

// (b) the naive design: one job per recipient, default worker settings, one Prisma update per send.
log(`naive design: ${NAIVE_N} recipients, one job each`);
const naivePrefix = `${redisHandle.prefix}-naive`;
const naiveQueue = new Queue('naive', { connection: { url: redisHandle.url }, prefix: naivePrefix });
const naiveRows = (await db.pool.query(`SELECT id FROM "OptIn" WHERE "pageId" = $1`, [PAGES.naive])).rows as Array<{ id: string }>;
await db.pool.query(
  `INSERT INTO "Event" (id, "pageId", type, topic, payload, message) VALUES ('naive', $1, 'back_in_stock', 'back_in_stock:bench', '{}', $2::jsonb)`,
  [PAGES.naive, messageJson],
);
await db.pool.query(
  `INSERT INTO "Delivery" ("sourceType", "sourceId", "optInId", "pageId", "batchNo") SELECT 'EVENT', 'naive', id, $1, 0 FROM "OptIn" WHERE "pageId" = $1`,
  [PAGES.naive],
);
const naiveStarted = performance.now();
for (let i = 0; i < naiveRows.length; i += 1000) {
  await naiveQueue.addBulk(naiveRows.slice(i, i + 1000).map((row) => ({ name: 'send', data: { optInId: row.id } })));
}
let naiveDone = 0;
const naiveWorker = new Worker(
  'naive',
  async (job) => {
    const optIn = await db.prisma.optIn.findUniqueOrThrow({ where: { id: job.data.optInId } });
    const response = await fetch(`${sandboxUrl}/v24.0/${PAGES.naive}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessTokenOf(PAGES.naive)}` },
      body: JSON.stringify({ recipient: { one_time_notif_token: optIn.token }, message: JSON.parse(messageJson) }),
    });
    const body = (await response.json()) as { message_id?: string };
    await db.prisma.delivery.update({
      where: { sourceId_optInId: { sourceId: 'naive', optInId: optIn.id } },
      data: { status: response.ok ? 'SENT' : 'FAILED', messageId: body.message_id ?? null, finishedAt: new Date() },
    });
    naiveDone++;
  },
  { connection: { url: redisHandle.url, maxRetriesPerRequest: null }, prefix: naivePrefix },
);
while (naiveDone < naiveRows.length) await new Promise((resolve) => setTimeout(resolve, 100));
const naiveSendsPerSec = naiveRows.length / ((performance.now() - naiveStarted) / 1000);
log(`naive design: ${naiveSendsPerSec.toFixed(0)} sends/s`);
await naiveWorker.close();
await naiveQueue.close();

await ingest.close();
await db.close();
redis.disconnect();
for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
await redisHandle.cleanup();
await database.drop();

const round = (value: number, digits = 0) => Number(value.toFixed(digits));
console.log(
  JSON.stringify({
    bench: 'fanout',
    tokens: N,
    sendsPerSec: round(sendsPerSec),
    rawSendsPerSec: round(rawSendsPerSec),
    ratioToRaw: round(sendsPerSec / rawSendsPerSec, 2),
    naiveSendsPerSec: round(naiveSendsPerSec),
    speedupVsNaive: round(sendsPerSec / naiveSendsPerSec, 1),
    firstSendMsP50,
    workerRssMbMax: round(workerRssMbMax),
    redisMemDeltaMb: round(redisMemDeltaMb, 2),
  }),
);
process.exit(0);
