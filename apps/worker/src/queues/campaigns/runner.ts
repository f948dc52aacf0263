import {
  campaignSchedulerRows,
  cancelScheduledRun,
  createCampaignRun,
  findPageTimeZone,
  findRunToExecute,
  findStalledRuns,
  finishRunFanOut,
  recurringTokenZones,
  startRunFanOut,
  getCampaignIncludingDeleted,
  occurrenceKey,
  type CampaignView,
} from '@renotify/db';
import { pickTimeZone } from '@renotify/domain';
import { campaignRunJobId, CampaignJobName, scheduleSignature, syncCampaignScheduler, type CampaignOccurrenceJob } from '@renotify/queue';
import type { WorkerDeps } from '../../deps.js';
import { fanOutAndRelease } from '../deliveries/release.js';
import { localTimeOccurrencesInSlot } from './local-time.js';
import { builtinVariables, renderCampaignMessage } from './message.js';

export type OccurrenceOutcome =
  | { fired: false; reason: 'campaign_not_found' | 'campaign_not_active' | 'schedule_replaced' | 'outside_window' | 'no_zone_due' }
  | { fired: true; runs: Array<{ runId: string; zone: string; occurrenceAt: Date; created: boolean; started: boolean }> };

function inWindow(campaign: CampaignView, at: Date): boolean {
  if (campaign.startAt && at.getTime() < campaign.startAt.getTime()) return false;
  if (campaign.endAt && at.getTime() >= campaign.endAt.getTime()) return false;
  return true;
}

async function pageTimeZone(deps: WorkerDeps, pageId: string): Promise<string> {
  return pickTimeZone((await findPageTimeZone(deps.db, pageId)) ?? undefined);
}

/** Effective zones of the topic's recurring tokens (active, and stopped ones so their skips are reported). */
async function zonesInUse(deps: WorkerDeps, campaign: CampaignView): Promise<string[]> {
  return recurringTokenZones(deps.db, campaign.pageId, campaign.topic);
}

/**
 * One scheduler firing. `slot` is the scheduled time carried by the job (never the processing time), so a
 * duplicate firing or a redelivered job maps to the same CampaignRun key. The campaign is re-read first:
 * a paused or deleted campaign, or a firing left over from a replaced schedule, creates nothing.
 * Cron campaigns: one run at the slot (to the minute). Local-time campaigns: one run per zone whose local
 * time falls inside [slot, slot + slotMinutes), started at that zone's instant (a delayed `run` job).
 */
export async function fireOccurrence(deps: WorkerDeps, data: CampaignOccurrenceJob, slot: Date, now: Date = new Date()): Promise<OccurrenceOutcome> {
  const campaign = await getCampaignIncludingDeleted(deps.db, data.campaignId);
  if (!campaign) {
    await syncCampaignScheduler(campaignSchedulerRows(deps.db), deps.queues.campaigns, data.campaignId);
    return { fired: false, reason: 'campaign_not_found' };
  }
  if (campaign.status !== 'ACTIVE') {
    await syncCampaignScheduler(campaignSchedulerRows(deps.db), deps.queues.campaigns, campaign.id);
    return { fired: false, reason: 'campaign_not_active' };
  }
  if (scheduleSignature(campaign.schedule) !== data.schedule) {
    await syncCampaignScheduler(campaignSchedulerRows(deps.db), deps.queues.campaigns, campaign.id);
    return { fired: false, reason: 'schedule_replaced' };
  }

  let due: Array<{ zone: string; occurrenceAt: Date }>;
  if ('localTime' in campaign.schedule) {
    const slotMinutes = data.slotMinutes ?? 15;
    const start = occurrenceKey(slot);
    due = localTimeOccurrencesInSlot(campaign.schedule.localTime, await zonesInUse(deps, campaign), start, slotMinutes, await pageTimeZone(deps, campaign.pageId));
    if (due.length === 0) return { fired: false, reason: 'no_zone_due' };
  } else {
    due = [{ zone: '', occurrenceAt: occurrenceKey(slot) }];
  }
  due = due.filter((occurrence) => inWindow(campaign, occurrence.occurrenceAt));
  if (due.length === 0) return { fired: false, reason: 'outside_window' };

  const runs: Array<{ runId: string; zone: string; occurrenceAt: Date; created: boolean; started: boolean }> = [];
  for (const occurrence of due) {
    const { run, created } = await createCampaignRun(deps.db, { campaignId: campaign.id, occurrenceAt: occurrence.occurrenceAt, zone: occurrence.zone });
    const delay = run.occurrenceAt.getTime() - now.getTime();
    if (delay > 0) {
      await deps.queues.campaigns.add(CampaignJobName.run, { runId: run.id }, { jobId: campaignRunJobId(run.id), delay });
      runs.push({ runId: run.id, zone: run.zone, occurrenceAt: run.occurrenceAt, created, started: false });
    } else {
      await executeRun(deps, run.id);
      runs.push({ runId: run.id, zone: run.zone, occurrenceAt: run.occurrenceAt, created, started: true });
    }
  }
  return { fired: true, runs };
}

export type RunOutcome =
  | { executed: false; reason: 'run_not_found' | 'already_fanned_out' | 'cancelled' }
  | { executed: true; matched: number; batches: number };

/**
 * Fans one run out to the campaign topic's recurring tokens (in the run's zone, for a local-time run) with
 * the same batched fan-out and dispatch as events, so the same rules apply. The message is rendered once and
 * frozen on the run. Idempotent: a replay inserts no new deliveries and re-queues unsent batches; a run
 * already fanned out is left alone; a run whose campaign is no longer ACTIVE is cancelled, never sent.
 */
export async function executeRun(deps: WorkerDeps, runId: string): Promise<RunOutcome> {
  const run = await findRunToExecute(deps.db, runId);
  if (!run) return { executed: false, reason: 'run_not_found' };
  if (run.status === 'FANNED_OUT') return { executed: false, reason: 'already_fanned_out' };
  if (run.status === 'CANCELLED') return { executed: false, reason: 'cancelled' };
  const campaign = await getCampaignIncludingDeleted(deps.db, run.campaignId);
  if (!campaign || campaign.status !== 'ACTIVE') {
    await cancelScheduledRun(deps.db, runId);
    deps.logger.info({ runId, campaignId: run.campaignId, status: campaign?.status }, 'campaign run cancelled: campaign not active');
    return { executed: false, reason: 'cancelled' };
  }

  const pageZone = await pageTimeZone(deps, campaign.pageId);
  const zone = run.zone ? pickTimeZone(run.zone, pageZone) : 'cron' in campaign.schedule ? campaign.schedule.timezone : pageZone;
  const message = renderCampaignMessage(campaign.message, campaign.variables, builtinVariables(run.occurrenceAt, zone, campaign.name));
  const replay = run.status === 'FANNING_OUT';
  await startRunFanOut(deps.db, runId, message);
  const source = {
    sourceType: 'CAMPAIGN_RUN',
    sourceId: runId,
    pageId: campaign.pageId,
    topics: [campaign.topic],
    kinds: ['RECURRING'],
    ...(run.zone ? { timezones: [run.zone] } : {}),
  } as const;
  const result = await fanOutAndRelease(deps, source, null, replay);
  await finishRunFanOut(deps.db, runId, result.matched + result.stopped, result.batches);
  deps.logger.info({ runId, campaignId: campaign.id, zone: run.zone, matched: result.matched, stopped: result.stopped, batches: result.batches }, 'campaign run fanned out');
  return { executed: true, matched: result.matched, batches: result.batches };
}

/**
 * Runs left SCHEDULED or FANNING_OUT after their time (their job was lost with Redis, or failed for good) get
 * a `run` job again; executing a run is idempotent, and the fixed job id skips runs whose job still exists.
 */
export async function requeueStalledRuns(deps: WorkerDeps, now: Date = new Date(), graceMs = 5 * 60_000): Promise<number> {
  const rows = await findStalledRuns(deps.db, new Date(now.getTime() - graceMs));
  if (rows.length) {
    await deps.queues.campaigns.addBulk(rows.map((id) => ({ name: CampaignJobName.run, data: { runId: id }, opts: { jobId: campaignRunJobId(id) } })));
    deps.logger.warn({ runs: rows.length }, 'stalled campaign runs re-queued');
  }
  return rows.length;
}
