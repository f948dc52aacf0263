import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServices, type Env, type TestServices } from '@renotify/testing';

const workerMain = fileURLToPath(new URL('./main.ts', import.meta.url));
const ingestMain = fileURLToPath(new URL('../../ingest/src/main.ts', import.meta.url));
const OWN_KEY = Buffer.alloc(32, 3).toString('base64');

/** Runs an app's real entry point to its exit; returns the exit code and everything it printed. */
async function run(main: string, env: Env, timeoutMs = 30_000): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', main], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += String(chunk)));
  child.stderr.on('data', (chunk) => (output += String(chunk)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, output };
}

describe('safe start (#10.6, #10.9, #12.4)', () => {
  let services: TestServices;
  let blocker: Server;
  let busyPort: number;

  beforeAll(async () => {
    services = await createTestServices('safestart');
    blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    busyPort = (blocker.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => blocker?.close(resolve));
    await services?.cleanup();
  });

  it('a worker whose port is taken exits 1 with a clear message, before consuming a single job', async () => {
    const queue = new Queue('events', { connection: { url: services.redis.url }, prefix: services.redis.prefix });
    try {
      await queue.add('fanout', { eventId: 'must-stay-queued' }, { jobId: 'must-stay-queued' });
      const { code, output } = await run(workerMain, { ...services.env, WORKER_PORT: String(busyPort), LOG_LEVEL: 'info' });
      expect(code).toBe(1);
      expect(output).toContain(`WORKER_PORT ${busyPort} on 127.0.0.1 is already in use (EADDRINUSE)`);
      expect(output).not.toMatch(/Unhandled|uncaught/i);
      expect(await queue.getJobState('must-stay-queued')).toBe('waiting');
      // Outside production the demo encryption key is allowed, but never silently.
      expect(output).toContain('ENCRYPTION_KEY is unset: Page secrets are encrypted with the public demo key');
    } finally {
      await queue.close();
    }
  }, 60_000);

  it('with NODE_ENV=production, the worker refuses the demo encryption key, naming the variable', async () => {
    const { code, output } = await run(workerMain, { ...services.env, NODE_ENV: 'production' });
    expect(code).toBe(1);
    expect(output).toContain('worker: refusing to start.');
    expect(output).toContain('ENCRYPTION_KEY: is the public demo key');
  }, 60_000);

  it('with NODE_ENV=production, the ingest refuses the demo API key, naming the variable', async () => {
    const { code, output } = await run(ingestMain, { ...services.env, NODE_ENV: 'production', ENCRYPTION_KEY: OWN_KEY, GRAPH_API_BASE_URL: 'https://graph.facebook.com' });
    expect(code).toBe(1);
    expect(output).toContain('API_KEYS: contains the public demo key "demo-api-key"');
  }, 60_000);
});
