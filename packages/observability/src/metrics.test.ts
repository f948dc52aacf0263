import { describe, expect, it } from 'vitest';
import { createIngestMetrics, createWorkerMetrics, MetricName } from './index.js';

const value = async (metrics: { registry: { getSingleMetric(name: string): unknown } }, name: string, labels: Record<string, string> = {}) => {
  const metric = metrics.registry.getSingleMetric(name) as { get(): Promise<{ values: Array<{ labels: Record<string, unknown>; value: number; metricName?: string }> }> };
  const { values } = await metric.get();
  return values
    .filter((entry) => Object.entries(labels).every(([key, expected]) => String(entry.labels[key]) === expected))
    .reduce((sum, entry) => sum + entry.value, 0);
};

describe('worker metrics', () => {
  it('counts final outcomes by status and skip reason, and pending ones with a wake-up time as deferrals', async () => {
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    metrics.observeDeliveries([
      { status: 'SENT' },
      { status: 'SKIPPED', skipReason: 'STOPPED' },
      { status: 'PENDING', notBefore: new Date(), skipReason: 'QUIET_HOURS' },
      { status: 'PENDING', notBefore: new Date() },
      { status: 'PENDING' },
    ]);
    expect(await value(metrics, MetricName.deliveries, { status: 'SENT', skip_reason: '' })).toBe(1);
    expect(await value(metrics, MetricName.deliveries, { status: 'SKIPPED', skip_reason: 'STOPPED' })).toBe(1);
    expect(await value(metrics, MetricName.deliveries, { status: 'PENDING' })).toBe(0);
    expect(await value(metrics, MetricName.deliveriesDeferred, { reason: 'QUIET_HOURS' })).toBe(1);
    expect(await value(metrics, MetricName.deliveriesDeferred, { reason: 'retry' })).toBe(1);
  });

  it('times sends, counts errors by Meta code, and passes results and exceptions through', async () => {
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    const ok = { ok: true as const, messageId: 'm1' };
    expect(await metrics.timeSend(async () => ok)).toBe(ok);
    await metrics.timeSend(async () => ({ ok: false as const, error: { code: 613 }, failure: { kind: 'throttled' } }));
    await metrics.timeSend(async () => ({ ok: false as const, error: { code: null }, failure: { kind: 'retryable' } }));
    await expect(metrics.timeSend(async () => Promise.reject(new Error('socket hang up')))).rejects.toThrow('socket hang up');
    expect(await value(metrics, `${MetricName.sendApiDuration}`, { outcome: 'ok', le: '+Inf' })).toBe(1);
    expect(await value(metrics, MetricName.sendApiErrors, { code: '613', kind: 'throttled' })).toBe(1);
    expect(await value(metrics, MetricName.sendApiErrors, { code: 'none', kind: 'retryable' })).toBe(1);
    expect(await value(metrics, MetricName.sendApiErrors, { code: 'none', kind: 'exception' })).toBe(1);
  });

  it('fills queue gauges from the shared sample at scrape time, and nothing when there is none', async () => {
    let sample: { sampledAt: number; queues: Record<string, { waiting: number; prioritized: number; delayed: number; active: number; failed: number }> } | null = null;
    let reads = 0;
    const metrics = createWorkerMetrics({ defaultMetrics: false, readBacklog: async () => (reads++, sample) });
    expect(await metrics.registry.metrics()).not.toMatch(/^renotify_queue_backlog\{/m);
    sample = { sampledAt: Date.now(), queues: { deliveries: { waiting: 2, prioritized: 3, delayed: 4, active: 5, failed: 6 } } };
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^renotify_queue_backlog\{queue="deliveries",service="worker"\} 9$/m);
    expect(text).toMatch(/^renotify_queue_jobs\{queue="deliveries",state="active",service="worker"\} 5$/m);
    // Read afresh on every scrape (each gauge reads the stored sample; none is cached in the process).
    expect(reads).toBe(6);
  });
});

describe('ingest metrics', () => {
  it('has its own registry, labelled service="ingest"', async () => {
    const a = createIngestMetrics({ defaultMetrics: false });
    const b = createIngestMetrics({ defaultMetrics: false });
    a.eventsIngested.inc({ type: 'custom', result: 'accepted' });
    expect(await a.registry.metrics()).toMatch(/^renotify_events_ingested_total\{type="custom",result="accepted",service="ingest"\} 1$/m);
    expect(await b.registry.metrics()).not.toMatch(/^renotify_events_ingested_total\{/m);
  });
});
