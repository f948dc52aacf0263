/**
 * What the benchmarks share: child processes (built apps when there is a build, else the sources through tsx),
 * the sandbox's control API, and bulk token seeding in Postgres.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
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

/** Runs an app's build (as production does) when there is one, else its source through tsx. */
export function startChild(entry: string, env: Record<string, string>): ChildProcess {
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

/** Starts the sandbox in its own process (no demo seed, webhooks to nowhere) and returns its control client. */
export async function startSandbox() {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  startChild('apps/messenger-sandbox/src/main.ts', { SANDBOX_PORT: String(port), SANDBOX_SEED_DEMO: 'false', SANDBOX_WEBHOOK_URL: 'http://127.0.0.1:9/none' });
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
  return { url, control, createPage, issueTokens, messages };
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
export const round = (value: number, digits = 0) => Number(value.toFixed(digits));
