import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '@renotify/config';
import { createCampaignRun } from '@renotify/db';
import { campaignRunJobId, CampaignJobName, campaignSchedulerId, scheduleSignature } from '@renotify/queue';
import { waitFor } from '@renotify/testing';
import { startWorker } from '../../server.js';
import { allFinal, deliveryCounts, messagesByPsid, seedTokens, startStack, TEST_PAGE, type Stack } from '../../test-support/stack.js';
import { executeRun, fireOccurrence, requeueStalledRuns } from './runner.js';

const DAY_MS = 86_400_000;

describe('campaigns (API → scheduler / run-now → runs → fan-out → dispatch → sandbox)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack('campaigns');
  });
  afterAll(async () => {
    await stack?.close();
  });

  const deps = () => stack.worker!.deps;
  const queue = () => stack.ingest.deps.queues.campaigns;

  async function createCampaign(body: Record<string, unknown>) {
    const response = await stack.api('POST', '/v1/campaigns', { pageId: TEST_PAGE.id, name: 'Campaign', schedule: { cron: '0 9 * * *', timezone: 'UTC' }, ...body });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body as { id: string; schedule: { cron: string; timezone: string } | { localTime: string } };
  }

  async function runsOf(campaignId: string) {
    const { rows } = await stack.db.pool.query<{ id: string; occurrenceAt: Date; zone: string; status: string; message: { text?: string } | null }>(
      'SELECT id, "occurrenceAt", zone, status, message FROM "CampaignRun" WHERE "campaignId" = $1 ORDER BY "occurrenceAt", zone',
      [campaignId],
    );
    return rows;
  }

  async function runAndSettle(campaignId: string, occurrenceAt: Date) {
    const response = await stack.api('POST', `/v1/campaigns/${campaignId}/run`, { occurrenceAt: occurrenceAt.toISOString() });
    expect([200, 202]).toContain(response.status);
    const runId = response.body.run.id as string;
    await waitFor(async () => (await stack.db.pool.query(`SELECT status FROM "CampaignRun" WHERE id = $1`, [runId])).rows[0]?.status === 'FANNED_OUT', {
      what: `run ${runId} fanned out`,
    });
    await waitFor(async () => (await deliveryCounts(stack.db, runId)) && (await stack.db.pool.query(
      `SELECT count(*)::int AS open FROM "Delivery" WHERE "sourceId" = $1 AND status IN ('PENDING', 'SENDING') AND "notBefore" IS NULL`, [runId])).rows[0].open === 0,
      { timeoutMs: 20_000, what: `deliveries of run ${runId} to be final` });
    return { runId, status: response.status, created: response.body.created as boolean, counts: await deliveryCounts(stack.db, runId) };
  }

  /**
   * "The next day" for recurring tokens: their last send and next eligible time move 24 h into the past, and
   * the sandbox (Meta, which enforces the cooldown itself) moves its clock 24 h on.
   */
  async function oneDayLater(topic: string) {
    await stack.control('POST', '/clock', { advanceMs: DAY_MS });
    await stack.db.pool.query(
      `UPDATE "OptIn" SET "lastSentAt" = "lastSentAt" - interval '24 hours', "nextEligibleAt" = "nextEligibleAt" - interval '24 hours' WHERE topic = $1`,
      [topic],
    );
  }

  it('run-now sends to the topic recurring tokens once, renders the template, and respects windows across daily runs', async () => {
    const daily = await seedTokens(stack, { kind: 'RECURRING', topic: 'newsletter', count: 3, frequency: 'DAILY', psidPrefix: 'nl-' });
    const [stopped] = await seedTokens(stack, { kind: 'RECURRING', topic: 'newsletter', count: 1, psidPrefix: 'nl-stop-' });
    const [expired] = await seedTokens(stack, { kind: 'RECURRING', topic: 'newsletter', count: 1, psidPrefix: 'nl-exp-' });
    const oneTime = await seedTokens(stack, { kind: 'ONE_TIME', topic: 'newsletter', count: 2, psidPrefix: 'nl-once-' });
    await stack.db.pool.query(`UPDATE "OptIn" SET status = 'STOPPED' WHERE id = $1`, [stopped!.optInId]);
    await stack.db.pool.query(`UPDATE "OptIn" SET "expiresAt" = now() - interval '1 hour' WHERE id = $1`, [expired!.optInId]);
    const campaign = await createCampaign({ topic: 'newsletter', message: 'Newsletter of {{weekday}} {{date}}: {{headline}}', variables: { headline: 'Spring sale' } });

    const day1 = new Date('2026-11-23T09:00:00Z');
    const first = await runAndSettle(campaign.id, day1);
    expect(first).toMatchObject({ status: 202, created: true });
    expect(first.counts).toEqual({ SENT: 3, 'SKIPPED:STOPPED': 1, 'SKIPPED:TOKEN_EXPIRED': 1 });
    const thread = await stack.control('GET', `/pages/${TEST_PAGE.id}/messages?psid=${daily[0]!.psid}`);
    expect(thread.messages.map((m: { message: { text: string } }) => m.message.text)).toEqual(['Newsletter of Monday 2026-11-23: Spring sale']);

    // The same occurrence again (a double click, a retry): the same run, nothing new.
    const again = await runAndSettle(campaign.id, new Date(day1.getTime() + 20_000));
    expect(again).toMatchObject({ runId: first.runId, status: 200, created: false });
    expect(await deliveryCounts(stack.db, first.runId)).toEqual(first.counts);

    // The next occurrence inside the daily window: everyone is skipped with the reason.
    const day2 = await runAndSettle(campaign.id, new Date(day1.getTime() + DAY_MS));
    expect(day2.counts).toEqual({ 'SKIPPED:FREQUENCY_WINDOW': 3, 'SKIPPED:STOPPED': 1 });

    // A day later for the tokens: the third run sends again.
    await oneDayLater('newsletter');
    const day3 = await runAndSettle(campaign.id, new Date(day1.getTime() + 2 * DAY_MS));
    expect(day3.counts).toEqual({ SENT: 3, 'SKIPPED:STOPPED': 1 });

    const sent = await messagesByPsid(stack);
    for (const token of daily) expect(sent.get(token.psid)).toBe(2);
    for (const token of [stopped!, expired!, ...oneTime]) expect(sent.has(token.psid)).toBe(false);

    const runs = await stack.api('GET', `/v1/campaigns/${campaign.id}/runs?limit=2`);
    expect(runs.status).toBe(200);
    expect(runs.body.items.map((r: { id: string }) => r.id)).toEqual([day3.runId, day2.runId]);
    expect(runs.body.items[1].counts).toEqual({ total: 4, byStatus: { SKIPPED: 4 }, skipped: { FREQUENCY_WINDOW: 3, STOPPED: 1 }, deferred: {}, complete: true });
    const older = await stack.api('GET', `/v1/campaigns/${campaign.id}/runs?limit=2&cursor=${runs.body.nextCursor}`);
    expect(older.body).toMatchObject({ items: [{ id: first.runId }], nextCursor: null });
    const report = await stack.api('GET', `/v1/campaigns/${campaign.id}/runs/${first.runId}`);
    expect(report.body).toMatchObject({
      id: first.runId,
      occurrenceAt: day1.toISOString(),
      zone: '',
      status: 'FANNED_OUT',
      matchedCount: 5, // 4 active tokens (one turns out expired) + 1 stopped
      counts: { total: 5, byStatus: { SENT: 3, SKIPPED: 2 }, skipped: { STOPPED: 1, TOKEN_EXPIRED: 1 }, deferred: {}, complete: true },
    });
    expect((await stack.api('GET', `/v1/campaigns/${campaign.id}/runs/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
  });

  it('defers instead of skipping when the campaign asks for it', async () => {
    await seedTokens(stack, { kind: 'RECURRING', topic: 'deferred', count: 2, frequency: 'DAILY', psidPrefix: 'def-' });
    const campaign = await createCampaign({ topic: 'deferred', message: { text: 'Deferred {{date}}' }, deferIneligible: true });
    const first = await runAndSettle(campaign.id, new Date('2026-11-23T09:00:00Z'));
    expect(first.counts).toEqual({ SENT: 2 });
    const second = await runAndSettle(campaign.id, new Date('2026-11-24T09:00:00Z'));
    expect(second.counts).toEqual({ 'PENDING:FREQUENCY_WINDOW': 2 });
    const report = await stack.api('GET', `/v1/campaigns/${campaign.id}/runs/${second.runId}`);
    expect(report.body.counts).toMatchObject({ byStatus: { PENDING: 2 }, deferred: { FREQUENCY_WINDOW: 2 }, complete: false });
    const { rows } = await stack.db.pool.query(
      `SELECT count(*)::int AS n FROM "Delivery" d JOIN "OptIn" o ON o.id = d."optInId" WHERE d."sourceId" = $1 AND d."notBefore" = o."nextEligibleAt"`,
      [second.runId],
    );
    expect(rows[0].n).toBe(2);
  });

  it('makes one run per occurrence when schedulers fire twice, workers race and jobs are redelivered', async () => {
    const tokens = await seedTokens(stack, { kind: 'RECURRING', topic: 'flash', count: 4, frequency: 'DAILY', psidPrefix: 'dup-' });
    const campaign = await createCampaign({ topic: 'flash', message: 'Flash sale {{time}}' });
    const data = { campaignId: campaign.id, schedule: scheduleSignature(campaign.schedule) };

    // Two extra schedulers firing every 500 ms for the same campaign: many firings, one run per minute.
    const started = Date.now();
    await queue().upsertJobScheduler('dup-a', { every: 500 }, { name: CampaignJobName.occurrence, data });
    await queue().upsertJobScheduler('dup-b', { every: 500 }, { name: CampaignJobName.occurrence, data });
    await new Promise((resolve) => setTimeout(resolve, 2_600));
    await queue().removeJobScheduler('dup-a');
    await queue().removeJobScheduler('dup-b');
    const ended = Date.now();
    await waitFor(async () => (await runsOf(campaign.id)).every((run) => run.status === 'FANNED_OUT') && (await runsOf(campaign.id)).length > 0, { what: 'runs fanned out' });
    await waitFor(async () => (await Promise.all((await runsOf(campaign.id)).map((run) => allFinal(stack.db, run.id)))).every(Boolean), { what: 'final deliveries' });

    const runs = await runsOf(campaign.id);
    const minutes = new Set<number>();
    for (let t = Math.floor(started / 60_000); t <= Math.floor(ended / 60_000); t++) minutes.add(t * 60_000);
    expect(runs.length).toBeLessThanOrEqual(minutes.size);
    for (const run of runs) {
      expect(minutes.has(run.occurrenceAt.getTime())).toBe(true);
      expect(run.zone).toBe('');
    }
    const sent = await messagesByPsid(stack);
    for (const token of tokens) expect(sent.get(token.psid)).toBe(1);

    // The same slot handled by two workers at once, then redelivered: still the one run, no new deliveries.
    const slot = runs[0]!.occurrenceAt;
    const [a, b] = await Promise.all([fireOccurrence(deps(), data, new Date(slot.getTime() + 5)), fireOccurrence(deps(), data, new Date(slot.getTime() + 700))]);
    const c = await fireOccurrence(deps(), data, slot);
    for (const outcome of [a, b, c]) {
      expect(outcome).toMatchObject({ fired: true, runs: [{ runId: runs[0]!.id, created: false }] });
    }
    expect(await runsOf(campaign.id)).toHaveLength(runs.length);
    const total = await stack.db.pool.query(`SELECT count(*)::int AS n FROM "Delivery" WHERE "sourceId" = ANY($1::text[])`, [runs.map((r) => r.id)]);
    expect(total.rows[0].n).toBe(4 * runs.length);
  });

  it('keeps a paused campaign silent: no run from a firing scheduler, and a pending run is cancelled', async () => {
    const tokens = await seedTokens(stack, { kind: 'RECURRING', topic: 'paused-topic', count: 2, frequency: 'DAILY', psidPrefix: 'pz-' });
    const campaign = await createCampaign({ topic: 'paused-topic', message: 'Should never arrive' });
    const pending = await createCampaignRun(stack.db, { campaignId: campaign.id, occurrenceAt: new Date('2026-11-23T09:00:00Z') });
    expect((await stack.api('POST', `/v1/campaigns/${campaign.id}/pause`)).status).toBe(200);

    // A scheduler nobody removed keeps firing: every firing re-reads the campaign and does nothing.
    await queue().upsertJobScheduler('stray', { every: 500 }, { name: CampaignJobName.occurrence, data: { campaignId: campaign.id, schedule: scheduleSignature(campaign.schedule) } });
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    await queue().removeJobScheduler('stray');
    expect(await executeRun(deps(), pending.run.id)).toEqual({ executed: false, reason: 'cancelled' });

    expect((await runsOf(campaign.id)).map((run) => run.status)).toEqual(['CANCELLED']);
    expect(await deliveryCounts(stack.db, pending.run.id)).toEqual({});
    const sent = await messagesByPsid(stack);
    for (const token of tokens) expect(sent.has(token.psid)).toBe(false);

    // A firing from a replaced schedule is ignored too.
    expect((await stack.api('POST', `/v1/campaigns/${campaign.id}/resume`)).status).toBe(200);
    expect(await fireOccurrence(deps(), { campaignId: campaign.id, schedule: 'old-schedule' }, new Date('2026-11-24T09:00:00Z'))).toEqual({ fired: false, reason: 'schedule_replaced' });
    expect(await runsOf(campaign.id)).toHaveLength(1);
  });

  it('sends local-time campaigns at the chosen time in each subscriber zone (token, else subscriber, else Page)', async () => {
    const [la, kolkataToken, kolkataSubscriber, pageZone] = await seedTokens(stack, { kind: 'RECURRING', topic: 'morning', count: 4, frequency: 'DAILY', psidPrefix: 'lt-' });
    await stack.db.pool.query(`UPDATE "OptIn" SET timezone = 'America/Los_Angeles' WHERE id = $1`, [la!.optInId]);
    await stack.db.pool.query(`UPDATE "OptIn" SET timezone = 'Asia/Kolkata' WHERE id = $1`, [kolkataToken!.optInId]);
    await stack.db.pool.query(`UPDATE "Subscriber" SET timezone = 'Asia/Kolkata' WHERE id = (SELECT "subscriberId" FROM "OptIn" WHERE id = $1)`, [kolkataSubscriber!.optInId]);
    const campaign = await createCampaign({ topic: 'morning', message: 'Good morning, it is {{time}} on {{date}}', schedule: { localTime: '09:00' } });
    const data = { campaignId: campaign.id, schedule: scheduleSignature(campaign.schedule), slotMinutes: 15 };

    const fire = async (slot: string) => {
      const outcome = await fireOccurrence(deps(), data, new Date(slot));
      if (outcome.fired) for (const run of outcome.runs) await waitFor(() => allFinal(stack.db, run.runId), { what: `run in ${run.zone}` });
      return outcome;
    };
    // 2026-03-10 09:00 is 03:30Z in Kolkata, 09:00Z at the Page (UTC) and 16:00Z in Los Angeles (PDT).
    const kolkata = await fire('2026-03-10T03:30:00Z');
    expect(kolkata).toMatchObject({ fired: true, runs: [{ zone: 'Asia/Kolkata', occurrenceAt: new Date('2026-03-10T03:30:00Z'), created: true, started: true }] });
    expect(await fire('2026-03-10T03:45:00Z')).toEqual({ fired: false, reason: 'no_zone_due' });
    const utc = await fire('2026-03-10T09:00:00Z');
    expect(utc).toMatchObject({ fired: true, runs: [{ zone: 'UTC', occurrenceAt: new Date('2026-03-10T09:00:00Z') }] });
    const losAngeles = await fire('2026-03-10T16:00:00Z');
    expect(losAngeles).toMatchObject({ fired: true, runs: [{ zone: 'America/Los_Angeles', occurrenceAt: new Date('2026-03-10T16:00:00Z') }] });
    // The scheduler firing the Kolkata slot again: the same run.
    expect(await fire('2026-03-10T03:30:00Z')).toMatchObject({ fired: true, runs: [{ created: false }] });

    const runs = await runsOf(campaign.id);
    expect(runs.map((run) => [run.zone, run.message?.text])).toEqual([
      ['Asia/Kolkata', 'Good morning, it is 09:00 on 2026-03-10'],
      ['UTC', 'Good morning, it is 09:00 on 2026-03-10'],
      ['America/Los_Angeles', 'Good morning, it is 09:00 on 2026-03-10'],
    ]);
    const byZone = Object.fromEntries(await Promise.all(runs.map(async (run) => [run.zone, await deliveryCounts(stack.db, run.id)])));
    expect(byZone).toEqual({ 'Asia/Kolkata': { SENT: 2 }, UTC: { SENT: 1 }, 'America/Los_Angeles': { SENT: 1 } });
    const sent = await messagesByPsid(stack);
    for (const token of [la!, kolkataToken!, kolkataSubscriber!, pageZone!]) expect(sent.get(token.psid)).toBe(1);
    const { rows } = await stack.db.pool.query(
      `SELECT r.zone, o.id FROM "Delivery" d JOIN "CampaignRun" r ON r.id::text = d."sourceId" JOIN "OptIn" o ON o.id = d."optInId" WHERE r."campaignId" = $1`,
      [campaign.id],
    );
    const zoneOf = new Map(rows.map((row: { zone: string; id: string }) => [row.id, row.zone]));
    expect(zoneOf.get(la!.optInId)).toBe('America/Los_Angeles');
    expect(zoneOf.get(kolkataToken!.optInId)).toBe('Asia/Kolkata');
    expect(zoneOf.get(kolkataSubscriber!.optInId)).toBe('Asia/Kolkata');
    expect(zoneOf.get(pageZone!.optInId)).toBe('UTC');
  });

  it('a zone occurrence later in the slot becomes a delayed run job, which sends when due', async () => {
    const [token] = await seedTokens(stack, { kind: 'RECURRING', topic: 'soon', count: 1, frequency: 'DAILY', psidPrefix: 'soon-' });
    const target = new Date(Math.ceil((Date.now() + 5 * 60_000) / 60_000) * 60_000);
    const localTime = `${String(target.getUTCHours()).padStart(2, '0')}:${String(target.getUTCMinutes()).padStart(2, '0')}`;
    const campaign = await createCampaign({ topic: 'soon', message: 'On time', schedule: { localTime } });
    const slot = new Date(Math.floor(target.getTime() / (15 * 60_000)) * 15 * 60_000);
    const outcome = await fireOccurrence(deps(), { campaignId: campaign.id, schedule: scheduleSignature(campaign.schedule), slotMinutes: 15 }, slot);
    expect(outcome).toMatchObject({ fired: true, runs: [{ zone: 'UTC', occurrenceAt: target, created: true, started: false }] });
    const runId = (outcome as { runs: Array<{ runId: string }> }).runs[0]!.runId;

    const job = await queue().getJob(campaignRunJobId(runId));
    expect(await job!.getState()).toBe('delayed');
    expect(job!.timestamp + job!.delay).toBeGreaterThanOrEqual(target.getTime() - 50);
    expect(job!.timestamp + job!.delay).toBeLessThanOrEqual(target.getTime() + 50);
    expect(await deliveryCounts(stack.db, runId)).toEqual({});

    await job!.promote(); // as if the clock had reached the zone's 09:00
    await waitFor(() => allFinal(stack.db, runId), { what: 'the delayed local-time run' });
    expect(await deliveryCounts(stack.db, runId)).toEqual({ SENT: 1 });
    expect((await messagesByPsid(stack)).get(token!.psid)).toBe(1);
  });

  it('re-queues a run whose job was lost, and it completes once', async () => {
    const tokens = await seedTokens(stack, { kind: 'RECURRING', topic: 'lost-job', count: 2, frequency: 'DAILY', psidPrefix: 'lost-' });
    const campaign = await createCampaign({ topic: 'lost-job', message: 'Recovered' });
    const { run } = await createCampaignRun(stack.db, { campaignId: campaign.id, occurrenceAt: new Date(Date.now() - 3_600_000) }); // no job queued
    const later = new Date(Date.now() + 10 * 60_000);
    expect(await requeueStalledRuns(deps(), later)).toBe(1);
    await waitFor(() => allFinal(stack.db, run.id), { what: 'the recovered run' });
    expect(await deliveryCounts(stack.db, run.id)).toEqual({ SENT: 2 });
    expect(await requeueStalledRuns(deps(), later)).toBe(0);
    const sent = await messagesByPsid(stack);
    for (const token of tokens) expect(sent.get(token.psid)).toBe(1);
  });

  it('a starting worker makes the schedulers match the ACTIVE campaigns in the database', async () => {
    const active = await createCampaign({ topic: 'reconcile-a', message: 'a' });
    const paused = await createCampaign({ topic: 'reconcile-b', message: 'b' });
    await queue().removeJobScheduler(campaignSchedulerId(active.id)); // lost with Redis
    await stack.db.pool.query(`UPDATE "Campaign" SET status = 'PAUSED' WHERE id = $1`, [paused.id]); // changed behind the API
    const second = await startWorker(loadWorkerConfig(stack.env));
    try {
      expect(await queue().getJobScheduler(campaignSchedulerId(active.id))).toMatchObject({ pattern: '0 9 * * *', tz: 'UTC' });
      expect(await queue().getJobScheduler(campaignSchedulerId(paused.id))).toBeUndefined();
    } finally {
      await second.close();
    }
  });
});
