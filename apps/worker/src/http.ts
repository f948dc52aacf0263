import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDatabaseReachable } from '@renotify/db';
import { isRedisReachable } from '@renotify/queue';
import type { WorkerDeps } from './deps.js';
import type { Liveness } from './liveness.js';
import type { SchedulerHealth } from './schedulers.js';

export type ExtraRoute = (request: IncomingMessage, response: ServerResponse) => Promise<boolean>;

/** What the probes report on. */
export interface WorkerHealth {
  liveness: Liveness;
  /** The job schedulers the worker relies on (sweeper, reconciliations); absent when it needs none. */
  schedulers?: () => SchedulerHealth;
  /** False until the worker consumes its queues (the port is bound first). */
  consuming: () => boolean;
}

/** Thrown when the listener cannot bind; the message says which variable to change. */
export class WorkerPortError extends Error {
  override name = 'WorkerPortError';
}

function sendJson(response: ServerResponse, status: number, body: unknown) {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/**
 * The worker's small listener: liveness, readiness, and whatever extra routes (metrics) are registered. It is
 * bound before the worker consumes anything, so a port conflict stops the start before a job is taken.
 */
export async function startWorkerHttp(deps: WorkerDeps, health: WorkerHealth, extraRoutes: ExtraRoute[] = []): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    void (async () => {
      const path = request.url?.split('?')[0];
      if (path === '/healthz') {
        const status = health.liveness.status();
        const schedulers = health.schedulers?.();
        const alive = status.alive && (schedulers?.ok ?? true);
        const label = !status.alive ? 'stale' : alive ? 'ok' : 'schedulers_missing';
        return sendJson(response, alive ? 200 : 503, { status: label, ...status, alive, ...(schedulers ? { schedulers } : {}) });
      }
      if (path === '/readyz') {
        const [redis, postgres] = await Promise.all([isRedisReachable(deps.redis), isDatabaseReachable(deps.db)]);
        const schedulers = health.schedulers?.();
        const checks = { redis, postgres, ...(schedulers ? { schedulers: schedulers.ok } : {}) };
        const ready = health.consuming() && Object.values(checks).every(Boolean);
        const status = ready ? 'ready' : health.consuming() ? 'not_ready' : 'starting';
        if (!ready) response.setHeader('retry-after', '5');
        return sendJson(response, ready ? 200 : 503, { status, checks });
      }
      for (const route of extraRoutes) if (await route(request, response)) return;
      sendJson(response, 404, { error: { code: 'not_found', message: `No route for ${request.method} ${path}` } });
    })().catch((error: unknown) => {
      deps.logger.error({ err: error }, 'worker http handler failed');
      if (!response.headersSent) sendJson(response, 500, { error: { code: 'internal', message: 'internal error' } });
    });
  });
  const { WORKER_PORT: port, WORKER_HOST: host } = deps.config;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === 'EADDRINUSE'
          ? `WORKER_PORT ${port} on ${host} is already in use (EADDRINUSE): stop the other process or set WORKER_PORT to a free port`
          : `cannot listen on WORKER_HOST ${host}, WORKER_PORT ${port}: ${error.message}`;
      reject(new WorkerPortError(reason, { cause: error }));
    });
    server.listen(port, host, resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  return { server, url: `http://${host}:${bound}` };
}
