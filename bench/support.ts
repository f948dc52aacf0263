/**
 * What the benchmarks share: child processes (built apps when there is a build, else the sources through tsx),
 * the sandbox's control API, and bulk token seeding in Postgres.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from '@renotify/db';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/postgres';
process.env.REDIS_URL ??= 'redis://127.0.0.1:6379';

export const children: ChildProcess[] = [];

export const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

/** NODE_OPTIONS of the worker's Deployment (deploy/k8s/worker.yaml), the one place they are set. */
export function deployedWorkerNodeOptions(): string {
  const manifest = readFileSync(path.join(root, 'deploy/k8s/worker.yaml'), 'utf8');
  const value = /- name: NODE_OPTIONS\s+value: (.+)/.exec(manifest)?.[1];
  if (value === undefined) throw new Error('deploy/k8s/worker.yaml sets no NODE_OPTIONS for the worker');
  return value.trim();
}

/** Runs an app's build (as production does) when there is one, else its source through tsx. */
export function startChild(entry: string, env: Record<string, string>): ChildProcess {
  const built = path.join(root, entry.replace('/src/', '/dist/').replace(/\.ts$/, '.js'));
  // The worker runs with the Node options it is deployed with (its heap cap sets its memory footprint), before any
  // the bench adds; BENCH_WORKER_NODE_OPTIONS replaces the deployed ones ("" = Node's defaults). Harness, sandbox
  // and ingest keep Node's.
  if (entry.startsWith('apps/worker/')) {
    const deployed = process.env.BENCH_WORKER_NODE_OPTIONS ?? deployedWorkerNodeOptions();
    env = { ...env, NODE_OPTIONS: `${deployed} ${env.NODE_OPTIONS ?? ''}`.trim() };
  }
  const argv = existsSync(built) ? [built] : ['--conditions=source', '--import', 'tsx', path.join(root, entry)];
  const child = spawn(process.execPath, argv, {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child;
}

export function stopChildren() {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
}

export async function waitHealthy(url: string) {
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

export function rssMbOf(pid: number | undefined): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

export const accessTokenOf = (pageId: string) => `bench-access-token-${pageId}`;
export const APP_SECRET = 'bench-app-secret';
/** Meta's appsecret_proof for a bench Page's token (the sandbox checks it like Meta). */
export const appSecretProofOf = (pageId: string) => createHmac('sha256', APP_SECRET).update(accessTokenOf(pageId)).digest('hex');

/**
 * Starts the sandbox in its own process (no demo seed, webhooks to nowhere) and returns its control client.
 * `keepMessages: false` has it count accepted messages without keeping them (SANDBOX_KEEP_MESSAGES): a bench of
 * millions of sends would otherwise grow "Meta" by ~1 GB per million and slow it down as the run goes on.
 */
export async function startSandbox(options: { keepMessages?: boolean } = {}) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = startChild('apps/messenger-sandbox/src/main.ts', { SANDBOX_PORT: String(port), SANDBOX_SEED_DEMO: 'false', SANDBOX_WEBHOOK_URL: 'http://127.0.0.1:9/none', SANDBOX_KEEP_MESSAGES: String(options.keepMessages ?? true) });
  await waitHealthy(url);
  async function control(method: string, route: string, body?: unknown) {
    const response = await fetch(`${url}/__sandbox${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`sandbox ${route}: ${response.status} ${await response.text()}`);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the sandbox's control API is untyped here
    return response.json() as Promise<any>;
  }
  /** A sandbox Page with its send rate limit lifted: Renotify's own limit is what is measured. */
  const createPage = (id: string) => control('POST', '/pages', { id, accessToken: accessTokenOf(id), appSecret: APP_SECRET, sendRatePerSecond: null });
  async function issueTokens(pageId: string, count: number, options: { prefix: string; topic: string; kind?: 'ONE_TIME' | 'RECURRING' }) {
    const tokens: Array<{ psid: string; token: string }> = [];
    for (let offset = 0; offset < count; offset += 50_000) {
      const issued = await control('POST', `/pages/${pageId}/tokens/bulk`, {
        count: Math.min(50_000, count - offset),
        kind: options.kind ?? 'ONE_TIME',
        payload: options.topic,
        psidPrefix: `${options.prefix}${offset}-`,
        ...(options.kind === 'RECURRING' ? { frequency: 'DAILY' } : {}),
      });
      tokens.push(...issued.tokens);
    }
    return tokens;
  }
  /** Every message the sandbox accepted for a Page, in order. */
  async function messages(pageId: string): Promise<Array<{ at: number; psid?: string; topic?: string; seq: number }>> {
    const out: Array<{ at: number; psid?: string; topic?: string; seq: number }> = [];
    let after = 0;
    for (;;) {
      const page = await control('GET', `/pages/${pageId}/messages?after=${after}&limit=200000`);
      out.push(...page.messages);
      if (page.nextAfter === undefined) return out;
      after = page.nextAfter;
    }
  }
  /** How many messages the sandbox accepted for a Page: a progress count that costs Postgres nothing. */
  const acceptedCount = async (pageId: string): Promise<number> => (await control('GET', '/stats')).pages[pageId]?.accepted ?? 0;
  return { url, pid: child.pid, control, createPage, issueTokens, messages, acceptedCount };
}

/** Stores a Page's tokens as Renotify would after their opt-in webhooks (one subscriber per token). */
export async function storeTokens(
  db: Database,
  pageId: string,
  tokens: Array<{ psid: string; token: string }>,
  options: { topic: string | ((index: number) => string); kind?: 'ONE_TIME' | 'RECURRING' },
) {
  const kind = options.kind ?? 'ONE_TIME';
  const topicOf = typeof options.topic === 'string' ? () => options.topic as string : options.topic;
  for (let offset = 0; offset < tokens.length; offset += 10_000) {
    const chunk = tokens.slice(offset, offset + 10_000);
    await db.pool.query(
      `WITH subs AS (
         INSERT INTO "Subscriber" ("pageId", psid, "updatedAt") SELECT $1, unnest($2::text[]), now()
         ON CONFLICT ("pageId", psid) DO UPDATE SET "updatedAt" = now() RETURNING id, psid
       )
       INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, token, "tokenFingerprint", status, "statusAt", "updatedAt", frequency)
       SELECT $1, subs.id, $5::"OptInKind", t.topic, t.token, 'fp', 'ACTIVE', now(), now(), CASE WHEN $5 = 'RECURRING' THEN 'DAILY'::"Frequency" END
       FROM unnest($2::text[], $3::text[], $4::text[]) AS t(psid, token, topic) JOIN subs ON subs.psid = t.psid`,
      [pageId, chunk.map((t) => t.psid), chunk.map((t) => t.token), chunk.map((_, i) => topicOf(offset + i)), kind],
    );
  }
}

export const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]! : null);
/**
 * RETENTION_CRON for a bench's worker: 04:41 on 29 February, so the hourly retention job (minute 41 by default) does
 * not finalize or purge in the middle of a measured run (in bench:scale it would count the history's past events).
 */
export const RETENTION_NEVER = '41 4 29 2 *';

export const round = (value: number, digits = 0) => Number(value.toFixed(digits));

/**
 * A throw-away redis-server (no persistence) for a benchmark of its own, so `INFO commandstats` and memory count
 * only the benchmark's commands, not the other processes sharing the machine's Redis.
 */
export async function startPrivateRedis(): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  children.push(child);
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return { url, stop: () => child.kill('SIGTERM') };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server on port ${port} did not start`);
}

/**
 * Settings of a Postgres primary sized for production write load, scaled to this machine (24 GiB): a checkpoint
 * every 15 minutes at most and WAL room for a long fan-out, so a multi-minute run is not cut by checkpoints forced
 * by max_wal_size (each followed by full-page images of every page touched again); shared_buffers large enough for a
 * 1M-token send's indexes; WAL full-page images compressed; autovacuum on. docs/scaling.md §2 lists them.
 */
export const PRODUCTION_POSTGRES_SETTINGS: Record<string, string> = {
  shared_buffers: '2GB',
  effective_cache_size: '8GB',
  maintenance_work_mem: '512MB',
  checkpoint_timeout: '15min',
  max_wal_size: '16GB',
  wal_compression: 'lz4',
  max_connections: '200',
  autovacuum: 'on',
};

const PG_BIN = '/usr/lib/postgresql/15/bin';

/**
 * A throw-away Postgres cluster of the bench's own (initdb into a temporary directory, another port), started with
 * `settings`: the shared development cluster (128 MB shared_buffers, 1 GB max_wal_size, autovacuum off) is not what
 * a scale measurement should be taken on, and its settings are not ours to change. initdb and postgres refuse to run
 * as root, so they run as the machine's `postgres` user when the bench is root. Returns its server URL.
 */
export async function startPrivatePostgres(settings: Record<string, string> = PRODUCTION_POSTGRES_SETTINGS): Promise<{ url: string; pid: number | undefined; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'renotify-bench-pg-'));
  // Spawned with the `postgres` user's ids when the bench runs as root (initdb and postgres refuse root).
  const owner: { uid?: number; gid?: number } = {};
  if (process.getuid?.() === 0) {
    owner.uid = Number(execFileSync('id', ['-u', 'postgres']));
    owner.gid = Number(execFileSync('id', ['-g', 'postgres']));
    chownSync(dataDir, owner.uid, owner.gid);
  }
  execFileSync(`${PG_BIN}/initdb`, ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'], { stdio: 'ignore', ...owner });
  const port = await freePort();
  const options = Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  const args = ['-D', dataDir, '-p', String(port), '-k', dataDir, '-c', 'listen_addresses=127.0.0.1', ...options];
  const child = spawn(`${PG_BIN}/postgres`, args, { stdio: 'ignore', ...owner });
  children.push(child);
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`private postgres exited with ${child.exitCode}`);
    try {
      execFileSync(`${PG_BIN}/pg_isready`, ['-h', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
      return {
        url,
        pid: child.pid,
        async stop() {
          // SIGINT: Postgres' fast shutdown (disconnect clients, one last checkpoint).
          child.kill('SIGINT');
          if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`private postgres on port ${port} did not start`);
}

/** CPU time (user + system) a process has used so far, from /proc/<pid>/stat (clock ticks of 10 ms). */
export function cpuMsOf(pid: number | undefined): number {
  try {
    // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14 and 15)
  } catch {
    return 0;
  }
}

/**
 * CPU time of a process and its children (the Postgres postmaster and its backends): its own, what its exited
 * children used (cutime, cstime), and its live children's own and reaped.
 */
export function cpuMsOfTree(pid: number | undefined): number {
  const fieldsOf = (of: number | string) => {
    try {
      return readFileSync(`/proc/${of}/stat`, 'utf8').split(') ')[1]!.split(' ');
    } catch {
      return null;
    }
  };
  const ticks = (fields: string[]) => Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  const own = fieldsOf(pid ?? -1);
  if (!own) return 0;
  let total = ticks(own);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = fieldsOf(entry);
    if (fields && Number(fields[1]) === pid) total += ticks(fields);
  }
  return total * 10;
}

/** Total calls over every command in `INFO commandstats`. */
export async function redisCommandCount(redis: { info(section: string): Promise<string> }): Promise<number> {
  let total = 0;
  for (const match of (await redis.info('commandstats')).matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) total += Number(match[1]);
  return total;
}

export interface PgCounters {
  /** Rows inserted + updated + deleted in the database (pg_stat_database). */
  rowsWritten: number;
  /** Committed and rolled-back transactions in the database: with autocommit, one per statement. */
  transactions: number;
  /** Statement executions in the database from pg_stat_statements, when that extension is loaded. */
  statements: number | null;
  /** The cluster's WAL position in bytes (WAL is cluster-wide: other databases' writes count too). */
  walLsnBytes: bigint;
}

/** Postgres's cumulative counters for one database. Call after the writers' statistics were flushed (see settleStats). */
export async function pgCounters(db: Database, databaseName: string): Promise<PgCounters> {
  await db.pool.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await db.pool.query<{ rows_written: string; transactions: string; wal: string }>(
    `SELECT tup_inserted + tup_updated + tup_deleted AS rows_written, xact_commit + xact_rollback AS transactions,
            pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS wal
     FROM pg_stat_database WHERE datname = $1`,
    [databaseName],
  );
  let statements: number | null = null;
  try {
    const result = await db.pool.query<{ calls: string }>(
      `SELECT coalesce(sum(calls), 0)::text AS calls FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)`,
      [databaseName],
    );
    statements = Number(result.rows[0]?.calls ?? 0);
  } catch {
    statements = null; // the extension is not installed or not preloaded: transactions stand in for statements
  }
  const row = rows[0]!;
  return { rowsWritten: Number(row.rows_written), transactions: Number(row.transactions), statements, walLsnBytes: BigInt(row.wal) };
}

/**
 * Backends flush their statistics at most once a second, and an idle one within about a second: waiting this
 * long before reading pg_stat_database counts every statement that ran before.
 */
export const settleStats = () => new Promise((resolve) => setTimeout(resolve, 2_500));

const PG_WALDUMP = '/usr/lib/postgresql/15/bin/pg_waldump';
const lsnText = (bytes: bigint) => `${(bytes >> 32n).toString(16).toUpperCase()}/${(bytes & 0xffffffffn).toString(16).toUpperCase()}`;

/**
 * The WAL written for ONE database between two positions, read from the WAL itself with pg_waldump: every record
 * touching a relation of that database, plus the commit records of their transactions (full-page images included).
 * The LSN difference counts every database of the cluster, and on a machine shared with other work that is mostly
 * theirs. Null when the WAL cannot be read (not on this machine, or already recycled).
 */
export async function walBytesOfDatabase(db: Database, databaseName: string, from: bigint, to: bigint): Promise<number | null> {
  if (to <= from) return 0;
  try {
    const { rows } = await db.pool.query<{ oid: string; dir: string }>(
      `SELECT oid::text AS oid, current_setting('data_directory') AS dir FROM pg_database WHERE datname = $1`,
      [databaseName],
    );
    const { oid, dir } = rows[0]!;
    if (!existsSync(PG_WALDUMP) || !existsSync(path.join(dir, 'pg_wal'))) return null;
    const child = spawn(PG_WALDUMP, ['-p', path.join(dir, 'pg_wal'), '-s', lsnText(from), '-e', lsnText(to)], { stdio: ['ignore', 'pipe', 'ignore'] });
    const ours = new RegExp(` rel \\d+/${oid}/`);
    const transactions = new Set<string>();
    let bytes = 0;
    let records = 0;
    const { createInterface } = await import('node:readline');
    for await (const line of createInterface({ input: child.stdout! })) {
      records++;
      const total = /len \(rec\/tot\):\s*\d+\/\s*(\d+), tx:\s*(\d+)/.exec(line);
      if (!total) continue;
      if (ours.test(line)) {
        bytes += Number(total[1]);
        if (total[2] !== '0') transactions.add(total[2]!);
      } else if (line.includes('rmgr: Transaction') && transactions.has(total[2]!)) {
        bytes += Number(total[1]);
      }
    }
    const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
    // pg_waldump exits 1 after the last record when `to` is not a record boundary: fine once records were read.
    return code === 0 || records > 0 ? bytes : null;
  } catch {
    return null;
  }
}

/**
 * walBytesOfDatabase over a long run, read once the run is over so that pg_waldump does not compete with the run
 * it measures (read during the run it took 10–25 % of a core on this 2-core machine). A temporary physical
 * replication slot, held by a connection of its own, keeps every WAL segment from `from` on until it is read:
 * checkpoints cannot recycle them (a 100k-send run writes more than max_wal_size). Without a slot (none free, or
 * not allowed), it falls back to reading slices every few seconds during the run.
 */
export async function startWalMeter(db: Database, databaseName: string, from: bigint, everyMs = 3_000) {
  const holder = await db.pool.connect();
  const held = await holder
    .query(`SELECT pg_create_physical_replication_slot($1, true, true)`, [`renotify_bench_wal_${process.pid}`])
    .then(() => true)
    .catch(() => false);
  if (held) {
    return {
      /** The database's WAL bytes from `from` to `to`, or null when the WAL could not be read. */
      async stop(to: bigint): Promise<number | null> {
        try {
          if (process.env.BENCH_WAL_STATS) {
            const { rows } = await db.pool.query<{ dir: string }>(`SELECT current_setting('data_directory') AS dir`);
            const out = execFileSync(PG_WALDUMP, ['-p', path.join(rows[0]!.dir, 'pg_wal'), '-s', lsnText(from), '-e', lsnText(to), '--stats=record'], { maxBuffer: 1e8 }).toString();
            writeFileSync(process.env.BENCH_WAL_STATS, out);
          }
          return await walBytesOfDatabase(db, databaseName, from, to);
        } finally {
          holder.release(true); // the connection is closed, and its temporary slot with it
        }
      },
    };
  }
  holder.release();
  let last = from;
  let bytes: number | null = 0;
  let reading: Promise<void> = Promise.resolve();
  const readUpTo = (to: bigint) => {
    reading = reading.then(async () => {
      if (bytes === null || to <= last) return;
      const slice = await walBytesOfDatabase(db, databaseName, last, to);
      bytes = slice === null ? null : bytes + slice;
      last = to;
    });
    return reading;
  };
  const timer = setInterval(() => {
    void db.pool
      .query<{ lsn: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS lsn`)
      .then(({ rows }) => readUpTo(BigInt(rows[0]!.lsn)))
      .catch(() => undefined);
  }, everyMs);
  return {
    async stop(to: bigint): Promise<number | null> {
      clearInterval(timer);
      await readUpTo(to);
      return bytes;
    },
  };
}

/**
 * Production Postgres runs autovacuum, whose analyze refreshes a table's statistics once 10 % of it changed
 * (checked every minute). Where autovacuum is off (this development cluster), a large fan-out would run all
 * its claims on statistics from before it, which no deployment sees. This does what autoanalyze would do, for
 * the bench database only, and nothing when autovacuum is on. Returns a stop function.
 */
export async function emulateAutoanalyze(db: Database, everyMs = 30_000): Promise<() => void> {
  const { rows } = await db.pool.query<{ on: string }>(`SELECT current_setting('autovacuum') AS on`);
  if (rows[0]?.on === 'on') return () => undefined;
  const timer = setInterval(() => {
    void db.pool
      .query<{ relname: string }>(
        `SELECT relname FROM pg_stat_user_tables WHERE n_mod_since_analyze > 50 + 0.1 * greatest(n_live_tup, 1)`,
      )
      .then(async ({ rows: stale }) => {
        for (const { relname } of stale) await db.pool.query(`ANALYZE "${relname.replace(/"/g, '""')}"`);
      })
      .catch(() => undefined);
  }, everyMs);
  return () => clearInterval(timer);
}
