import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from './index.js';

describe('ingest foundation', () => {
  let services: TestServices;
  let ingest: RunningIngest;

  beforeAll(async () => {
    services = await createTestServices('ingestfoundation');
    ingest = await startIngest(loadIngestConfig(services.env));
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  it('answers liveness and readiness with Redis and Postgres checked', async () => {
    expect(await (await fetch(`${ingest.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${ingest.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { redis: true, postgres: true } });
  });

  it('reports not ready when Redis is unreachable', async () => {
    const broken = await startIngest(loadIngestConfig({ ...services.env, REDIS_URL: 'redis://127.0.0.1:1' }));
    try {
      const ready = await fetch(`${broken.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'not_ready', checks: { redis: false, postgres: true } });
    } finally {
      await broken.close();
    }
  });

  it('requires a valid API key on API routes', async () => {
    const missing = await fetch(`${ingest.url}/v1/anything`);
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/Bearer/);
    const wrong = await fetch(`${ingest.url}/v1/anything`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${ingest.url}/v1/anything`, { headers: { authorization: `Bearer ${DEMO_API_KEY}` } });
    expect(right.status).toBe(404);
  });

  it('shuts down gracefully on SIGTERM: exits 0 after closing', async () => {
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', main], {
      env: { ...process.env, ...services.env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ingest did not start: ${output}`)), 20_000);
      child.stdout.on('data', () => {
        const match = /"url":"(http:[^"]+)"/.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('shutdown complete');
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
