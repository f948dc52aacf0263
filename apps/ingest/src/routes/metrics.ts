import type { FastifyInstance } from 'fastify';
import type { IngestMetrics } from '@renotify/observability';
import type { IngestDeps } from '../deps.js';

export const METRICS_PATH = '/metrics';
const WEBHOOK_PATH = '/webhooks/messenger';

/** The webhook route's answer, as a verdict label. Finer verdicts (duplicate, unknown Page) all answer 200 to Meta. */
function webhookVerdict(statusCode: number): string {
  if (statusCode < 300) return 'accepted';
  if (statusCode === 401) return 'invalid_signature';
  if (statusCode === 403) return 'verification_refused';
  if (statusCode < 500) return 'invalid';
  return 'error';
}

/**
 * GET /metrics (no API key, like /healthz: scrape it from inside the cluster only) and the webhook counter.
 * Registered on the root instance, not as an encapsulated plugin, so the onResponse hook sees every route.
 */
export function registerIngestMetrics(app: FastifyInstance, deps: IngestDeps): void {
  app.get(METRICS_PATH, async (_request, reply) => {
    const body = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(body);
  });
  app.addHook('onResponse', async (request, reply) => {
    if (request.routeOptions.url !== WEBHOOK_PATH) return;
    deps.metrics.webhooksReceived.inc({ kind: request.method === 'GET' ? 'verification' : 'callback', verdict: webhookVerdict(reply.statusCode) });
  });
}

/**
 * Counts a stored batch by event type: ids the database newly stored are `accepted`, the rest `duplicate`.
 * Returns `result` unchanged so the route can count inline.
 */
export function countIngestedEvents<T extends { accepted: readonly string[] }>(metrics: IngestMetrics, events: ReadonlyArray<{ id: string; type: string }>, result: T): T {
  const accepted = new Set(result.accepted);
  const seen = new Set<string>();
  // Counted per (type, result) first: one labelled inc() per pair instead of one per event (labels are hashed on each call).
  const counts = new Map<string, { type: string; result: 'accepted' | 'duplicate'; n: number }>();
  for (const event of events) {
    if (seen.has(event.id)) continue;
    seen.add(event.id);
    const outcome = accepted.has(event.id) ? 'accepted' : 'duplicate';
    const key = `${event.type}/${outcome}`;
    const count = counts.get(key);
    if (count) count.n++;
    else counts.set(key, { type: event.type, result: outcome, n: 1 });
  }
  for (const { type, result: outcome, n } of counts.values()) metrics.eventsIngested.inc({ type, result: outcome }, n);
  return result;
}
