import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric name Renotify exports. Dashboards, alerts and the KEDA/Prometheus manifests refer to these,
 * and a test checks the manifests against them, so rename here and nowhere else.
 */
export const MetricName = {
  eventsIngested: 'renotify_events_ingested_total',
  webhooksReceived: 'renotify_webhooks_received_total',
  deliveries: 'renotify_deliveries_total',
  deliveriesDeferred: 'renotify_deliveries_deferred_total',
  sendApiDuration: 'renotify_send_api_duration_seconds',
  sendApiErrors: 'renotify_send_api_errors_total',
  rateLimiterWaits: 'renotify_rate_limiter_waits_total',
  rateLimiterWaitSeconds: 'renotify_rate_limiter_wait_seconds_total',
  queueBacklog: 'renotify_queue_backlog',
  queueJobs: 'renotify_queue_jobs',
  queueBacklogAge: 'renotify_queue_backlog_sample_age_seconds',
  outboundWebhooks: 'renotify_outbound_webhooks_total',
  outboundWebhookDuration: 'renotify_outbound_webhook_duration_seconds',
  outboundWebhookBacklog: 'renotify_outbound_webhook_backlog',
} as const;

/** Job states sampled per queue. The backlog counts the first three: work not yet started. */
export const SAMPLED_JOB_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'failed'] as const;
export const BACKLOG_STATES = ['waiting', 'prioritized', 'delayed'] as const;
export type SampledJobState = (typeof SAMPLED_JOB_STATES)[number];

/** Per-queue job counts, as one process sampled them (see the worker's backlog sampler). */
export interface BacklogSnapshot {
  /** Epoch ms of the sample. */
  sampledAt: number;
  queues: Record<string, Record<SampledJobState, number>>;
}

export const backlogOf = (counts: Record<SampledJobState, number>) => BACKLOG_STATES.reduce((sum, state) => sum + counts[state], 0);

export interface MetricsOptions {
  /** Process-level metrics (CPU, heap, event-loop lag). Off in tests that start many apps in one process. */
  defaultMetrics?: boolean;
}

function newRegistry(service: string, { defaultMetrics = true }: MetricsOptions): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'renotify_process_' });
  return registry;
}

/**
 * The ingest's metrics. One registry per app instance (not prom-client's global one) so that tests which
 * run ingest and workers in one process still see each app's own numbers.
 */
export function createIngestMetrics(options: MetricsOptions = {}) {
  const registry = newRegistry('ingest', options);
  return {
    registry,
    /** Events newly accepted through the HTTP API (duplicates of an already-stored id are counted as `duplicate`). */
    eventsIngested: new Counter({
      name: MetricName.eventsIngested,
      help: 'Events accepted through POST /v1/events, by event type and result (accepted | duplicate)',
      labelNames: ['type', 'result'] as const,
      registers: [registry],
    }),
    /** Messenger webhook intake. kind: verification (GET) | callback (POST). */
    webhooksReceived: new Counter({
      name: MetricName.webhooksReceived,
      help: 'Messenger webhook requests, by kind (verification | callback) and verdict',
      labelNames: ['kind', 'verdict'] as const,
      registers: [registry],
    }),
  };
}
export type IngestMetrics = ReturnType<typeof createIngestMetrics>;

/** Outcome of one delivery as the dispatcher records it. */
export interface DeliveryObservation {
  status: string;
  skipReason?: string | null | undefined;
  notBefore?: Date | null | undefined;
}

/** The shape of a Send API outcome (@renotify/messenger's SendOutcome) that the metrics read. */
export type SendResultLike =
  | { ok: true }
  | { ok: false; error: { code: number | null }; failure: { kind: string } };

export interface WorkerMetricsOptions extends MetricsOptions {
  /** Read at scrape time; returns the last shared sample (or null when none exists yet). */
  readBacklog?: () => Promise<BacklogSnapshot | null>;
}

export function createWorkerMetrics(options: WorkerMetricsOptions = {}) {
  const registry = newRegistry('worker', options);
  const deliveries = new Counter({
    name: MetricName.deliveries,
    help: 'Deliveries that reached a final status (SENT | FAILED | SKIPPED | DEAD), by skip reason ("" when none)',
    labelNames: ['status', 'skip_reason'] as const,
    registers: [registry],
  });
  const deliveriesDeferred = new Counter({
    name: MetricName.deliveriesDeferred,
    help: 'Deliveries put back to wait (quiet hours, paused Page, retry backoff), by reason ("retry" for backoff)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const sendApiDuration = new Histogram({
    name: MetricName.sendApiDuration,
    help: 'Send API request latency in seconds, by outcome (ok | error)',
    labelNames: ['outcome'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const sendApiErrors = new Counter({
    name: MetricName.sendApiErrors,
    help: 'Send API errors, by Meta error code ("none" for network errors) and our classification',
    labelNames: ['code', 'kind'] as const,
    registers: [registry],
  });
  const rateLimiterWaits = new Counter({
    name: MetricName.rateLimiterWaits,
    help: 'Times a sender waited for the per-Page rate limiter',
    registers: [registry],
  });
  const rateLimiterWaitSeconds = new Counter({
    name: MetricName.rateLimiterWaitSeconds,
    help: 'Total time senders waited for the per-Page rate limiter, in seconds',
    registers: [registry],
  });

  /** Outbound webhook attempts (#15), by event type and outcome: sent | retry | dead. */
  const outboundWebhooks = new Counter({
    name: MetricName.outboundWebhooks,
    help: 'Outbound webhook attempts to business endpoints, by event type and outcome (sent | retry | dead)',
    labelNames: ['event_type', 'outcome'] as const,
    registers: [registry],
  });
  const outboundWebhookDuration = new Histogram({
    name: MetricName.outboundWebhookDuration,
    help: 'Outbound webhook request latency in seconds, by outcome (ok | error)',
    labelNames: ['outcome'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  // Read at scrape time by whoever owns the outbox (the worker's outbound-webhooks module sets the reader).
  let readOutboundBacklog: (() => Promise<number>) | undefined;
  new Gauge({
    name: MetricName.outboundWebhookBacklog,
    help: 'Outbound webhooks waiting to be sent (PENDING outbox rows, including those waiting for a retry)',
    registers: [registry],
    async collect() {
      this.reset();
      const count = readOutboundBacklog ? await readOutboundBacklog().catch(() => null) : null;
      if (count !== null) this.set(count);
    },
  });

  const readBacklog = options.readBacklog;
  // The gauges below are filled at scrape time from the shared sample in Redis (one GET each): scraping never
  // counts jobs, and a missing or unreadable sample exports no series rather than made-up zeros.
  const currentSnapshot = () => (readBacklog ? readBacklog() : Promise.resolve(null));
  new Gauge({
    name: MetricName.queueBacklog,
    help: 'Jobs not yet started (waiting + prioritized + delayed) per queue, from the shared backlog sample',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const sample = await currentSnapshot().catch(() => null);
      for (const [queue, counts] of Object.entries(sample?.queues ?? {})) this.set({ queue }, backlogOf(counts));
    },
  });
  new Gauge({
    name: MetricName.queueJobs,
    help: 'Jobs per queue and state (waiting, prioritized, delayed, active, failed), from the shared backlog sample',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const sample = await currentSnapshot().catch(() => null);
      for (const [queue, counts] of Object.entries(sample?.queues ?? {})) {
        for (const state of SAMPLED_JOB_STATES) this.set({ queue, state }, counts[state]);
      }
    },
  });
  new Gauge({
    name: MetricName.queueBacklogAge,
    help: 'Age of the shared backlog sample in seconds (alert if it grows: no worker is sampling)',
    registers: [registry],
    async collect() {
      this.reset();
      const sample = await currentSnapshot().catch(() => null);
      if (sample) this.set(Math.max(0, (Date.now() - sample.sampledAt) / 1000));
    },
  });

  return {
    registry,
    deliveries,
    deliveriesDeferred,
    sendApiDuration,
    sendApiErrors,
    rateLimiterWaits,
    rateLimiterWaitSeconds,
    outboundWebhooks,
    outboundWebhookDuration,
    /** Where the outbound webhook backlog gauge reads its value at scrape time. */
    readOutboundWebhookBacklog(reader: () => Promise<number>) {
      readOutboundBacklog = reader;
    },
    /** Counts the outcomes the dispatcher records; PENDING ones with a `notBefore` are deferrals. */
    observeDeliveries(outcomes: readonly DeliveryObservation[]) {
      for (const outcome of outcomes) {
        if (outcome.status === 'PENDING' || outcome.status === 'SENDING') {
          if (outcome.notBefore) deliveriesDeferred.inc({ reason: outcome.skipReason ?? 'retry' });
        } else {
          deliveries.inc({ status: outcome.status, skip_reason: outcome.skipReason ?? '' });
        }
      }
    },
    /** Times one Send API call and counts its error code; returns the call's own result. */
    async timeSend<T extends SendResultLike>(send: () => Promise<T>): Promise<T> {
      const stop = sendApiDuration.startTimer();
      let result: T;
      try {
        result = await send();
      } catch (error) {
        stop({ outcome: 'error' });
        sendApiErrors.inc({ code: 'none', kind: 'exception' });
        throw error;
      }
      stop({ outcome: result.ok ? 'ok' : 'error' });
      // Meta's code ("none" for network errors) plus our classification: 613 throttled vs 10 permission etc.
      if (!result.ok) sendApiErrors.inc({ code: result.error.code === null ? 'none' : String(result.error.code), kind: result.failure.kind });
      return result;
    },
    observeRateLimitWait(waitMs: number) {
      rateLimiterWaits.inc();
      rateLimiterWaitSeconds.inc(Math.max(0, waitMs) / 1000);
    },
  };
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

export type { Registry } from 'prom-client';
