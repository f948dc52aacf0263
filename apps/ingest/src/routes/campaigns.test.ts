import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { campaignSchedulerRows } from '@renotify/db';
import { campaignSchedulerId, nextCronFire, reconcileCampaignSchedulers, scheduleSignature } from '@renotify/queue';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from '../index.js';

const auth = { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' };
const PAGE = { id: '300400500', name: 'Deals Shop', accessToken: 'EAAG-campaign-token', appSecret: 'campaign-app-secret', timezone: 'Europe/Paris' };

describe('Campaigns API and scheduler sync (ingest only, no worker)', () => {
  let services: TestServices;
  let ingest: RunningIngest;

  async function api(method: string, path: string, body?: unknown) {
    const response = await fetch(`${ingest.url}${path}`, { method, headers: auth, ...(body !== undefined && { body: JSON.stringify(body) }) });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  }
  const queue = () => ingest.deps.queues.campaigns;
  /** The scheduler's pending iterations (delayed, waiting or running jobs). */
  async function pendingJobIds(campaignId: string): Promise<string[]> {
    const jobs = await queue().getJobs(['delayed', 'waiting', 'active', 'prioritized']);
    return jobs.map((job) => job.id ?? '').filter((id) => id.startsWith(`repeat:${campaignSchedulerId(campaignId)}:`)).sort();
  }
  /** When BullMQ's scheduler fires the cron next (its own strategy and parser). */
  const nextCron = (cron: string, tz: string) => nextCronFire({ pattern: cron, tz }, new Date())!.getTime();

  const validBody = {
    pageId: PAGE.id,
    name: 'Morning deals',
    topic: 'daily-deals',
    message: 'Deals for {{date}}: {{headline}}',
    variables: { headline: 'Sneakers -20%' },
    schedule: { cron: '0 9 * * *', timezone: 'America/New_York' },
  };

  beforeAll(async () => {
    services = await createTestServices('ingestcampaigns');
    ingest = await startIngest(loadIngestConfig(services.env));
    expect((await api('POST', '/v1/pages', PAGE)).status).toBe(201);
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  it('refuses invalid schedules, zones and templates with 400 and the reason', async () => {
    const cases: Array<[unknown, number, string, RegExp]> = [
      [{ cron: '61 9 * * *', timezone: 'UTC' }, 400, 'invalid_schedule', /61/],
      [{ cron: 'every day at nine', timezone: 'UTC' }, 400, 'invalid_schedule', /cron/],
      [{ cron: '*/5 * * * * *', timezone: 'UTC' }, 400, 'invalid_schedule', /6 field\(s\)/],
      [{ cron: '0 9 30 2 *', timezone: 'UTC' }, 400, 'invalid_schedule', /cron/],
      [{ cron: '0 9 * * *', timezone: 'Mars/Olympus_Mons' }, 400, 'invalid_schedule', /IANA/],
      [{ localTime: '25:00' }, 400, 'invalid_request', /Invalid request body/],
      [{ cron: '0 9 * * *', localTime: '09:00' }, 400, 'invalid_request', /Invalid request body/],
    ];
    for (const [schedule, status, code, message] of cases) {
      const response = await api('POST', '/v1/campaigns', { ...validBody, schedule });
      expect(response.status, JSON.stringify(schedule)).toBe(status);
      expect(response.json.error.code).toBe(code);
      expect(response.json.error.message + JSON.stringify(response.json.error.details ?? '')).toMatch(message);
    }
    const unknownVariable = await api('POST', '/v1/campaigns', { ...validBody, message: 'Hi {{firstName}} on {{date}}' , variables: {} });
    expect(unknownVariable.status).toBe(400);
    expect(unknownVariable.json.error).toMatchObject({ code: 'invalid_template', unknown: ['firstName'], details: [{ path: 'message' }] });
    const builtinOverride = await api('POST', '/v1/campaigns', { ...validBody, variables: { date: 'x', headline: 'y' } });
    expect(builtinOverride.status).toBe(400);
    const bothKinds = await api('POST', '/v1/campaigns', { ...validBody, message: { text: 'a', attachment: { type: 'image' } } });
    expect(bothKinds.status).toBe(400);
    const past = await api('POST', '/v1/campaigns', { ...validBody, endAt: '2020-01-01T00:00:00Z' });
    expect(past.status).toBe(400);
    const unknownPage = await api('POST', '/v1/campaigns', { ...validBody, pageId: '999' });
    expect(unknownPage.status).toBe(404);
    expect((await api('GET', '/v1/campaigns/not-a-uuid')).status).toBe(400);
    expect((await api('GET', '/v1/campaigns/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const { rows } = await ingest.deps.db.pool.query('SELECT count(*)::int AS n FROM "Campaign"');
    expect(rows[0].n).toBe(0);
  });

  it('creates, lists, updates, pauses, resumes and deletes; the scheduler follows without extra firings', async () => {
    const created = await api('POST', '/v1/campaigns', validBody);
    expect(created.status).toBe(201);
    const campaign = created.json;
    expect(campaign).toMatchObject({
      pageId: PAGE.id,
      topic: 'daily-deals',
      message: { text: 'Deals for {{date}}: {{headline}}' },
      variables: { headline: 'Sneakers -20%' },
      schedule: { cron: '0 9 * * *', timezone: 'America/New_York' },
      status: 'ACTIVE',
      deferIneligible: false,
      startAt: null,
      endAt: null,
    });
    expect(new Date(campaign.nextOccurrenceAt).getTime()).toBe(nextCron('0 9 * * *', 'America/New_York'));

    const scheduler = await queue().getJobScheduler(campaignSchedulerId(campaign.id));
    expect(scheduler).toMatchObject({ pattern: '0 9 * * *', tz: 'America/New_York', template: { data: { campaignId: campaign.id, schedule: scheduleSignature(campaign.schedule) } } });
    const first = await pendingJobIds(campaign.id);
    expect(first).toEqual([`repeat:${campaignSchedulerId(campaign.id)}:${nextCron('0 9 * * *', 'America/New_York')}`]);

    // A change that does not touch the schedule leaves the pending iteration alone, as does a reconcile.
    const renamed = await api('PATCH', `/v1/campaigns/${campaign.id}`, { name: 'Morning deals (EU)', message: { text: 'New text {{date}}' }, variables: {} });
    expect(renamed.status).toBe(200);
    expect(renamed.json).toMatchObject({ name: 'Morning deals (EU)', message: { text: 'New text {{date}}' }, variables: {} });
    expect(await pendingJobIds(campaign.id)).toEqual(first);
    expect(await reconcileCampaignSchedulers(campaignSchedulerRows(ingest.deps.db), queue())).toEqual({ scheduled: 0, unchanged: 1, removed: 0 });
    expect(await pendingJobIds(campaign.id)).toEqual(first);

    // A new schedule replaces the pending iteration: still exactly one, at the new schedule's next slot, none due now.
    const rescheduled = await api('PATCH', `/v1/campaigns/${campaign.id}`, { schedule: { cron: '30 10 * * 1' } });
    expect(rescheduled.status).toBe(200);
    expect(rescheduled.json.schedule).toEqual({ cron: '30 10 * * 1', timezone: 'Europe/Paris' }); // the Page's zone by default
    expect(await pendingJobIds(campaign.id)).toEqual([`repeat:${campaignSchedulerId(campaign.id)}:${nextCron('30 10 * * 1', 'Europe/Paris')}`]);
    expect(await queue().getWaitingCount()).toBe(0);
    const invalidPatch = await api('PATCH', `/v1/campaigns/${campaign.id}`, { schedule: { cron: '0 25 * * *' } });
    expect(invalidPatch.status).toBe(400);
    expect(invalidPatch.json.error.code).toBe('invalid_schedule');

    const paused = await api('POST', `/v1/campaigns/${campaign.id}/pause`);
    expect(paused.json).toMatchObject({ status: 'PAUSED', nextOccurrenceAt: null });
    expect(await queue().getJobScheduler(campaignSchedulerId(campaign.id))).toBeUndefined();
    expect(await pendingJobIds(campaign.id)).toEqual([]);
    const runPaused = await api('POST', `/v1/campaigns/${campaign.id}/run`);
    expect(runPaused.status).toBe(409);

    const listedPaused = await api('GET', `/v1/campaigns?status=PAUSED&pageId=${PAGE.id}`);
    expect(listedPaused.json.items.map((c: { id: string }) => c.id)).toEqual([campaign.id]);
    expect((await api('GET', '/v1/campaigns?status=ACTIVE')).json.items).toEqual([]);

    const resumed = await api('POST', `/v1/campaigns/${campaign.id}/resume`);
    expect(resumed.json.status).toBe('ACTIVE');
    expect(await pendingJobIds(campaign.id)).toEqual([`repeat:${campaignSchedulerId(campaign.id)}:${nextCron('30 10 * * 1', 'Europe/Paris')}`]);

    const localTime = await api('PATCH', `/v1/campaigns/${campaign.id}`, { schedule: { localTime: '08:30' } });
    expect(localTime.json).toMatchObject({ schedule: { localTime: '08:30' }, nextOccurrenceAt: null });
    expect(await queue().getJobScheduler(campaignSchedulerId(campaign.id))).toMatchObject({ pattern: '*/15 * * * *', tz: 'UTC', template: { data: { slotMinutes: 15 } } });

    expect((await api('DELETE', `/v1/campaigns/${campaign.id}`)).status).toBe(204);
    expect(await queue().getJobScheduler(campaignSchedulerId(campaign.id))).toBeUndefined();
    expect((await api('GET', `/v1/campaigns/${campaign.id}`)).status).toBe(404);
    expect((await api('DELETE', `/v1/campaigns/${campaign.id}`)).status).toBe(404);
    // Runs of a deleted campaign stay reportable.
    expect((await api('GET', `/v1/campaigns/${campaign.id}/runs`)).json).toEqual({ items: [], nextCursor: null });
  });

  it('keeps the window in the scheduler, and reconciles schedulers left behind with the database', async () => {
    const startAt = new Date(Date.now() + 7 * 86_400_000);
    const endAt = new Date(Date.now() + 30 * 86_400_000);
    const created = await api('POST', '/v1/campaigns', { ...validBody, startAt: startAt.toISOString(), endAt: endAt.toISOString() });
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    expect(new Date(created.json.nextOccurrenceAt).getTime()).toBe(nextCronFire({ pattern: '0 9 * * *', tz: 'America/New_York', startDate: startAt, endDate: endAt }, new Date())!.getTime());
    expect(await queue().getJobScheduler(campaignSchedulerId(id))).toMatchObject({ startDate: startAt.getTime(), endDate: endAt.getTime() });
    const badWindow = await api('PATCH', `/v1/campaigns/${id}`, { startAt: new Date(endAt.getTime() + 1000).toISOString() });
    expect(badWindow.status).toBe(400);

    // Drift: paused in the database behind the API's back, and a scheduler for a campaign that does not exist.
    await ingest.deps.db.pool.query(`UPDATE "Campaign" SET status = 'PAUSED' WHERE id = $1`, [id]);
    const ghost = '11111111-1111-4111-8111-111111111111';
    await queue().upsertJobScheduler(campaignSchedulerId(ghost), { pattern: '0 9 * * *' }, { name: 'occurrence', data: { campaignId: ghost, schedule: 'x' } });
    const active = await api('POST', '/v1/campaigns', { ...validBody, name: 'Second' });
    await queue().removeJobScheduler(campaignSchedulerId(active.json.id));

    expect(await reconcileCampaignSchedulers(campaignSchedulerRows(ingest.deps.db), queue())).toEqual({ scheduled: 1, unchanged: 0, removed: 2 });
    const keys = (await queue().getJobSchedulers()).map((s) => s?.key).sort();
    expect(keys).toEqual([campaignSchedulerId(active.json.id)]);
  });

  it('shows the next occurrence BullMQ will fire, also where a DST change skips local midnight', async () => {
    // America/Santiago springs forward at local midnight on 5 September 2027: 00:00 that day does not exist.
    // BullMQ's parser (cron-parser 4) skips the day; cron-parser 5 answers 01:00 local (04:00Z on the 5th),
    // a time the scheduler never fires.
    const startAt = new Date('2027-09-04T12:00:00Z');
    const created = await api('POST', '/v1/campaigns', {
      ...validBody,
      name: 'Santiago midnight',
      schedule: { cron: '0 0 * * *', timezone: 'America/Santiago' },
      startAt: startAt.toISOString(),
    });
    expect(created.status).toBe(201);
    const fired = Date.parse('2027-09-06T03:00:00Z');
    expect(new Date(created.json.nextOccurrenceAt).getTime()).toBe(fired);
    expect(await pendingJobIds(created.json.id)).toEqual([`repeat:${campaignSchedulerId(created.json.id)}:${fired}`]);
  });
});
