import { createHash } from 'node:crypto';
import { defaultRepeatStrategy } from 'bullmq';
import { CampaignJobName, campaignSchedulerId, type CampaignOccurrenceJob } from './catalog.js';

/*
 * BullMQ job schedulers of the `campaigns` queue: which scheduler a campaign needs, whether the installed one
 * already is it, and the sync that makes Redis match the campaigns. The campaign rows come from the caller
 * (`campaignSchedulerRows(db)` of packages/db reads them), so this package runs no SQL and imports no db.
 */

/** A local-time campaign wakes every quarter hour (every current UTC offset is a multiple of 15 minutes). */
export const LOCAL_TIME_SLOT_MINUTES = 15;

/** When a campaign runs: a cron in a zone, or a wall-clock time in each subscriber's zone. */
export type ScheduleOfCampaign = { cron: string; timezone: string } | { localTime: string };

/** What the scheduler of a campaign depends on. */
export interface SchedulableCampaign {
  id: string;
  status: string;
  schedule: ScheduleOfCampaign;
  startAt: Date | null;
  endAt: Date | null;
}

/** Fingerprint of what decides the occurrence times (not the message, name or window). */
export function scheduleSignature(schedule: ScheduleOfCampaign): string {
  const canonical = 'localTime' in schedule ? `local|${schedule.localTime}` : `cron|${schedule.cron.trim().replace(/\s+/g, ' ')}|${schedule.timezone}`;
  return createHash('sha1').update(canonical).digest('hex').slice(0, 16);
}

export interface CampaignSchedulerSpec {
  id: string;
  repeat: { pattern: string; tz: string; startDate?: Date; endDate?: Date };
  template: { name: string; data: CampaignOccurrenceJob };
}

/** The job scheduler a campaign needs now, or null when it must have none (paused, deleted, or past its end). */
export function schedulerSpecFor(campaign: SchedulableCampaign, now: Date = new Date()): CampaignSchedulerSpec | null {
  if (campaign.status !== 'ACTIVE') return null;
  if (campaign.endAt && campaign.endAt.getTime() <= now.getTime()) return null;
  // startDate stays even once past (BullMQ starts from max(startDate, now)), so the spec does not drift with time.
  const window = {
    ...(campaign.startAt ? { startDate: campaign.startAt } : {}),
    ...(campaign.endAt ? { endDate: campaign.endAt } : {}),
  };
  const signature = scheduleSignature(campaign.schedule);
  if ('localTime' in campaign.schedule) {
    return {
      id: campaignSchedulerId(campaign.id),
      repeat: { pattern: `*/${LOCAL_TIME_SLOT_MINUTES} * * * *`, tz: 'UTC', ...window },
      template: { name: CampaignJobName.occurrence, data: { campaignId: campaign.id, schedule: signature, slotMinutes: LOCAL_TIME_SLOT_MINUTES } },
    };
  }
  return {
    id: campaignSchedulerId(campaign.id),
    repeat: { pattern: campaign.schedule.cron, tz: campaign.schedule.timezone, ...window },
    template: { name: CampaignJobName.occurrence, data: { campaignId: campaign.id, schedule: signature } },
  };
}

/**
 * When BullMQ's job scheduler fires a cron repeat next after `after`, computed by BullMQ's own strategy
 * (`defaultRepeatStrategy`, over the cron-parser 4 it ships), so what the API shows is what will run. The
 * cron-parser 5 API disagrees at some DST changes: where local midnight does not exist (America/Santiago in
 * September), 4 skips that day and 5 fires at 01:00. Throws on an invalid pattern; null when it never fires
 * (again), e.g. past `endDate` or on 30 February.
 */
export function nextCronFire(repeat: { pattern: string; tz: string; startDate?: Date; endDate?: Date }, after: Date): Date | null {
  const millis = defaultRepeatStrategy(after.getTime(), { pattern: repeat.pattern, tz: repeat.tz, startDate: repeat.startDate, endDate: repeat.endDate });
  return millis === undefined ? null : new Date(Math.max(millis, after.getTime()));
}

/** What we need of a BullMQ Queue (structural, so tests and callers can pass the real Queue or a narrower one). */
export interface CampaignSchedulerQueue {
  upsertJobScheduler(id: string, repeat: CampaignSchedulerSpec['repeat'], template: CampaignSchedulerSpec['template']): Promise<unknown>;
  removeJobScheduler(id: string): Promise<boolean>;
  getJobSchedulers(start?: number, end?: number, asc?: boolean): Promise<Array<{ key: string } | undefined>>;
  getJobScheduler(id: string): Promise<InstalledScheduler | undefined>;
}

/** The fields of BullMQ's JobSchedulerJson that the sync compares. */
export interface InstalledScheduler {
  key: string;
  pattern?: string | null;
  tz?: string | null;
  startDate?: number | null;
  endDate?: number | null;
  every?: number | null;
  template?: { data?: unknown };
}

/**
 * True when the installed scheduler already is `spec`. Re-upserting an unchanged scheduler is not free: it
 * replaces the pending iteration, and one that is overdue (workers were down at the slot) would be dropped.
 */
export function schedulerMatches(installed: InstalledScheduler | undefined, spec: CampaignSchedulerSpec): boolean {
  if (!installed || installed.every) return false;
  const same = (a: unknown, b: unknown) => (a ?? null) === (b ?? null);
  return (
    same(installed.pattern, spec.repeat.pattern) &&
    same(installed.tz, spec.repeat.tz) &&
    same(installed.startDate, spec.repeat.startDate?.getTime()) &&
    same(installed.endDate, spec.repeat.endDate?.getTime()) &&
    JSON.stringify(installed.template?.data ?? null) === JSON.stringify(spec.template.data)
  );
}

export type SchedulerSyncResult = 'scheduled' | 'unchanged' | 'removed';

/** Makes the campaign's scheduler match `campaign` (null: unknown or deleted): upserted while ACTIVE, removed otherwise. */
export async function applyCampaignScheduler(
  queue: CampaignSchedulerQueue,
  campaignId: string,
  campaign: SchedulableCampaign | null,
  now: Date = new Date(),
): Promise<SchedulerSyncResult> {
  const spec = campaign ? schedulerSpecFor(campaign, now) : null;
  if (!spec) {
    await queue.removeJobScheduler(campaignSchedulerId(campaignId));
    return 'removed';
  }
  if (schedulerMatches(await queue.getJobScheduler(spec.id), spec)) return 'unchanged';
  await queue.upsertJobScheduler(spec.id, spec.repeat, spec.template);
  return 'scheduled';
}

const SCHEDULER_ID = /^campaign-([0-9a-f-]{36})$/;

/** Campaign ids that have a scheduler installed (whatever their state in the database). */
export async function installedCampaignSchedulerIds(queue: CampaignSchedulerQueue): Promise<string[]> {
  const ids: string[] = [];
  for (const scheduler of await queue.getJobSchedulers()) {
    const match = scheduler ? SCHEDULER_ID.exec(scheduler.key) : null;
    if (match?.[1]) ids.push(match[1]);
  }
  return ids;
}

/** The rows a sync is computed from; `campaignSchedulerRows(db)` of packages/db is one. */
export interface CampaignRows {
  /** Runs `fn` with the campaign (null: unknown) read under a per-campaign lock that serialises syncs of it. */
  withLockedCampaign<T>(campaignId: string, fn: (campaign: SchedulableCampaign | null) => Promise<T>): Promise<T>;
  activeCampaignIds(): Promise<string[]>;
}

/**
 * Makes the campaign's job scheduler match its row: upserted while ACTIVE (same id, so BullMQ replaces the
 * pending slot instead of adding one), removed otherwise. The row is read under the campaign's lock and the
 * scheduler written before it is released, so concurrent syncs of one campaign cannot apply an older state last.
 */
export function syncCampaignScheduler(rows: CampaignRows, queue: CampaignSchedulerQueue, campaignId: string, now: Date = new Date()): Promise<SchedulerSyncResult> {
  return rows.withLockedCampaign(campaignId, (campaign) => applyCampaignScheduler(queue, campaignId, campaign, now));
}

/** At worker start: a scheduler for every ACTIVE campaign and none for any other (paused, deleted, unknown). */
export async function reconcileCampaignSchedulers(rows: CampaignRows, queue: CampaignSchedulerQueue, now: Date = new Date()): Promise<Record<SchedulerSyncResult, number>> {
  const ids = new Set([...(await rows.activeCampaignIds()), ...(await installedCampaignSchedulerIds(queue))]);
  const report: Record<SchedulerSyncResult, number> = { scheduled: 0, unchanged: 0, removed: 0 };
  for (const id of ids) report[await syncCampaignScheduler(rows, queue, id, now)]++;
  return report;
}
