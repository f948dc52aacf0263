import { describe, expect, it } from 'vitest';
import { ConfigError, loadIngestConfig, loadWorkerConfig, retentionDays } from './index.js';

const quiet = { warn: () => undefined };

describe('retention settings', () => {
  it('defaults: deliveries, events, campaign runs, dead letters and opt-in requests 90 days, webhook receipts 30, hourly', () => {
    const worker = loadWorkerConfig({}, quiet);
    expect(retentionDays(worker)).toEqual({ deliveries: 90, events: 90, campaignRuns: 90, webhookReceipts: 30, deadLetters: 90, optInRequests: 90 });
    expect(worker.RETENTION_CRON).toBe('41 * * * *');
    expect(worker.RETENTION_BATCH_SIZE).toBe(5_000);
    // The ingest reads the same settings (GET /v1/retention reports them).
    expect(retentionDays(loadIngestConfig({ RETENTION_EVENTS_DAYS: '400' }, quiet)).events).toBe(400);
  });

  it('0 keeps a kind forever, whatever its minimum', () => {
    expect(retentionDays(loadWorkerConfig({ RETENTION_DELIVERIES_DAYS: '0', RETENTION_OPTIN_REQUESTS_DAYS: '0' }, quiet))).toMatchObject({ deliveries: 0, optInRequests: 0 });
  });

  it('refuses a retention shorter than the rules that read the rows (per-person cap, 7-day opt-in title rule)', () => {
    for (const [name, value] of [['RETENTION_DELIVERIES_DAYS', '31'], ['RETENTION_OPTIN_REQUESTS_DAYS', '7'], ['RETENTION_WEBHOOK_RECEIPTS_DAYS', '-1'], ['RETENTION_BATCH_SIZE', '0']] as const) {
      expect(() => loadWorkerConfig({ [name]: value }, quiet), name).toThrow(ConfigError);
      expect(() => loadWorkerConfig({ [name]: value }, quiet), name).toThrow(name);
    }
    expect(loadWorkerConfig({ RETENTION_DELIVERIES_DAYS: '32', RETENTION_OPTIN_REQUESTS_DAYS: '8' }, quiet).RETENTION_DELIVERIES_DAYS).toBe(32);
  });
});
