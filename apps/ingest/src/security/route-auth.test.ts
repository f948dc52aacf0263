import { request as httpRequest } from 'node:http';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { createLogger } from '@renotify/observability';
import { createTestServices, type TestServices } from '@renotify/testing';
import { buildIngestApp } from '../app.js';
import { closeIngestDeps, createIngestDeps, type IngestDeps } from '../deps.js';

/**
 * The only routes reachable without an API key. A route added anywhere else without authentication fails
 * this test, whatever its path.
 */
const PUBLIC_ROUTES = new Set([
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /webhooks/messenger',
  'POST /webhooks/messenger',
  // The API description and its Swagger UI (README "API reference": public on purpose, they hold no data).
  'GET /openapi.json',
  'GET /docs',
  'HEAD /docs/', // swagger-ui's redirect helper registers only the HEAD of the trailing-slash spelling
  'GET /docs/json',
  'GET /docs/yaml',
  'GET /docs/static/index.html',
  'GET /docs/static/swagger-initializer.js',
  'GET /docs/static/*',
]);

interface Answer {
  status: number;
  body: string;
}

/** Raw HTTP, so the path goes out byte for byte (fetch and inject would normalise `/./`, `..` and case). */
function send(base: URL, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: base.hostname, port: base.port, method, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    // A request line Node's HTTP parser refuses (e.g. a path not starting with "/") never reaches the router.
    req.on('error', (error: NodeJS.ErrnoException) =>
      /socket hang up|ECONNRESET|HPE_/.test(`${error.code ?? ''} ${error.message}`) ? resolve({ status: 0, body: `${error.message}: ${path}` }) : reject(error),
    );
    req.end();
  });
}

/** A concrete path for a route pattern: every parameter and wildcard filled with a harmless value. */
const concretePath = (url: string) => url.replace(/:[A-Za-z0-9_]+/g, 'x').replace(/\*/g, 'x');

const encodeLetters = (segment: string) => segment.replace(/[A-Za-z0-9]/g, (char) => `%${char.charCodeAt(0).toString(16)}`);

/** Spellings of one path that a naive prefix check would not recognise, or that proxies rewrite. */
function pathVariants(path: string): string[] {
  const [first = '', ...rest] = path.slice(1).split('/');
  const tail = rest.length ? `/${rest.join('/')}` : '';
  return [
    `/${encodeLetters(first)}${tail}`, // /%76%31/pages
    `/${first}/${rest.map(encodeLetters).join('/')}`, // /v1/%70%61%67%65%73
    encodeLetters(path), // every letter encoded
    `/${first}%2F${rest.join('%2F')}`, // encoded slashes
    `/${first}%2f${rest.join('%2f')}`,
    `%2F${path.slice(1)}`,
    `/${first.toUpperCase()}${tail}`, // mixed case
    `/${first[0]?.toUpperCase() ?? ''}${first.slice(1)}${tail.toUpperCase()}`,
    `/${path}`, // double slashes
    `/${first}/${tail}`,
    `${path}/`, // trailing slash
    `/./${path.slice(1)}`, // dot segments
    `/${first}/.${tail}`,
    `/${first}/../${first}${tail}`,
    `/x/..${path}`,
    `${path};`, // ; suffixes (matrix parameters)
    `${path};jsessionid=1`,
    `/${first};${tail}`,
    `${path}?x=1`,
    `${path}#frag`,
    `${path}%00`,
    `${path}%20`,
  ];
}

const SPOOFING_HEADERS = ['x-forwarded-prefix', 'x-original-url', 'x-rewrite-url', 'x-forwarded-uri', 'x-forwarded-path'];

describe('authentication by route registration', () => {
  let services: TestServices;
  let deps: IngestDeps;
  let app: FastifyInstance;
  let base: URL;
  const routes: Array<Pick<RouteOptions, 'method' | 'url'>> = [];

  beforeAll(async () => {
    services = await createTestServices('ingestrouteauth');
    deps = createIngestDeps(loadIngestConfig(services.env), createLogger({ name: 'ingest', level: 'silent' }));
    app = await buildIngestApp(deps, { onRoute: (route) => routes.push({ method: route.method, url: route.url }) });
    base = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
  });
  afterAll(async () => {
    await app?.close();
    if (deps) await closeIngestDeps(deps);
    await services?.cleanup();
  });

  const table = () =>
    routes.flatMap(({ method, url }) => (Array.isArray(method) ? method : [method]).map((verb) => ({ method: String(verb), url: String(url) })));
  const isPublic = (method: string, url: string) => PUBLIC_ROUTES.has(`${method} ${url}`) || PUBLIC_ROUTES.has(`${method === 'HEAD' ? 'GET' : method} ${url}`);

  it('reads a route table that holds the API, Bull Board and every public route', () => {
    const keys = new Set(table().map(({ method, url }) => `${method} ${url}`));
    for (const route of PUBLIC_ROUTES) expect(keys, route).toContain(route);
    expect(keys).toContain('GET /v1/pages');
    expect(keys).toContain('PATCH /v1/pages/:id');
    expect(keys).toContain('GET /v1/dead-letters');
    expect([...keys].some((key) => key.startsWith('GET /admin/queues'))).toBe(true);
  });

  it('public routes answer without a key', async () => {
    for (const { method, url } of table().filter((route) => isPublic(route.method, route.url))) {
      expect((await send(base, method, url)).status, `${method} ${url}`).not.toBe(401);
    }
  });

  it('every other route answers 401 without a key, under every spelling of its path and with rewrite headers', async () => {
    const protectedRoutes = table().filter((route) => !isPublic(route.method, route.url));
    expect(protectedRoutes.length).toBeGreaterThan(30);
    const reached: string[] = [];
    for (const { method, url } of protectedRoutes) {
      const path = concretePath(url);
      const exact = await send(base, method, path);
      if (exact.status !== 401) reached.push(`${method} ${path} -> ${exact.status}`);
      for (const header of SPOOFING_HEADERS) {
        for (const value of ['/healthz', '/webhooks/messenger', '/']) {
          const spoofed = await send(base, method, path, { [header]: value });
          if (spoofed.status !== 401) reached.push(`${method} ${path} [${header}: ${value}] -> ${spoofed.status}`);
        }
      }
      for (const variant of pathVariants(path)) {
        const answer = await send(base, method, variant);
        // 401, or the router's own 404 (no handler at all for that spelling; HEAD answers carry no body).
        const routerNotFound = answer.status === 404 && (method === 'HEAD' || answer.body.includes('No route for'));
        const refusedByParser = answer.status === 0 || (answer.status === 400 && answer.body.includes('Bad Request'));
        if (answer.status !== 401 && !routerNotFound && !refusedByParser) reached.push(`${method} ${variant} -> ${answer.status} ${answer.body.slice(0, 120)}`);
      }
    }
    expect(reached).toEqual([]);
  });

  it('rewrite headers on a public path do not reach a protected handler', async () => {
    for (const header of SPOOFING_HEADERS) {
      const answer = await send(base, 'GET', '/healthz', { [header]: '/v1/pages' });
      expect(JSON.parse(answer.body)).toEqual({ status: 'ok' });
    }
  });

  it('unknown paths under /v1 and /admin answer 401 without a key and 404 with one', async () => {
    for (const path of ['/v1/nothing-here', '/v1/', '/v1', '/admin/nothing', '/%76%31/nothing']) {
      expect((await send(base, 'GET', path)).status, path).toBe(401);
      expect((await send(base, 'GET', path, { authorization: `Bearer ${DEMO_API_KEY}` })).status, path).toBe(404);
    }
  });

  it('the key opens the encoded spelling too (it is the same route)', async () => {
    const answer = await send(base, 'GET', '/%76%31/pages', { authorization: `Bearer ${DEMO_API_KEY}` });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ items: [], nextCursor: null });
  });
});
