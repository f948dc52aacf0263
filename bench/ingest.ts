/**
 * Ingest benchmark: how many events per second `POST /v1/events` accepts, and at what latency, next to the
 * cost floor of "store, then enqueue" measured in the same run (bench/ingest-floor.ts: a bare Fastify route
 * doing one multi-row INSERT and one Redis write per request). `ratioToFloor` is the real route's batch
 * throughput (at its best level with p99 < 50 ms) over the floor's (same rule); `singleRatioToFloor` likewise.
 * Each phase alternates between the floor and the real route in `--rounds` slices, so both see the same machine
 * load even when other processes come and go.
 *
 *   pnpm bench:ingest [--batches=1000] [--concurrency=2,4,6,8] [--singles=20000] [--single-concurrency=32]
 *
 * Starts the built ingest (dist/, what the image runs: `pnpm bench:ingest` builds it first) in-process against a
 * fresh migrated database (cloned by @renotify/testing) and a private Redis prefix, registers one Page, then
 * posts `--batches` batches of 100 events at each `--concurrency` level (requests in flight), and afterwards
 * single events. Each phase is a closed loop, so once the server is
 * saturated latency ≈ in-flight / throughput (Little's law): more in flight adds latency, not throughput. The
 * batch figures of the JSON line come from the level with the highest throughput whose p99 is under 50 ms (else
 * the level with the lowest p99); every level is printed and listed under "levels".
 * The HTTP client runs in a child process, like a separate producer on the same machine, so building and
 * sending requests does not run on the ingest's event loop.
 * No worker runs: fan-out jobs accumulate in Redis and are deleted with the prefix at the end, with the database.
 * The LAST line of output is one JSON object with the figures.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Pool } from 'undici';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { startIngest } from '@renotify/ingest';
import { createTestDatabase, createTestRedis } from '@renotify/testing';
import { startFloorServer } from './ingest-floor.js';
import { cpuMsOf, cpuMsOfTree } from './support.js';

process.env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/postgres';
process.env.REDIS_URL ??= 'redis://127.0.0.1:6379';

const { values: args } = parseArgs({
  // `pnpm bench:ingest -- --batches=100` passes a literal "--" first.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    batches: { type: 'string', default: process.env.BENCH_BATCHES ?? '1000' },
    'batch-size': { type: 'string', default: '100' },
    singles: { type: 'string', default: process.env.BENCH_SINGLES ?? '20000' },
    concurrency: { type: 'string', default: '2,4,6,8' },
    'single-concurrency': { type: 'string', default: '32' },
    rounds: { type: 'string', default: '4' },
  },
});
const BATCHES = Number(args.batches);
const BATCH_SIZE = Number(args['batch-size']);
const SINGLES = Number(args.singles);
const CONCURRENCY_LEVELS = args.concurrency.split(',').map(Number);
const P99_TARGET_MS = 50;
const SINGLE_CONCURRENCY = Number(args['single-concurrency']);
const PAGE_ID = '104857600000001';
const WARM_UP_BATCHES = 50;
const ROUNDS = Number(args.rounds);

interface PhaseResult {
  concurrency: number;
  requests: number;
  events: number;
  seconds: number;
  latenciesMs: number[];
  failures: number;
  /** CPU used during the phase by each party (ms): the server process, Postgres (every process of the cluster), Redis, the client. */
  cpuMs: CpuMs;
}

interface CpuMs {
  server: number;
  postgres: number;
  redis: number;
  client: number;
}

const cpuDelta = (after: CpuMs, before: CpuMs): CpuMs => ({
  server: after.server - before.server,
  postgres: after.postgres - before.postgres,
  redis: after.redis - before.redis,
  client: after.client - before.client,
});

const addCpu = (a: CpuMs, b: CpuMs): CpuMs => ({ server: a.server + b.server, postgres: a.postgres + b.postgres, redis: a.redis + b.redis, client: a.client + b.client });

const ownCpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

/** Asks the server process (the parent) for its CPU counters; the client adds its own. */
function cpuNow(): Promise<CpuMs> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if ((message as { cpu?: CpuMs }).cpu) {
        process.off('message', onMessage);
        resolve({ ...(message as { cpu: CpuMs }).cpu, client: ownCpuMs() });
      }
    };
    process.on('message', onMessage);
    process.send?.({ cpuRequest: true });
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const round = (value: number, digits = 1) => Number(value.toFixed(digits));

/** Sends `requests` bodies built by `body(i)` with at most `concurrency` in flight; prints progress every second. */
async function runPhase(
  name: string,
  client: Pool,
  { requests, concurrency, eventsPerRequest, body }: { requests: number; concurrency: number; eventsPerRequest: number; body: (i: number) => string },
): Promise<PhaseResult> {
  const latenciesMs: number[] = [];
  let next = 0;
  let done = 0;
  let failures = 0;
  let firstFailure = '';
  const cpuBefore = await cpuNow();
  const started = performance.now();
  const progress = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    console.log(`  ${name}: ${done}/${requests} requests, ${Math.round((done * eventsPerRequest) / seconds)} events/s so far`);
  }, 1_000);
  async function lane() {
    while (next < requests) {
      const payload = body(next++);
      const sent = performance.now();
      const response = await client.request({ method: 'POST', path: '/v1/events', headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' }, body: payload });
      const text = await response.body.text();
      latenciesMs.push(performance.now() - sent);
      if (response.statusCode !== 202) {
        failures++;
        firstFailure ||= `${response.statusCode} ${text.slice(0, 300)}`;
      }
      done++;
    }
  }
  try {
    await Promise.all(Array.from({ length: concurrency }, lane));
  } finally {
    clearInterval(progress);
  }
  const seconds = (performance.now() - started) / 1000;
  const cpuMs = cpuDelta(await cpuNow(), cpuBefore);
  if (failures) console.log(`  ${name}: ${failures} request(s) failed; first: ${firstFailure}`);
  return { concurrency, requests, events: requests * eventsPerRequest, seconds, latenciesMs: latenciesMs.sort((a, b) => a - b), failures, cpuMs };
}

function describePhase(name: string, result: PhaseResult) {
  const perSec = result.events / result.seconds;
  console.log(
    `${name}: ${result.events} events in ${result.requests} requests, ${result.seconds.toFixed(2)} s → ${Math.round(perSec)} events/s, ` +
      `${Math.round(result.requests / result.seconds)} req/s; latency p50 ${percentile(result.latenciesMs, 50).toFixed(1)} ms, ` +
      `p99 ${percentile(result.latenciesMs, 99).toFixed(1)} ms, max ${percentile(result.latenciesMs, 100).toFixed(1)} ms; ` +
      `CPU µs per event: ${Object.entries(cpuUsPerEvent(result)).map(([party, us]) => `${party} ${us}`).join(', ')}`,
  );
  return perSec;
}

/**
 * /proc/<pid>/stat of a process of this machine whose command line names `what`, else undefined (a service on
 * another host reports a pid of its own machine: its CPU is not measured here, and shows as 0).
 */
function localProcess(pid: number | undefined, what: string): string | undefined {
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(what)) return undefined;
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
}

/** CPU per event of each party (µs): where the machine's time goes, route against floor. */
const cpuUsPerEvent = (result: PhaseResult): CpuMs => {
  const per = (ms: number) => round((ms * 1000) / result.events);
  return { server: per(result.cpuMs.server), postgres: per(result.cpuMs.postgres), redis: per(result.cpuMs.redis), client: per(result.cpuMs.client) };
};

const event = (id: string, i: number) => ({
  id,
  type: 'back_in_stock',
  pageId: PAGE_ID,
  productId: `sku-${i % 500}`,
  variant: String(36 + (i % 10)),
  productName: 'Trail Runner',
  url: 'https://shop.example/p/trail-runner',
});

interface ClientJob {
  url: string;
  floorUrl: string;
  runId: string;
}

interface ClientResults {
  batches: PhaseResult[];
  singles: PhaseResult;
  floorBatches: PhaseResult[];
  floorSingles: PhaseResult;
}

/** Runs the phases in a child process (same flags, same arguments) and hands back their results. */
function runClient(job: ClientJob, serverCpuMs: () => Omit<CpuMs, 'client'>): Promise<ClientResults> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), process.argv.slice(2), {
      execArgv: process.execArgv,
      env: { ...process.env, BENCH_CLIENT: JSON.stringify(job satisfies ClientJob) },
    });
    child.on('message', (message) => {
      if ((message as { cpuRequest?: boolean }).cpuRequest) child.send({ cpu: serverCpuMs() });
      else resolve(message as ClientResults);
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bench client exited with code ${code}`)));
  });
}

async function clientProcess({ url, floorUrl, runId }: ClientJob) {
  const connections = Math.max(...CONCURRENCY_LEVELS, SINGLE_CONCURRENCY);
  const client = new Pool(url, { connections, pipelining: 1 });
  const floor = new Pool(floorUrl, { connections, pipelining: 1 });
  try {
    const batchBody = (prefix: string) => (i: number) =>
      JSON.stringify(Array.from({ length: BATCH_SIZE }, (_, j) => event(`${prefix}-${runId}-${i}-${j}`, i * BATCH_SIZE + j)));
    await runPhase('floor warm-up', floor, { requests: WARM_UP_BATCHES, concurrency: 2, eventsPerRequest: BATCH_SIZE, body: batchBody('warm') });
    await runPhase('warm-up', client, { requests: WARM_UP_BATCHES, concurrency: 2, eventsPerRequest: BATCH_SIZE, body: batchBody('warm') });
    const batches: PhaseResult[] = [];
    const floorBatches: PhaseResult[] = [];
    /** The same phase against the floor and the real route, alternating slice by slice; results summed per target. */
    async function alternate(name: string, { requests, concurrency, eventsPerRequest, body }: Parameters<typeof runPhase>[2]) {
      const slices: { floor: PhaseResult[]; real: PhaseResult[] } = { floor: [], real: [] };
      const perSlice = Math.ceil(requests / ROUNDS);
      for (let round = 0; round < ROUNDS; round++) {
        const offset = round * perSlice;
        const slice = { requests: Math.min(perSlice, requests - offset), concurrency, eventsPerRequest, body: (i: number) => body(offset + i) };
        if (slice.requests <= 0) break;
        slices.floor.push(await runPhase(`floor ${name}`, floor, slice));
        slices.real.push(await runPhase(name, client, slice));
      }
      const sum = (results: PhaseResult[]): PhaseResult => ({
        concurrency,
        requests: results.reduce((total, result) => total + result.requests, 0),
        events: results.reduce((total, result) => total + result.events, 0),
        seconds: results.reduce((total, result) => total + result.seconds, 0),
        latenciesMs: results.flatMap((result) => result.latenciesMs).sort((a, b) => a - b),
        failures: results.reduce((total, result) => total + result.failures, 0),
        cpuMs: results.reduce((total, result) => addCpu(total, result.cpuMs), { server: 0, postgres: 0, redis: 0, client: 0 }),
      });
      return { floor: sum(slices.floor), real: sum(slices.real) };
    }
    for (const concurrency of CONCURRENCY_LEVELS) {
      const both = await alternate(`batches ×${concurrency}`, { requests: BATCHES, concurrency, eventsPerRequest: BATCH_SIZE, body: batchBody(`b${concurrency}`) });
      floorBatches.push(both.floor);
      batches.push(both.real);
    }
    const bothSingles = await alternate('singles', { requests: SINGLES, concurrency: SINGLE_CONCURRENCY, eventsPerRequest: 1, body: (i: number) => JSON.stringify(event(`s-${runId}-${i}`, i)) });
    const floorSingles = bothSingles.floor;
    const singles = bothSingles.real;
    const results: ClientResults = { batches, singles, floorBatches, floorSingles };
    await new Promise<void>((resolve, reject) => process.send?.(results, (error: Error | null) => (error ? reject(error) : resolve())));
  } finally {
    await Promise.all([client.close(), floor.close()]);
  }
}

interface Level {
  concurrency: number;
  eventsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerEvent: CpuMs;
}

/** The level with the highest throughput whose p99 is under the target, else the one with the lowest p99. */
function chooseLevel(levels: Level[]): { level: Level; withinTarget: boolean } {
  const withinTarget = levels.filter((level) => level.p99Ms < P99_TARGET_MS);
  return withinTarget.length
    ? { level: withinTarget.reduce((best, level) => (level.eventsPerSec > best.eventsPerSec ? level : best)), withinTarget: true }
    : { level: levels.reduce((best, level) => (level.p99Ms < best.p99Ms ? level : best)), withinTarget: false };
}

const levelsOf = (label: string, phases: PhaseResult[]): Level[] =>
  phases.map((phase) => ({
    concurrency: phase.concurrency,
    eventsPerSec: Math.round(describePhase(`${label}batches of ${BATCH_SIZE}, ${phase.concurrency} in flight`, phase)),
    p50Ms: round(percentile(phase.latenciesMs, 50)),
    p99Ms: round(percentile(phase.latenciesMs, 99)),
    cpuUsPerEvent: cpuUsPerEvent(phase),
  }));

async function main() {
  console.log(
    `ingest bench: ${BATCHES} batches of ${BATCH_SIZE} at each of ${CONCURRENCY_LEVELS.join(', ')} in flight, ` +
      `then ${SINGLES} single events (${SINGLE_CONCURRENCY} in flight)`,
  );
  const [database, floorDatabase, redis] = await Promise.all([createTestDatabase('bench'), createTestDatabase('benchfloor'), createTestRedis('bench')]);
  const runId = Date.now().toString(36);
  let ingest: Awaited<ReturnType<typeof startIngest>> | undefined;
  let floor: Awaited<ReturnType<typeof startFloorServer>> | undefined;
  let admin: pg.Client | undefined;
  try {
    floor = await startFloorServer({ databaseUrl: floorDatabase.url, redisUrl: redis.url, redisKey: `${redis.prefix}:floor` });
    await floor.registerPage(PAGE_ID);
    ingest = await startIngest(
      loadIngestConfig({ DATABASE_URL: database.url, REDIS_URL: redis.url, QUEUE_PREFIX: redis.prefix, INGEST_PORT: '0', LOG_LEVEL: 'warn' }),
    );
    admin = new pg.Client({ connectionString: database.url });
    admin.on('error', () => undefined);
    await admin.connect();
    await admin.query(
      `INSERT INTO "Page" (id, name, "accessTokenCipher", "appSecretCipher", "updatedAt") VALUES ($1, 'Bench shop', 'x', 'x', now())`,
      [PAGE_ID],
    );
    console.log(`ingest at ${ingest.url}, floor at ${floor.url}, database ${database.name}, redis prefix ${redis.prefix}`);
    // CPU counters of the parties on this machine: this process (ingest and floor servers), the Postgres cluster
    // (postmaster and every backend, exited ones included) and redis-server. Zero where a service is not local.
    const backendPid = (await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    const postmasterPid = Number(localProcess(backendPid, 'postgres')?.split(') ')[1]?.split(' ')[1]);
    const redisPid = Number(/process_id:(\d+)/.exec(await ingest.deps.redis.info('server'))?.[1]);
    if (!localProcess(redisPid, 'redis')) console.log('redis-server is not a local process: its CPU is not measured');
    if (!postmasterPid) console.log('Postgres is not a local process: its CPU is not measured');
    const serverCpuMs = () => ({ server: ownCpuMs(), postgres: postmasterPid ? cpuMsOfTree(postmasterPid) : 0, redis: localProcess(redisPid, 'redis') ? cpuMsOf(redisPid) : 0 });
    const { batches, singles, floorBatches, floorSingles } = await runClient({ url: ingest.url, floorUrl: floor.url, runId }, serverCpuMs);
    console.log('');
    const floorLevels = levelsOf('floor: ', floorBatches);
    const levels = levelsOf('', batches);
    const { level: chosen, withinTarget } = chooseLevel(levels);
    const { level: floorChosen } = chooseLevel(floorLevels);
    console.log(`reported batch level: ${chosen.concurrency} in flight (${withinTarget ? `best throughput with p99 < ${P99_TARGET_MS} ms` : `no level had p99 < ${P99_TARGET_MS} ms: lowest p99`})`);
    const floorSingleEventsPerSec = describePhase('floor: single events', floorSingles);
    const singleEventsPerSec = describePhase('single events', singles);
    console.log(`ratio to floor: batches ${(chosen.eventsPerSec / floorChosen.eventsPerSec).toFixed(2)}, singles ${(singleEventsPerSec / floorSingleEventsPerSec).toFixed(2)}`);
    const stored = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM "Event"');
    const queued = await ingest.deps.queues.events.getJobCountByTypes('waiting', 'prioritized', 'delayed');
    const expected = (WARM_UP_BATCHES + BATCHES * CONCURRENCY_LEVELS.length) * BATCH_SIZE + SINGLES;
    console.log(`stored events: ${stored.rows[0]?.n} (expected ${expected}); fan-out jobs waiting: ${queued}`);
    const failures = [...batches, ...floorBatches, floorSingles].reduce((sum, phase) => sum + phase.failures, singles.failures);
    if (failures > 0 || stored.rows[0]?.n !== expected) console.log(`WARNING: ${failures} failed request(s); figures are not valid`);

    console.log(
      JSON.stringify({
        bench: 'ingest',
        eventsPerSec: chosen.eventsPerSec,
        p99Ms: chosen.p99Ms,
        floorEventsPerSec: floorChosen.eventsPerSec,
        floorP99Ms: floorChosen.p99Ms,
        ratioToFloor: round(chosen.eventsPerSec / floorChosen.eventsPerSec, 2),
        singleEventsPerSec: Math.round(singleEventsPerSec),
        floorSingleEventsPerSec: Math.round(floorSingleEventsPerSec),
        singleRatioToFloor: round(singleEventsPerSec / floorSingleEventsPerSec, 2),
        singleP99Ms: round(percentile(singles.latenciesMs, 99)),
        cpuUsPerEvent: chosen.cpuUsPerEvent,
        floorCpuUsPerEvent: floorChosen.cpuUsPerEvent,
        singleCpuUsPerEvent: cpuUsPerEvent(singles),
        floorSingleCpuUsPerEvent: cpuUsPerEvent(floorSingles),
        p50Ms: chosen.p50Ms,
        singleP50Ms: round(percentile(singles.latenciesMs, 50)),
        batchSize: BATCH_SIZE,
        concurrency: chosen.concurrency,
        singleConcurrency: SINGLE_CONCURRENCY,
        levels,
        floorLevels,
        failures,
      }),
    );
  } finally {
    await admin?.end().catch(() => undefined);
    await ingest?.close();
    await floor?.close();
    await Promise.all([redis.cleanup(), database.drop(), floorDatabase.drop()]);
  }
}

if (process.env.BENCH_CLIENT) await clientProcess(JSON.parse(process.env.BENCH_CLIENT) as ClientJob);
else await main();
