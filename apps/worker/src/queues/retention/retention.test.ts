import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '@renotify/config';
import { RETENTION_JOB } from '@renotify/queue';
import { waitFor } from '@renotify/testing';
import { allFinal, deliveryCounts, seedTokens, startStack, TEST_PAGE, type Stack } from '../../test-support/stack.js';
import { startWorker } from '../../server.js';
import { runRetention } from './purge.js';

/*
 * The retention job against real Postgres, Redis and the whole pipeline: rows are made the normal way (events
 * sent through the sandbox, a campaign run), then aged with SQL, then the job runs through BullMQ. Small
 * batches (2 rows) so every purge takes several statements.
 */

const RETENTION_ENV = {
  RETENTION_DELIVERIES_DAYS: '90',
  // Events outlive their deliveries here, so the report of an event whose deliveries are gone can be read.
  RETENTION_EVENTS_DAYS: '365',
  RETENTION_CAMPAIGN_RUNS_DAYS: '365',
  RETENTION_WEBHOOK_RECEIPTS_DAYS: '30',
  RETENTION_DEAD_LETTERS_DAYS: '90',
  RETENTION_OPTIN_REQUESTS_DAYS: '90',
  // Never fires during the test: the test adds the jobs itself.
  RETENTION_CRON: '0 0 1 1 *',
  RETENTION_BATCH_SIZE: '2',
  RETENTION_BATCH_PAUSE_MS: '1',
};

const event = (id: string, topic: string) => ({ id, type: 'custom', pageId: TEST_PAGE.id, topic, text: `Hello (${id})` });

describe('retention job', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack('retention', RETENTION_ENV);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const sql = (text: string, params: unknown[] = []) => stack.db.pool.query(text, params);
  const count = async (text: string, params: unknown[] = []) => ((await sql(text, params)).rows[0] as { n: number }).n;

  async function postAndSettle(id: string, topic: string) {
    const posted = await stack.api('POST', '/v1/events', event(id, topic));
    expect(posted.status).toBe(202);
    await waitFor(() => allFinal(stack.db, id), { timeoutMs: 20_000, what: `deliveries of ${id} to be final` });
    await waitFor(async () => (await sql(`SELECT status FROM "Event" WHERE id = $1`, [id])).rows[0]?.status === 'FANNED_OUT', { what: `${id} fanned out` });
  }

  /** Moves an event (or run) and its deliveries `days` into the past, as if they had happened then. */
  async function age(sourceId: string, days: number) {
    await sql(`UPDATE "Event" SET "receivedAt" = "receivedAt" - make_interval(days => $2) WHERE id = $1`, [sourceId, days]);
    await sql(`UPDATE "CampaignRun" SET "startedAt" = "startedAt" - make_interval(days => $2) WHERE id::text = $1`, [sourceId, days]);
    await sql(
      `UPDATE "Delivery" SET "createdAt" = "createdAt" - make_interval(days => $2), "finishedAt" = "finishedAt" - make_interval(days => $2)
       WHERE "sourceId" = $1`,
      [sourceId, days],
    );
  }

  /** Adds a `retention` job and waits until every kind recorded a run that started after it was added. */
  async function runRetentionJob() {
    const before = Date.now();
    await stack.worker!.deps.queues.maintenance.add(RETENTION_JOB, {}, { jobId: `retention-test-${before}` });
    return waitFor(
      async () => {
        const status = await stack.api('GET', '/v1/retention');
        const tables = status.body.tables as Array<{ kind: string; lastRun: { startedAt: string; deleted: number; finalized: number; caughtUp: boolean; error: string | null } | null }>;
        const done = tables.every((table) => table.lastRun && Date.parse(table.lastRun.startedAt) >= before);
        return done ? new Map(tables.map((table) => [table.kind, table.lastRun!])) : null;
      },
      { timeoutMs: 30_000, what: 'the retention run to finish' },
    );
  }

  it('deletes old final rows, keeps recent and unfinished ones, and old reports keep their counts', async () => {
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'old-news', count: 3, psidPrefix: 'old-' });
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'ancient-news', count: 2, psidPrefix: 'ancient-' });
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'recent-news', count: 2, psidPrefix: 'recent-' });
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'open-news', count: 3, psidPrefix: 'open-' });
    const [subscriber] = await seedTokens(stack, { kind: 'RECURRING', topic: 'digest', count: 4, frequency: 'DAILY', psidPrefix: 'digest-' });

    await postAndSettle('old-1', 'old-news');
    await postAndSettle('ancient-1', 'ancient-news');
    await postAndSettle('recent-1', 'recent-news');
    await postAndSettle('open-1', 'open-news');
    const campaign = await stack.api('POST', '/v1/campaigns', { pageId: TEST_PAGE.id, name: 'Digest', topic: 'digest', message: 'Digest', schedule: { cron: '0 9 * * *', timezone: 'UTC' } });
    expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
    const run = await stack.api('POST', `/v1/campaigns/${campaign.body.id}/run`, {});
    const runId = run.body.run.id as string;
    await waitFor(async () => (await sql(`SELECT status FROM "CampaignRun" WHERE id = $1`, [runId])).rows[0]?.status === 'FANNED_OUT', { what: 'run fanned out' });
    await waitFor(() => allFinal(stack.db, runId), { timeoutMs: 20_000, what: 'run deliveries final' });

    const oldCounts = await deliveryCounts(stack.db, 'old-1');
    expect(oldCounts).toEqual({ SENT: 3 });
    const runCounts = await deliveryCounts(stack.db, runId);
    expect(runCounts).toEqual({ SENT: 4 });

    await age('old-1', 100);
    await age('ancient-1', 400);
    await age(runId, 100);
    await age('open-1', 100);
    // One delivery of open-1 is still waiting (a deferred send): the event is unfinished, so nothing of it goes.
    await sql(`UPDATE "Delivery" SET status = 'PENDING', "finishedAt" = NULL WHERE id = (SELECT id FROM "Delivery" WHERE "sourceId" = 'open-1' LIMIT 1)`);

    await sql(
      `INSERT INTO "WebhookReceipt" ("bodySha256", "rawBody", "receivedAt", "processedAt") VALUES
         ('old-processed', '{}', now() - interval '40 days', now() - interval '40 days'),
         ('old-unprocessed', '{}', now() - interval '40 days', NULL),
         ('recent-processed', '{}', now() - interval '2 days', now() - interval '2 days')`,
    );
    await sql(
      `INSERT INTO "DeadLetter" (kind, reason, payload, "createdAt", "redrivenAt") VALUES
         ('retention-test', 'old', '{}', now() - interval '100 days', NULL),
         ('retention-test', 'redriven', '{}', now() - interval '1 day', now()),
         ('retention-test', 'recent', '{}', now() - interval '1 day', NULL)`,
    );
    const subscriberId = (await sql(`SELECT "subscriberId" FROM "OptIn" WHERE id = $1`, [subscriber!.optInId])).rows[0].subscriberId as string;
    await sql(
      `INSERT INTO "OptInRequest" ("pageId", "subscriberId", kind, topic, title, "sentAt") VALUES
         ($1, $2, 'RECURRING', 'digest', 'old request', now() - interval '100 days'),
         ($1, $2, 'RECURRING', 'digest', 'recent request', now() - interval '3 days')`,
      [TEST_PAGE.id, subscriberId],
    );

    const result = await runRetentionJob();

    // Deliveries: the old event's and the old run's are gone; the recent and the unfinished event's all stay.
    expect(await deliveryCounts(stack.db, 'old-1')).toEqual({});
    expect(await deliveryCounts(stack.db, runId)).toEqual({});
    expect(await deliveryCounts(stack.db, 'ancient-1')).toEqual({});
    expect(await deliveryCounts(stack.db, 'recent-1')).toEqual({ SENT: 2 });
    expect(await deliveryCounts(stack.db, 'open-1')).toEqual({ SENT: 2, PENDING: 1 });
    expect(result.get('deliveries')).toMatchObject({ deleted: 3 + 2 + 4, caughtUp: true, error: null });

    // Events: the 400-day-old one is gone with its deliveries; the 100-day-old one stays with its final counts.
    expect(await count(`SELECT count(*)::int AS n FROM "Event" WHERE id = 'ancient-1'`)).toBe(0);
    expect((await sql(`SELECT "finalCounts" FROM "Event" WHERE id = 'old-1'`)).rows[0].finalCounts).toEqual([{ status: 'SENT', skipReason: null, count: 3 }]);
    expect((await sql(`SELECT "finalCounts" FROM "Event" WHERE id = 'open-1'`)).rows[0].finalCounts).toBeNull();
    expect((await sql(`SELECT "finalCounts" FROM "Event" WHERE id = 'recent-1'`)).rows[0].finalCounts).toBeNull();
    expect(result.get('events')).toMatchObject({ deleted: 1, error: null });

    // The reports of the old event and the old run still show what happened.
    const report = await stack.api('GET', '/v1/events/old-1');
    expect(report.status).toBe(200);
    expect(report.body.counts.byStatus).toMatchObject({ SENT: 3, PENDING: 0, FAILED: 0 });
    expect(report.body.deliveries).toEqual([]);
    const runReport = await stack.api('GET', `/v1/campaigns/${campaign.body.id}/runs/${runId}`);
    expect(runReport.status).toBe(200);
    expect(runReport.body.counts).toEqual({ total: 4, byStatus: { SENT: 4 }, skipped: {}, deferred: {}, complete: true });
    const runs = await stack.api('GET', `/v1/campaigns/${campaign.body.id}/runs`);
    expect(runs.body.items[0].counts.total).toBe(4);
    // A live event reports its live counts.
    expect((await stack.api('GET', '/v1/events/open-1')).body.counts.byStatus).toMatchObject({ SENT: 2, PENDING: 1 });

    // Webhook bodies, dead letters and opt-in requests.
    const receipts = await sql(`SELECT "bodySha256" FROM "WebhookReceipt" WHERE "bodySha256" IN ('old-processed', 'old-unprocessed', 'recent-processed') ORDER BY 1`);
    expect(receipts.rows.map((row) => row.bodySha256)).toEqual(['old-unprocessed', 'recent-processed']);
    const deadLetters = await sql(`SELECT reason FROM "DeadLetter" WHERE kind = 'retention-test'`);
    expect(deadLetters.rows.map((row) => row.reason)).toEqual(['recent']);
    const requests = await sql(`SELECT title FROM "OptInRequest" WHERE "subscriberId" = $1`, [subscriberId]);
    expect(requests.rows.map((row) => row.title)).toEqual(['recent request']);

    // A second run finds nothing more to do, and the report still reads the stored counts.
    const again = await runRetentionJob();
    for (const [, lastRun] of again) expect(lastRun).toMatchObject({ deleted: 0, caughtUp: true, error: null });
    expect((await stack.api('GET', '/v1/events/old-1')).body.counts.byStatus.SENT).toBe(3);
  });

  it('a run stopped by shutdown deletes nothing more and says it did not catch up; the next run finishes the work', async () => {
    await sql(`INSERT INTO "DeadLetter" (kind, reason, payload, "createdAt") SELECT 'retention-stop', 'old ' || g, '{}', now() - interval '100 days' FROM generate_series(1, 5) g`);
    const stopped = new AbortController();
    stopped.abort();
    const worker = stack.worker!;
    const report = await runRetention({ db: stack.db, logger: worker.deps.logger, config: worker.deps.config, signal: stopped.signal });
    expect(report.deadLetters).toMatchObject({ deleted: 0, caughtUp: false, error: null });
    expect(await count(`SELECT count(*)::int AS n FROM "DeadLetter" WHERE kind = 'retention-stop'`)).toBe(5);

    const next = await runRetentionJob();
    expect(next.get('deadLetters')).toMatchObject({ deleted: 5, caughtUp: true });
    expect(await count(`SELECT count(*)::int AS n FROM "DeadLetter" WHERE kind = 'retention-stop'`)).toBe(0);
  });

  it('refuses to start a worker whose RETENTION_CRON BullMQ cannot parse, naming the variable', async () => {
    await expect(startWorker(loadWorkerConfig({ ...stack.env, RETENTION_CRON: 'every hour' }, { warn: () => undefined }))).rejects.toThrow(/RETENTION_CRON "every hour"/);
  });

  it('GET /v1/retention reports every table, its setting, size and the next scheduled run', async () => {
    const status = await stack.api('GET', '/v1/retention');
    expect(status.status).toBe(200);
    expect(status.body.schedule.cron).toBe('0 0 1 1 *');
    expect(new Date(status.body.schedule.nextRunAt).getUTCMonth()).toBe(0);
    expect(status.body.batchSize).toBe(2);
    const byKind = new Map((status.body.tables as Array<Record<string, unknown>>).map((table) => [table.kind, table]));
    expect([...byKind.keys()].sort()).toEqual(['campaignRuns', 'deadLetters', 'deliveries', 'events', 'optInRequests', 'webhookReceipts']);
    expect(byKind.get('deliveries')).toMatchObject({ table: 'Delivery', retentionDays: 90 });
    expect(byKind.get('events')).toMatchObject({ table: 'Event', retentionDays: 365 });
    expect(byKind.get('webhookReceipts')).toMatchObject({ table: 'WebhookReceipt', retentionDays: 30 });
    for (const table of byKind.values()) expect(table.totalBytes).toBeGreaterThan(0);
    // The old event (100 days) is the oldest kept.
    expect(byKind.get('events')!.oldestAgeDays).toBeGreaterThanOrEqual(99);

    const unauthenticated = await fetch(`${stack.ingest.url}/v1/retention`);
    expect(unauthenticated.status).toBe(401);
  });
});
