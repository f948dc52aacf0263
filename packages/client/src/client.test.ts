import { readFile } from 'node:fs/promises';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { startIngest, type RunningIngest } from '@renotify/ingest';
import { createTestServices, type TestServices } from '@renotify/testing';
import { createRenotifyClient, type RenotifyClient } from './index.js';

describe('@renotify/client against a real ingest', () => {
  let services: TestServices;
  let ingest: RunningIngest;
  let renotify: RenotifyClient;

  beforeAll(async () => {
    services = await createTestServices('clientpkg');
    ingest = await startIngest(loadIngestConfig(services.env));
    renotify = createRenotifyClient({ baseUrl: ingest.url, apiKey: DEMO_API_KEY });
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  it('src/schema.ts is what openapi-typescript makes of openapi.json (run pnpm generate after the spec changes)', async () => {
    const spec = JSON.parse(await readFile(new URL('../openapi.json', import.meta.url), 'utf8'));
    const generated = astToString(await openapiTS(spec));
    const committed = await readFile(new URL('./schema.ts', import.meta.url), 'utf8');
    // The CLI adds a banner; compare the declarations.
    expect(committed.slice(committed.indexOf('export interface paths'))).toBe(generated.slice(generated.indexOf('export interface paths')));
  });

  it('registers, pages through and reads Pages with typed calls, and surfaces the one error body', async () => {
    for (const n of [1, 2, 3]) {
      const { data, response } = await renotify.POST('/v1/pages', {
        body: { id: `70000000000000${n}`, name: `Client Shop ${n}`, accessToken: `token-${n}`, appSecret: `secret-${n}` },
        headers: { 'idempotency-key': `client-page-${n}` },
      });
      expect(response.status).toBe(201);
      expect(data?.id).toBe(`70000000000000${n}`);
    }
    const first = await renotify.GET('/v1/pages', { params: { query: { limit: 2 } } });
    expect(first.data?.items.map((page) => page.id)).toEqual(['700000000000001', '700000000000002']);
    const cursor = first.data?.nextCursor ?? undefined;
    const second = await renotify.GET('/v1/pages', { params: { query: { limit: 2, cursor } } });
    expect(second.data).toMatchObject({ items: [{ id: '700000000000003' }], nextCursor: null });

    const one = await renotify.GET('/v1/pages/{id}', { params: { path: { id: '700000000000002' } } });
    expect(one.data?.name).toBe('Client Shop 2');

    const missing = await renotify.GET('/v1/pages/{id}', { params: { path: { id: '404' } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error?.error.code).toBe('not_found');
    const invalid = await renotify.PATCH('/v1/pages/{id}', { params: { path: { id: '700000000000001' } }, body: { sendRatePerSec: 0 } });
    expect(invalid.error?.error.details?.[0]?.path).toBe('sendRatePerSec');
  });
});
