import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WorkerMetrics } from '@renotify/observability';
import type { ExtraRoute } from '../http.js';
import { backlogBody, type BacklogSampler } from './backlog.js';

/** The worker listener's paths. Probes, Prometheus annotations and the KEDA trigger are tested against these. */
export const WorkerRoute = {
  healthz: '/healthz',
  readyz: '/readyz',
  metrics: '/metrics',
  backlog: '/metrics/backlog',
} as const;

const pathOf = (request: IncomingMessage) => request.url?.split('?')[0];

/** GET /metrics (Prometheus text) and GET /metrics/backlog (JSON for KEDA's metrics-api scaler). */
export function metricsRoutes(metrics: WorkerMetrics, sampler: BacklogSampler): ExtraRoute[] {
  return [
    async (request: IncomingMessage, response: ServerResponse) => {
      if (request.method !== 'GET' || pathOf(request) !== WorkerRoute.metrics) return false;
      const body = await metrics.registry.metrics();
      response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
      return true;
    },
    async (request: IncomingMessage, response: ServerResponse) => {
      if (request.method !== 'GET' || pathOf(request) !== WorkerRoute.backlog) return false;
      try {
        const body = backlogBody(await sampler.read());
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      } catch {
        // KEDA counts failures and falls back to its configured replicas; a made-up 0 would scale in.
        response.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'backlog_unavailable', message: 'Redis did not answer' } }));
      }
      return true;
    },
  ];
}
