import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { registerBullBoard } from './admin/board.js';
import { registerApiDocs } from './api-docs.js';
import { adminAuth, bearerAuth } from './auth.js';
import type { IngestDeps } from './deps.js';
import { errorHandler, refuseUnstorableStrings, RETRY_AFTER_SECONDS } from './http-errors.js';
import { registerIdempotency } from './idempotency.js';
import { healthRoutes } from './routes/health.js';
import { apiRoutes, publicRoutes } from './routes/index.js';
import { registerIngestMetrics } from './routes/metrics.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The exact bytes received, for webhook signature checks. */
    rawBody?: Buffer;
  }
}

export interface IngestAppOptions {
  /** Called for every route as it is registered (tests read the route table through it). */
  onRoute?: (route: RouteOptions) => void;
}

/** The API contract's version (info.version of the OpenAPI document). */
export const API_VERSION = '1.0.0';

type Authenticate = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

const notFoundHandler = (request: FastifyRequest, reply: FastifyReply) =>
  reply.status(404).send({ error: { code: 'not_found', message: `No route for ${request.method} ${request.url.split('?')[0]}` } });

/**
 * Authentication belongs to where routes are registered, never to how a URL is spelt: every route registered
 * inside this scope runs `authenticate` first, whatever path spelling the router resolved to it (percent-encoding,
 * `/./`, …). With a `prefix`, the scope also answers unknown paths under it (after authenticating, so an
 * unauthenticated caller learns nothing about which paths exist).
 */
async function registerAuthenticated(
  app: FastifyInstance,
  authenticate: Authenticate,
  register: (scope: FastifyInstance) => Promise<void>,
  prefix?: string,
): Promise<void> {
  await app.register(
    async (scope) => {
      scope.addHook('onRequest', authenticate);
      if (prefix !== undefined) scope.setNotFoundHandler(notFoundHandler);
      await register(scope);
    },
    prefix === undefined ? {} : { prefix },
  );
}

/**
 * Path rules (deliberate, and what the route-table auth test checks): routing is case-sensitive, a trailing slash
 * or a doubled slash is a different (unknown) path, and `;` is an ordinary character. So `/V1/pages`,
 * `//v1/pages` and `/v1%2Fpages` reach no handler at all (404 with or without a key), `/v1/pages/` and
 * `/v1/pages;x` are unknown paths under /v1 (401 without a key), and `/%76%31/pages` is `/v1/pages` (401).
 */
export async function buildIngestApp(deps: IngestDeps, options: IngestAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.config.BODY_LIMIT_BYTES,
    // No log line per request: ingest is a hot path; state changes are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    routerOptions: { caseSensitive: true, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false },
  });
  if (options.onRoute) app.addHook('onRoute', options.onRoute);
  // Keep the raw bytes: Meta signs exactly what it sent, and re-serialised JSON would not match.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    request.rawBody = body as Buffer;
    if ((body as Buffer).length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse((body as Buffer).toString('utf8')));
    } catch {
      const error = new Error('Body is not valid JSON') as Error & { statusCode: number; code: string };
      error.statusCode = 400;
      error.code = 'invalid_json';
      done(error, undefined);
    }
  });
  // Route schemas are zod: they validate requests, serialise responses and make the OpenAPI document.
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  await registerApiDocs(app, API_VERSION);
  // Convention: every 429 and 503, whoever answers it (a route, the error handler, a probe), says when to retry.
  app.addHook('onSend', async (_request, reply, payload) => {
    if ((reply.statusCode === 429 || reply.statusCode === 503) && !reply.hasHeader('retry-after')) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
    return payload;
  });

  // Public: probes, the Prometheus scrape, and Meta's webhooks (authenticated by signature).
  await app.register(healthRoutes, { deps });
  registerIngestMetrics(app, deps);
  for (const routes of publicRoutes) await app.register(routes, { deps });

  const authenticate = bearerAuth(deps.config.API_KEYS);
  // The API routes declare their full /v1/... paths; the prefixed scope only answers unknown /v1 paths.
  await registerAuthenticated(app, authenticate, async (scope) => {
    // Before the schema: a NUL or lone surrogate anywhere in the request is refused, whatever the field.
    scope.addHook('preValidation', refuseUnstorableStrings);
    registerIdempotency(scope, deps.redis, deps.config.QUEUE_PREFIX);
    for (const routes of apiRoutes) await scope.register(routes, { deps });
  });
  await registerAuthenticated(app, authenticate, async () => undefined, '/v1');
  // The browser-facing part (Bull Board): HTTP Basic with the API key as password works there too.
  await registerAuthenticated(app, adminAuth(deps.config.API_KEYS), (scope) => registerBullBoard(scope, deps), '/admin');
  return app;
}
