import type { FastifyInstance } from 'fastify';
import { isDatabaseReachable } from '@renotify/db';
import { isRedisReachable } from '@renotify/queue';
import type { IngestDeps } from '../deps.js';

/** Liveness says the process serves requests; readiness says it can do its job (Redis and Postgres answer). */
export async function healthRoutes(app: FastifyInstance, { deps }: { deps: IngestDeps }) {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const [redis, postgres] = await Promise.all([isRedisReachable(deps.redis), isDatabaseReachable(deps.db)]);
    const ready = redis && postgres;
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks: { redis, postgres } });
  });
}
