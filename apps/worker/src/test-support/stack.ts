import { loadIngestConfig, loadWorkerConfig } from '@renotify/config';
import { createPage, type Database } from '@renotify/db';
import { startIngest, type RunningIngest } from '@renotify/ingest';
import { buildSandbox, type Sandbox } from '@renotify/messenger-sandbox';
import { createTestServices, type Env, type TestServices } from '@renotify/testing';
import { startWorker, type RunningWorker } from '../index.js';

export const TEST_PAGE = { id: '200000000000001', name: 'Test Shop', accessToken: 'test-page-access-token', appSecret: 'test-app-secret' };

/** Sandbox (as Meta) + ingest + worker on private services: the whole pipeline, over real HTTP, Redis and Postgres. */
export interface Stack {
  services: TestServices;
  sandbox: Sandbox;
  sandboxUrl: string;
  ingest: RunningIngest;
  worker: RunningWorker | null;
  env: Env;
  db: Database;
  startWorker(extraEnv?: Env): Promise<RunningWorker>;
  // Responses are asserted on field by field in tests; typing every API shape here would add nothing.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  control(method: string, path: string, body?: unknown): Promise<any>;
  /* eslint-enable @typescript-eslint/no-explicit-any */
  close(): Promise<void>;
}

export async function startStack(label: string, extraEnv: Env = {}, { withWorker = true } = {}): Promise<Stack> {
  const services = await createTestServices(label);
  const sandbox = buildSandbox({ seed: 42, seedDemo: false, sendRatePerSecond: null });
  const sandboxUrl = await sandbox.listen(0, '127.0.0.1');
  const env: Env = { ...services.env, GRAPH_API_BASE_URL: sandboxUrl, DELIVERY_RETRY_BASE_MS: '50', ...extraEnv };
  const ingest = await startIngest(loadIngestConfig(env));
  await fetch(`${sandboxUrl}/__sandbox/webhook`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: `${ingest.url}/webhooks/messenger` }),
  });
  const stack: Stack = {
    services,
    sandbox,
    sandboxUrl,
    ingest,
    worker: null,
    env,
    db: ingest.deps.db,
    async startWorker(workerEnv: Env = {}) {
      stack.worker = await startWorker(loadWorkerConfig({ ...env, ...workerEnv }));
      return stack.worker;
    },
    async api(method, path, body) {
      const response = await fetch(`${ingest.url}${path}`, {
        method,
        headers: { authorization: 'Bearer demo-api-key', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: await response.json().catch(() => null) };
    },
    async control(method, path, body) {
      const response = await fetch(`${sandboxUrl}/__sandbox${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = await response.json().catch(() => null);
      if (!response.ok) throw new Error(`sandbox ${method} ${path} → ${response.status}: ${JSON.stringify(json)}`);
      return json;
    },
    async close() {
      await stack.worker?.close();
      await ingest.close();
      await sandbox.close();
      await services.cleanup();
    },
  };
  await stack.control('POST', '/pages', { ...TEST_PAGE, sendRatePerSecond: null });
  const created = await createPage(ingest.deps.db, ingest.deps.secrets, { ...TEST_PAGE, sendRatePerSec: 100_000 });
  if (!created.created) throw new Error('test page already exists');
  if (withWorker) await stack.startWorker();
  return stack;
}

export interface SeededToken {
  optInId: string;
  psid: string;
}

/**
 * Issues `count` tokens in the sandbox (so Meta knows them) and stores the same tokens in Renotify's
 * database directly, as the webhook intake would: the pipeline tests start from stored tokens.
 */
export async function seedTokens(
  stack: Stack,
  options: { kind: 'ONE_TIME' | 'RECURRING'; topic: string; count: number; frequency?: 'DAILY' | 'WEEKLY' | 'MONTHLY'; psidPrefix: string; pageId?: string },
): Promise<SeededToken[]> {
  const pageId = options.pageId ?? TEST_PAGE.id;
  const issued: { tokens: Array<{ psid: string; token: string }> } = await stack.control('POST', `/pages/${pageId}/tokens/bulk`, {
    count: options.count,
    kind: options.kind,
    payload: options.topic,
    psidPrefix: options.psidPrefix,
    ...(options.frequency ? { frequency: options.frequency } : {}),
  });
  const psids = issued.tokens.map((t) => t.psid);
  const { rows } = await stack.db.pool.query<{ id: string; psid: string }>(
    `WITH subs AS (
       INSERT INTO "Subscriber" ("pageId", psid, "updatedAt") SELECT $1, unnest($2::text[]), now()
       ON CONFLICT ("pageId", psid) DO UPDATE SET "updatedAt" = now() RETURNING id, psid
     ), optins AS (
       INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, token, "tokenFingerprint", frequency, status, "statusAt", "updatedAt")
       SELECT $1, subs.id, $4::"OptInKind", $5, t.token, 'fp_' || left(md5(t.token), 12), $6::"Frequency", 'ACTIVE', now(), now()
       FROM unnest($2::text[], $3::text[]) AS t(psid, token) JOIN subs ON subs.psid = t.psid
       RETURNING id, "subscriberId"
     )
     SELECT optins.id, subs.psid FROM optins JOIN subs ON subs.id = optins."subscriberId"`,
    [pageId, psids, issued.tokens.map((t) => t.token), options.kind, options.topic, options.kind === 'RECURRING' ? (options.frequency ?? 'DAILY') : null],
  );
  return rows.map((row) => ({ optInId: row.id, psid: row.psid }));
}

/** Every message the sandbox accepted for a Page (the test Page by default), by PSID. */
export async function messagesByPsid(stack: Stack, pageId = TEST_PAGE.id): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let after = 0;
  for (;;) {
    const page: { messages: Array<{ psid?: string }>; nextAfter?: number } = await stack.control('GET', `/pages/${pageId}/messages?limit=200000&after=${after}`);
    for (const message of page.messages) if (message.psid) counts.set(message.psid, (counts.get(message.psid) ?? 0) + 1);
    if (page.nextAfter === undefined) break;
    after = page.nextAfter;
  }
  return counts;
}

export async function deliveryCounts(db: Database, sourceId: string): Promise<Record<string, number>> {
  const { rows } = await db.pool.query<{ key: string; n: number }>(
    `SELECT status || COALESCE(':' || "skipReason", '') AS key, count(*)::int AS n FROM "Delivery" WHERE "sourceId" = $1 GROUP BY 1`,
    [sourceId],
  );
  return Object.fromEntries(rows.map((row) => [row.key, row.n]));
}

/** True once every delivery of the source is final (nothing PENDING or SENDING). */
export async function allFinal(db: Database, sourceId: string): Promise<boolean> {
  const { rows } = await db.pool.query<{ open: number; total: number }>(
    `SELECT count(*) FILTER (WHERE status IN ('PENDING', 'SENDING'))::int AS open, count(*)::int AS total FROM "Delivery" WHERE "sourceId" = $1`,
    [sourceId],
  );
  return rows[0]!.total > 0 && rows[0]!.open === 0;
}
