import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDatabaseReachable } from '@renotify/db';
import { isRedisReachable } from '@renotify/queue';
import type { WorkerDeps } from './deps.js';
import type { Liveness } from './liveness.js';

export type ExtraRoute = (request: IncomingMessage, response: ServerResponse) => Promise<boolean>;

function sendJson(response: ServerResponse, status: number, body: unknown) {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** The worker's small listener: liveness, readiness, and whatever extra routes (metrics) are registered. */
export async function startWorkerHttp(deps: WorkerDeps, liveness: Liveness, extraRoutes: ExtraRoute[] = []): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    void (async () => {
      const path = request.url?.split('?')[0];
      if (path === '/healthz') {
        const status = liveness.status();
        return sendJson(response, status.alive ? 200 : 503, { status: status.alive ? 'ok' : 'stale', ...status });
      }
      if (path === '/readyz') {
        const [redis, postgres] = await Promise.all([isRedisReachable(deps.redis), isDatabaseReachable(deps.db.pool)]);
        return sendJson(response, redis && postgres ? 200 : 503, { status: redis && postgres ? 'ready' : 'not_ready', checks: { redis, postgres } });
      }
      for (const route of extraRoutes) if (await route(request, response)) return;
      sendJson(response, 404, { error: { code: 'not_found', message: `No route for ${request.method} ${path}` } });
    })().catch((error: unknown) => {
      deps.logger.error({ err: error }, 'worker http handler failed');
      if (!response.headersSent) sendJson(response, 500, { error: { code: 'internal', message: 'internal error' } });
    });
  });
  await new Promise<void>((resolve) => server.listen(deps.config.WORKER_PORT, deps.config.WORKER_HOST, resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://${deps.config.WORKER_HOST}:${port}` };
}
