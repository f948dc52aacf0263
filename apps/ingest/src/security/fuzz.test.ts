import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { signPayload } from '@renotify/messenger';
import { createLogger } from '@renotify/observability';
import { createTestServices, type TestServices } from '@renotify/testing';
import { buildIngestApp } from '../app.js';
import { closeIngestDeps, createIngestDeps, type IngestDeps } from '../deps.js';

/** Bounded so CI stays fast: a few hundred cases per route, in-process (app.inject), real Postgres and Redis. */
const RUNS = 200;
const PAGE = '717171';
const APP_SECRET = 'fuzz-app-secret';
const auth = { authorization: `Bearer ${DEMO_API_KEY}` };

/** Strings with the characters that used to hurt: NUL, lone surrogates, astral characters, control characters. */
const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('\u0000', '\uD800', '\uDC00', '😀', 'a', '%', '/', '.', ';', '\\', '"', '\n'), maxLength: 20 }),
  fc.constantFrom('', '0000-01-01T00:00:00Z', '+275760-09-13T00:00:00.000Z', 'NaN', '-1', '1e309', '9'.repeat(40)),
);
const jsonish = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, nasty, fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(nasty, tie('value'), { maxKeys: 4 })),
})).value;
/** Valid-looking events with one field swapped for something nasty. */
const mutatedEvent = fc.record({
  field: fc.constantFrom('id', 'pageId', 'topic', 'text', 'type', 'template', 'vars', 'message', 'occurredAt', 'priority', 'extra'),
  value: jsonish,
}).map(({ field, value }) => ({ id: 'fuzz', type: 'custom', pageId: PAGE, topic: 'deals', text: 'Sale', [field]: value }));
/** Percent-encodes UTF-8 bytes (lone surrogates become U+FFFD, as any HTTP client would send them). */
const urlPart = (text: string) => [...Buffer.from(text, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');

describe('fuzzed input never causes a 5xx', () => {
  let services: TestServices;
  let deps: IngestDeps;
  let app: FastifyInstance;
  const statuses = new Map<string, number>();

  const expectNo5xx = async (route: string, request: InjectOptions) => {
    const response = await app.inject(request);
    statuses.set(`${route} ${response.statusCode}`, (statuses.get(`${route} ${response.statusCode}`) ?? 0) + 1);
    if (response.statusCode >= 500) throw new Error(`${route} answered ${response.statusCode}: ${response.body}`);
  };

  beforeAll(async () => {
    services = await createTestServices('ingestfuzz');
    deps = createIngestDeps(loadIngestConfig(services.env), createLogger({ name: 'ingest', level: 'silent' }));
    app = await buildIngestApp(deps);
    const created = await app.inject({ method: 'POST', url: '/v1/pages', headers: auth, payload: { id: PAGE, name: 'Fuzz', accessToken: 'a', appSecret: APP_SECRET } });
    expect(created.statusCode).toBe(201);
  });
  afterAll(async () => {
    await app?.close();
    if (deps) await closeIngestDeps(deps);
    await services?.cleanup();
  });

  it('POST /v1/events with fuzzed bodies and mutated events', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutatedEvent, fc.array(mutatedEvent, { maxLength: 3 }), jsonish), async (body) => {
        await expectNo5xx('POST /v1/events', { method: 'POST', url: '/v1/events', headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify(body) ?? 'null' });
      }),
      { numRuns: RUNS },
    );
  });

  it('GET /v1/events/:id and its cursor', async () => {
    await fc.assert(
      fc.asyncProperty(nasty, nasty, async (id, cursor) => {
        await expectNo5xx('GET /v1/events/:id', { method: 'GET', url: `/v1/events/${urlPart(id || 'x')}?cursor=${urlPart(cursor)}`, headers: auth });
      }),
      { numRuns: RUNS },
    );
  });

  it('GET /v1/dead-letters with fuzzed and base64url-encoded cursors, kinds and limits', async () => {
    const cursor = fc.oneof(nasty, fc.tuple(nasty, nasty).map((pair) => Buffer.from(JSON.stringify(pair)).toString('base64url')));
    await fc.assert(
      fc.asyncProperty(cursor, nasty, nasty, async (at, kind, limit) => {
        await expectNo5xx('GET /v1/dead-letters', { method: 'GET', url: `/v1/dead-letters?cursor=${urlPart(at)}&kind=${urlPart(kind)}&limit=${urlPart(limit)}`, headers: auth });
      }),
      { numRuns: RUNS },
    );
  });

  it('GET /v1/pages/:id/optins and subscribers with fuzzed path and query parameters', async () => {
    await fc.assert(
      fc.asyncProperty(nasty, nasty, nasty, async (page, psid, topic) => {
        await expectNo5xx('GET optins', { method: 'GET', url: `/v1/pages/${urlPart(page || PAGE)}/optins?psid=${urlPart(psid)}&topic=${urlPart(topic)}&cursor=${urlPart(topic)}`, headers: auth });
        await expectNo5xx('GET subscriber', { method: 'GET', url: `/v1/pages/${PAGE}/subscribers/${urlPart(psid || 'x')}`, headers: auth });
      }),
      { numRuns: RUNS },
    );
  });

  it('POST /webhooks/messenger with signed fuzzed bodies for a known Page', async () => {
    const body = fc.oneof(
      jsonish,
      fc.record({ object: fc.constant('page'), entry: fc.array(fc.record({ id: fc.constant(PAGE), messaging: fc.array(jsonish, { maxLength: 3 }) }), { minLength: 1, maxLength: 2 }) }),
      fc.record({ object: nasty, entry: fc.array(fc.record({ id: nasty }), { minLength: 1, maxLength: 2 }) }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (value) => {
        const raw = JSON.stringify(value) ?? 'null';
        await expectNo5xx('POST /webhooks/messenger', {
          method: 'POST',
          url: '/webhooks/messenger',
          headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(raw, APP_SECRET) },
          payload: raw,
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('POST /v1/pages and /v1/campaigns with fuzzed bodies', async () => {
    await fc.assert(
      fc.asyncProperty(jsonish, nasty, async (value, name) => {
        await expectNo5xx('POST /v1/pages', { method: 'POST', url: '/v1/pages', headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify({ id: 'fz', name, accessToken: value, appSecret: 's' }) });
        await expectNo5xx('POST /v1/campaigns', {
          method: 'POST',
          url: '/v1/campaigns',
          headers: { ...auth, 'content-type': 'application/json' },
          payload: JSON.stringify({ pageId: PAGE, name, topic: name, message: value, schedule: { localTime: '09:00' } }),
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('the process still serves after all of it', async () => {
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    expect([...statuses.keys()].some((key) => / 2\d\d$/.test(key))).toBe(true);
  });
});
