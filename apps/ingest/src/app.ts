import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { registerBullBoard } from './admin/board.js';
import { adminAuth, bearerAuth } from './auth.js';
import type { IngestDeps } from './deps.js';
import { errorHandler } from './http-errors.js';
import { healthRoutes } from './routes/health.js';
import { apiRoutes, publicRoutes } from './routes/index.js';
import { registerIngestMetrics } from './routes/metrics.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The exact bytes received, for webhook signature checks. */
    rawBody?: Buffer;
  }
}

/** Everything under these prefixes needs an API key. */
const API_PATH = /^\/(v1|admin)(\/|\?|$)/;
/** The browser-facing part (Bull Board): HTTP Basic with the API key as password works there too. */
const ADMIN_UI_PATH = /^\/admin(\/|\?|$)/;

export async function buildIngestApp(deps: IngestDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.config.BODY_LIMIT_BYTES,
    // No log line per request: ingest is a hot path; state changes are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
  });
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
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'not_found', message: `No route for ${request.method} ${request.url.split('?')[0]}` } }),
  );

  await app.register(healthRoutes, { deps });
  registerIngestMetrics(app, deps);
  for (const routes of publicRoutes) await app.register(routes, { deps });
  // By path prefix rather than per plugin, so unknown API paths answer 401 too and reveal nothing.
  const authenticate = bearerAuth(deps.config.API_KEYS);
  const authenticateAdmin = adminAuth(deps.config.API_KEYS);
  app.addHook('onRequest', async (request, reply) => {
    if (ADMIN_UI_PATH.test(request.url)) await authenticateAdmin(request, reply);
    else if (API_PATH.test(request.url)) await authenticate(request, reply);
  });
  for (const routes of apiRoutes) await app.register(routes, { deps });
  await registerBullBoard(app, deps);
  return app;
}
