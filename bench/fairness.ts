/**
 * Fairness benchmark (issue #11, DESIGN §6b): while one big Page sends at its rate limit, do other Pages'
 * single notifications still go out at once?
 *   1. idle baseline: first-send latency of single-token events with nothing else running;
 *   2. Page A: one event matching N one-time tokens at sendRatePerSec R (the sandbox's own limit lifted);
 *   3. while A runs: S small Pages each post a single-token back_in_stock event every I ms, and a campaign run
 *      to C recurring tokens on Page A starts mid-way;
 *   4. report small-Page first-send latency p50/p99/max, A's achieved rate / R, the campaign's start-to-finish,
 *      fairnessRatio = small p50 under load / idle p50, and what was lost or duplicated.
 * One worker process with default settings, ingest in this process, the sandbox in its own.
 * Prints progress and, as its last line, one JSON object.
 *   pnpm bench:fairness [-- --tokens 100000 --campaign 20000 --rate 250 --pages 10 --interval 500]
 */
import { parseArgs } from 'node:util';
import { loadIngestConfig } from '@renotify/config';
import { createDatabase, createPage, SecretBox, type Database } from '@renotify/db';
import { startIngest } from '@renotify/ingest';
import { createTestDatabase, createTestRedis } from '@renotify/testing';
import { APP_SECRET, accessTokenOf, freePort, percentile, round, rssMbOf, startChild, startSandbox, stopChildren, storeTokens, waitHealthy } from './support.js';

const { values: args } = parseArgs({
  // `pnpm bench:x -- --tokens 1000` passes a literal "--" first, which would make every option a positional.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    tokens: { type: 'string', default: '100000' },
    campaign: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '250' },
    pages: { type: 'string', default: '10' },
    interval: { type: 'string', default: '500' },
  },
});
const N = Number(args.tokens);
const CAMPAIGN_N = Number(args.campaign);
const RATE = Number(args.rate);
const SMALL_PAGES = Number(args.pages);
const INTERVAL_MS = Number(args.interval);
const log = (message: string) => console.log(`[fairness] ${message}`);

const sandbox = await startSandbox();
const BIG = '400000000000001';
const small = Array.from({ length: SMALL_PAGES }, (_, i) => String(400000000000100 + i));
for (const id of [BIG, ...small]) await sandbox.createPage(id);

// Enough single-token topics per small Page for the whole run, with a margin.
const expectedSeconds = (N + CAMPAIGN_N) / RATE;
const EVENTS_PER_PAGE = Math.ceil((expectedSeconds * 1.5 * 1000) / INTERVAL_MS) + 40;
log(`issuing ${N} one-time + ${CAMPAIGN_N} recurring tokens on Page A, ${EVENTS_PER_PAGE} single-token topics on each of ${SMALL_PAGES} small Pages`);
const bigTokens = await sandbox.issueTokens(BIG, N, { prefix: 'a', topic: 'back_in_stock:big' });
const campaignTokens = await sandbox.issueTokens(BIG, CAMPAIGN_N, { prefix: 'c', topic: 'daily-deals', kind: 'RECURRING' });
const smallTokens = new Map<string, Array<{ psid: string; token: string }>>();
for (const pageId of small) smallTokens.set(pageId, await sandbox.issueTokens(pageId, EVENTS_PER_PAGE, { prefix: `s${pageId.slice(-3)}-`, topic: 'back_in_stock:small' }));

const database = await createTestDatabase('benchfair');
const redisHandle = await createTestRedis('benchfair');
const env = { DATABASE_URL: database.url, REDIS_URL: redisHandle.url, QUEUE_PREFIX: redisHandle.prefix, GRAPH_API_BASE_URL: sandbox.url, LOG_LEVEL: 'warn' };
const db: Database = createDatabase(database.url, { maxConnections: 4 });
const secrets = new SecretBox(loadIngestConfig(env).ENCRYPTION_KEY);
log('storing tokens in Postgres');
for (const id of [BIG, ...small]) {
  await createPage(db, secrets, { id, name: `bench ${id}`, accessToken: accessTokenOf(id), appSecret: APP_SECRET, sendRatePerSec: RATE });
}
await storeTokens(db, BIG, bigTokens, { topic: 'back_in_stock:big' });
await storeTokens(db, BIG, campaignTokens, { topic: 'daily-deals', kind: 'RECURRING' });
// Each small event matches exactly one token: its own product's topic.
for (const [pageId, tokens] of smallTokens) await storeTokens(db, pageId, tokens, { topic: (k) => `back_in_stock:p${k}` });
await db.pool.query('ANALYZE');

const ingest = await startIngest(loadIngestConfig({ ...env, INGEST_PORT: '0' }));
const workerPort = await freePort();
const worker = startChild('apps/worker/src/main.ts', { ...env, WORKER_PORT: String(workerPort) });
await waitHealthy(`http://127.0.0.1:${workerPort}`);

async function api(method: string, route: string, body?: unknown) {
  const response = await fetch(`${ingest.url}${route}`, {
    method,
    headers: { authorization: 'Bearer demo-api-key', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${route}: ${response.status} ${text}`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- bench reads a few known fields
  return JSON.parse(text) as any;
}
const postEvent = (id: string, pageId: string, productId: string) => api('POST', '/v1/events', { id, type: 'back_in_stock', pageId, productId, productName: 'Bench Sneaker' });

/** Posted small events: page, psid of the one token it matches, and when it was posted. */
const posted: Array<{ pageId: string; psid: string; at: number; underLoad: boolean }> = [];
const nextSmall = new Map(small.map((pageId) => [pageId, 0]));
async function postSmall(pageId: string, underLoad: boolean) {
  const k = nextSmall.get(pageId)!;
  const token = smallTokens.get(pageId)![k];
  if (!token) return;
  nextSmall.set(pageId, k + 1);
  const at = Date.now();
  await postEvent(`small-${pageId}-${k}`, pageId, `p${k}`);
  posted.push({ pageId, psid: token.psid, at, underLoad });
}
async function latencies(filter: (event: (typeof posted)[number]) => boolean) {
  const firstSend = new Map<string, number>();
  for (const pageId of small) for (const message of await sandbox.messages(pageId)) if (message.psid && !firstSend.has(message.psid)) firstSend.set(message.psid, message.at);
  const values: number[] = [];
  let missing = 0;
  for (const event of posted.filter(filter)) {
    const sentAt = firstSend.get(event.psid);
    if (sentAt === undefined) missing++;
    else values.push(sentAt - event.at);
  }
  return { sorted: values.sort((a, b) => a - b), missing };
}

// 1. Idle baseline: one small event at a time, waiting for its send.
log('idle baseline');
for (let i = 0; i < 21; i++) {
  const pageId = small[i % small.length]!;
  const before = (await sandbox.control('GET', `/pages/${pageId}/messages?limit=1`)).total as number;
  await postSmall(pageId, false);
  while ((await sandbox.control('GET', `/pages/${pageId}/messages?limit=1`)).total === before) await new Promise((resolve) => setTimeout(resolve, 2));
}
posted.shift(); // the first one warms connections up
const idle = await latencies((event) => !event.underLoad);
const idleP50Ms = percentile(idle.sorted, 0.5)!;
log(`idle first-send p50 ${idleP50Ms} ms`);

const openCount = async (sourceId: string) =>
  (await db.pool.query(`SELECT count(*) FILTER (WHERE status IN ('PENDING','SENDING'))::int AS open, count(*)::int AS total FROM "Delivery" WHERE "sourceId" = $1`, [sourceId])).rows[0] as { open: number; total: number };

// 2 + 3. Page A's big send, small Pages posting meanwhile, a campaign mid-way.
log(`Page A: one event → ${N} one-time tokens at ${RATE}/s; ${SMALL_PAGES} small Pages post every ${INTERVAL_MS} ms`);
const startedA = Date.now();
await postEvent('big-event', BIG, 'big');
let stopPosting = false;
const posters = small.map(async (pageId, index) => {
  await new Promise((resolve) => setTimeout(resolve, (INTERVAL_MS / small.length) * index));
  while (!stopPosting) {
    const tick = Date.now();
    await postSmall(pageId, true);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, INTERVAL_MS - (Date.now() - tick))));
  }
});
const campaign = await api('POST', '/v1/campaigns', { pageId: BIG, name: 'Daily deals', topic: 'daily-deals', message: { text: 'Today: 20% off trail shoes.' }, schedule: { cron: '0 9 * * *' } });
let campaignRunId: string | null = null;
let campaignStartedAt = 0;
let campaignSeconds: number | null = null;
let workerRssMbMax = 0;
for (;;) {
  await new Promise((resolve) => setTimeout(resolve, 500));
  workerRssMbMax = Math.max(workerRssMbMax, rssMbOf(worker.pid));
  const big = await openCount('big-event');
  if (!campaignRunId && big.total >= N && big.total - big.open >= N / 2) {
    campaignStartedAt = Date.now();
    campaignRunId = (await api('POST', `/v1/campaigns/${campaign.id}/run`, {})).run.id as string;
    log(`campaign run started at ${((campaignStartedAt - startedA) / 1000).toFixed(1)} s`);
  }
  const run = campaignRunId ? await openCount(campaignRunId) : { open: 1, total: 0 };
  if (campaignRunId && campaignSeconds === null && run.total >= CAMPAIGN_N && run.open === 0) campaignSeconds = (Date.now() - campaignStartedAt) / 1000;
  process.stdout.write(`\r[fairness] A ${big.total - big.open}/${N}, campaign ${run.total - run.open}/${CAMPAIGN_N}, small events ${posted.length}, worker RSS ${rssMbOf(worker.pid).toFixed(0)} MB   `);
  if (big.total >= N && big.open === 0 && campaignSeconds !== null) break;
}
stopPosting = true;
await Promise.all(posters);
process.stdout.write('\n');
const busySeconds = (Date.now() - startedA) / 1000;
// Let the last small events go out, then check every delivery is final.
for (let i = 0; i < 100; i++) {
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "Delivery" WHERE status IN ('PENDING', 'SENDING')`);
  if (rows[0].n === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}

// 4. Figures.
const underLoad = await latencies((event) => event.underLoad);
const bigMessages = await sandbox.messages(BIG);
const bigSpan = (bigMessages.at(-1)!.at - bigMessages[0]!.at) / 1000;
const bigPageRate = bigMessages.length / bigSpan;
const open = (await db.pool.query(`SELECT count(*)::int AS n FROM "Delivery" WHERE status IN ('PENDING', 'SENDING')`)).rows[0].n as number;
const unsent = (await db.pool.query(`SELECT count(*)::int AS n FROM "Delivery" WHERE status <> 'SENT'`)).rows[0].n as number;
const stats = (await sandbox.control('GET', '/stats')).pages as Record<string, { accepted: number; rejected: Record<string, number> }>;
const rejected = Object.values(stats).reduce((sum, page) => sum + Object.values(page.rejected).reduce((a, b) => a + b, 0), 0);
let duplicates = rejected;
for (const pageId of [BIG, ...small]) {
  const seen = new Set<string>();
  for (const message of pageId === BIG ? bigMessages : await sandbox.messages(pageId)) {
    if (!message.psid) continue;
    if (seen.has(message.psid)) duplicates++;
    seen.add(message.psid);
  }
}
const lost = open + unsent + underLoad.missing;
log(`small Pages under load: p50 ${percentile(underLoad.sorted, 0.5)} ms, p99 ${percentile(underLoad.sorted, 0.99)} ms, max ${underLoad.sorted.at(-1)} ms over ${underLoad.sorted.length} events`);
log(`Page A: ${bigMessages.length} sends in ${bigSpan.toFixed(1)} s = ${bigPageRate.toFixed(1)}/s (limit ${RATE}/s); whole run ${busySeconds.toFixed(1)} s; campaign ${campaignSeconds?.toFixed(1)} s`);
log(`lost ${lost} (open ${open}, not SENT ${unsent}, small events never sent ${underLoad.missing}), duplicates ${duplicates} (sandbox refusals ${rejected})`);

await ingest.close();
await db.close();
stopChildren();
await redisHandle.cleanup();
await database.drop();

const smallP50Ms = percentile(underLoad.sorted, 0.5)!;
console.log(
  JSON.stringify({
    bench: 'fairness',
    tokens: N,
    campaignTokens: CAMPAIGN_N,
    ratePerSec: RATE,
    smallPages: SMALL_PAGES,
    smallEvents: underLoad.sorted.length,
    idleP50Ms,
    smallP50Ms,
    smallP99Ms: percentile(underLoad.sorted, 0.99),
    smallMaxMs: underLoad.sorted.at(-1) ?? null,
    bigPageRateRatio: round(bigPageRate / RATE, 3),
    fairnessRatio: round(smallP50Ms / Math.max(1, idleP50Ms), 2),
    campaignSeconds: campaignSeconds === null ? null : round(campaignSeconds, 1),
    workerRssMbMax: round(workerRssMbMax),
    lost,
    duplicates,
  }),
);
process.exit(0);
