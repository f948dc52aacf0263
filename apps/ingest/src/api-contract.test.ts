import { readFile, writeFile } from 'node:fs/promises';
import { validate, compileErrors } from '@readme/openapi-parser';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIngestConfig } from '@renotify/config';
import { createLogger } from '@renotify/observability';
import { createTestServices, type TestServices } from '@renotify/testing';
import { buildIngestApp } from './app.js';
import { closeIngestDeps, createIngestDeps, type IngestDeps } from './deps.js';

/** The document @renotify/client is generated from; `UPDATE_OPENAPI=1` rewrites it from the running routes. */
const CLIENT_SPEC = new URL('../../../packages/client/openapi.json', import.meta.url);

/** POST routes that take no body at all (actions on the resource named by the path). */
const BODYLESS_ACTIONS = new Set([
  'POST /v1/admin/reencrypt-secrets',
  'POST /v1/pages/:id/reconcile',
  'POST /v1/campaigns/:id/pause',
  'POST /v1/campaigns/:id/resume',
  'POST /v1/pages/:id/subscribers/:psid/stop',
]);

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { responses?: Record<string, unknown>; security?: unknown[] }>>;
}

describe('the API contract (route schemas and GET /openapi.json)', () => {
  let services: TestServices;
  let deps: IngestDeps;
  let app: FastifyInstance;
  const routes: RouteOptions[] = [];

  beforeAll(async () => {
    services = await createTestServices('ingestcontract');
    deps = createIngestDeps(loadIngestConfig(services.env), createLogger({ name: 'ingest', level: 'silent' }));
    app = await buildIngestApp(deps, { onRoute: (route) => routes.push(route) });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    if (deps) await closeIngestDeps(deps);
    await services?.cleanup();
  });

  const v1Routes = () =>
    routes
      .filter((route) => route.url.startsWith('/v1/'))
      .flatMap((route) => (Array.isArray(route.method) ? route.method : [route.method]).map((method) => ({ method: String(method), route })))
      .filter(({ method }) => method !== 'HEAD');

  it('every /v1 route declares its responses, its path parameters and (when it takes one) its body', () => {
    expect(v1Routes().length).toBeGreaterThan(20);
    const missing: string[] = [];
    for (const { method, route } of v1Routes()) {
      const key = `${method} ${route.url}`;
      const schema = route.schema as { response?: Record<string, unknown>; params?: unknown; body?: unknown } | undefined;
      if (!schema) {
        missing.push(`${key}: no schema`);
        continue;
      }
      if (!Object.keys(schema.response ?? {}).some((status) => /^2\d\d$/.test(status))) missing.push(`${key}: no 2xx response`);
      if (!Object.keys(schema.response ?? {}).includes('4xx')) missing.push(`${key}: no 4xx (error) response`);
      if (route.url.includes(':') && !schema.params) missing.push(`${key}: no params`);
      if ((method === 'POST' || method === 'PATCH') && !schema.body && !BODYLESS_ACTIONS.has(key)) missing.push(`${key}: no body`);
    }
    expect(missing).toEqual([]);
  });

  it('GET /openapi.json is a valid OpenAPI 3.1 document covering every /v1 route, public and without a key', async () => {
    const answer = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(answer.statusCode).toBe(200);
    const document = answer.json<OpenApiDocument>();
    expect(document.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(document) as never);
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);

    const documented = new Set(
      Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`)),
    );
    const undocumented = v1Routes()
      .map(({ method, route }) => `${method} ${route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`)
      .filter((key) => !documented.has(key));
    expect(undocumented).toEqual([]);
    // Only the integrator-facing routes are described; the API ones need the bearer key, the webhook does not.
    expect([...documented].some((key) => key.includes('/admin/queues'))).toBe(false);
    expect(document.paths['/webhooks/messenger']?.post?.security).toEqual([]);
    expect(document.paths['/v1/pages']?.get?.responses).toHaveProperty('200');
  });

  it('the spec @renotify/client is generated from is the one the routes serve (UPDATE_OPENAPI=1 rewrites it)', async () => {
    const served = `${JSON.stringify((await app.inject({ method: 'GET', url: '/openapi.json' })).json(), null, 2)}\n`;
    if (process.env.UPDATE_OPENAPI === '1') await writeFile(CLIENT_SPEC, served);
    expect(await readFile(CLIENT_SPEC, 'utf8'), 'run UPDATE_OPENAPI=1 vitest run src/api-contract.test.ts, then pnpm --filter @renotify/client generate').toBe(served);
  });

  it('serves the API reference UI at /docs without a key', async () => {
    const answer = await app.inject({ method: 'GET', url: '/docs' });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toContain('text/html');
    expect((await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' })).statusCode).toBe(200);
  });
});
