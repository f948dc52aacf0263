import { mapStrings, templateVariables } from '@renotify/domain';
import type { Database } from './client.js';
import { withTransaction } from './tx.js';
import type { Campaign, CampaignRun } from './generated/prisma/client.js';
import type { CampaignStatus } from './generated/prisma/enums.js';

/*
 * Campaigns: scheduled messages to a topic's recurring subscribers. The database is the source of truth;
 * BullMQ job schedulers (one per ACTIVE campaign) only wake the worker, which re-checks the campaign before
 * anything is sent. Every occurrence is one CampaignRun row, unique on (campaign, occurrence, zone).
 */

/** Either a cron expression in one IANA zone, or a wall-clock time in each subscriber's own zone. */
export type CampaignSchedule = { cron: string; timezone: string } | { localTime: string };

export interface CampaignView {
  id: string;
  pageId: string;
  name: string;
  topic: string;
  /** The Send API `message` object; its strings may hold {{placeholders}}, filled in for each run. */
  message: Record<string, unknown>;
  variables: Record<string, string | number>;
  schedule: CampaignSchedule;
  startAt: Date | null;
  endAt: Date | null;
  status: CampaignStatus;
  deferIneligible: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewCampaign {
  pageId: string;
  name: string;
  topic: string;
  message: Record<string, unknown>;
  variables?: Record<string, string | number>;
  schedule: CampaignSchedule;
  startAt?: Date | null;
  endAt?: Date | null;
  deferIneligible?: boolean;
}

export type CampaignPatch = Partial<Omit<NewCampaign, 'pageId'>>;

export function toCampaignView(row: Campaign): CampaignView {
  return {
    id: row.id,
    pageId: row.pageId,
    name: row.name,
    topic: row.topic,
    message: row.message as Record<string, unknown>,
    variables: (row.variables ?? {}) as Record<string, string | number>,
    schedule: row.localTime ? { localTime: row.localTime } : { cron: row.cron ?? '', timezone: row.timezone ?? 'UTC' },
    startAt: row.startAt,
    endAt: row.endAt,
    status: row.status,
    deferIneligible: row.deferIneligible,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function scheduleColumns(schedule: CampaignSchedule) {
  return 'localTime' in schedule
    ? { cron: null, timezone: null, localTime: schedule.localTime }
    : { cron: schedule.cron, timezone: schedule.timezone, localTime: null };
}

export async function createCampaign(db: Database, input: NewCampaign): Promise<CampaignView> {
  const row = await db.prisma.campaign.create({
    data: {
      pageId: input.pageId,
      name: input.name,
      topic: input.topic,
      message: input.message as object,
      variables: input.variables ?? {},
      ...scheduleColumns(input.schedule),
      startAt: input.startAt ?? null,
      endAt: input.endAt ?? null,
      deferIneligible: input.deferIneligible ?? false,
    },
  });
  return toCampaignView(row);
}

/** A campaign that is not DELETED (deleted ones are kept for their run reports, see `getCampaignIncludingDeleted`). */
export async function getCampaign(db: Database, id: string): Promise<CampaignView | null> {
  const row = await db.prisma.campaign.findFirst({ where: { id, status: { not: 'DELETED' } } });
  return row ? toCampaignView(row) : null;
}

export async function getCampaignIncludingDeleted(db: Database, id: string): Promise<CampaignView | null> {
  const row = await db.prisma.campaign.findUnique({ where: { id } });
  return row ? toCampaignView(row) : null;
}

export interface CampaignFilter {
  pageId?: string;
  status?: 'ACTIVE' | 'PAUSED';
  /** Keyset cursor: the last id of the previous page. */
  after?: string;
  limit: number;
}

export async function listCampaigns(db: Database, filter: CampaignFilter): Promise<{ items: CampaignView[]; nextCursor: string | null }> {
  const rows = await db.prisma.campaign.findMany({
    where: {
      status: filter.status ?? { not: 'DELETED' },
      ...(filter.pageId ? { pageId: filter.pageId } : {}),
      ...(filter.after ? { id: { gt: filter.after } } : {}),
    },
    orderBy: { id: 'asc' },
    take: filter.limit + 1,
  });
  const page = rows.slice(0, filter.limit);
  return { items: page.map(toCampaignView), nextCursor: rows.length > filter.limit ? (page[page.length - 1]?.id ?? null) : null };
}

/** Changes a live (not DELETED) campaign; null when there is none. */
export async function updateCampaign(db: Database, id: string, patch: CampaignPatch): Promise<CampaignView | null> {
  const data: Record<string, unknown> = {};
  if (patch.name !== undefined) data.name = patch.name;
  if (patch.topic !== undefined) data.topic = patch.topic;
  if (patch.message !== undefined) data.message = patch.message;
  if (patch.variables !== undefined) data.variables = patch.variables;
  if (patch.schedule !== undefined) Object.assign(data, scheduleColumns(patch.schedule));
  if (patch.startAt !== undefined) data.startAt = patch.startAt;
  if (patch.endAt !== undefined) data.endAt = patch.endAt;
  if (patch.deferIneligible !== undefined) data.deferIneligible = patch.deferIneligible;
  const result = await db.prisma.campaign.updateMany({ where: { id, status: { not: 'DELETED' } }, data });
  return result.count === 0 ? null : getCampaign(db, id);
}

/**
 * Moves a live campaign to `status` (ACTIVE, PAUSED or DELETED). Deleting is soft: runs and their deliveries
 * stay reportable. Null when the campaign does not exist or is already deleted.
 */
export async function setCampaignStatus(db: Database, id: string, status: CampaignStatus): Promise<CampaignView | null> {
  const result = await db.prisma.campaign.updateMany({ where: { id, status: { not: 'DELETED' } }, data: { status } });
  if (result.count === 0) return null;
  return getCampaignIncludingDeleted(db, id);
}

// ---------------------------------------------------------------------------------------------------------
// Templates

/** Filled in for every run from its occurrence time, in the run's zone (or the campaign's). */
export const BUILTIN_CAMPAIGN_VARIABLES = ['date', 'time', 'weekday', 'campaign'] as const;

/** Every {{placeholder}} used anywhere in a message (text, template titles, button labels …). */
export function messagePlaceholders(message: unknown): string[] {
  const names = new Set<string>();
  mapStrings(message, (text) => {
    for (const name of templateVariables(text)) names.add(name);
    return text;
  });
  return [...names];
}

/** Placeholders that neither a built-in nor `variables` can fill (a campaign with any is refused). */
export function unknownPlaceholders(message: unknown, variables: Record<string, unknown>): string[] {
  const known = new Set<string>([...BUILTIN_CAMPAIGN_VARIABLES, ...Object.keys(variables)]);
  return messagePlaceholders(message).filter((name) => !known.has(name));
}

// ---------------------------------------------------------------------------------------------------------
// Runs

export type CampaignRunStatus = 'SCHEDULED' | 'FANNING_OUT' | 'FANNED_OUT' | 'CANCELLED';

export interface CampaignRunView {
  id: string;
  campaignId: string;
  occurrenceAt: Date;
  /** The IANA zone served by a local-time run; "" for a cron run or a run-now. */
  zone: string;
  status: string;
  matchedCount: number;
  batchCount: number;
  startedAt: Date;
  finishedAt: Date | null;
}

export interface RunCounts {
  total: number;
  /** Deliveries by status (PENDING, SENDING, SENT, FAILED, SKIPPED, DEAD). */
  byStatus: Record<string, number>;
  /** SKIPPED deliveries by reason (FREQUENCY_WINDOW, STOPPED, TOKEN_EXPIRED …). */
  skipped: Record<string, number>;
  /** PENDING deliveries waiting for a later time, by reason (quiet hours, deferred frequency window …). */
  deferred: Record<string, number>;
  /** Nothing PENDING or SENDING is left. */
  complete: boolean;
}

export type CampaignRunReport = CampaignRunView & { counts: RunCounts };

function toRunView(row: CampaignRun): CampaignRunView {
  return {
    id: row.id,
    campaignId: row.campaignId,
    occurrenceAt: row.occurrenceAt,
    zone: row.zone,
    status: row.status,
    matchedCount: row.matchedCount,
    batchCount: row.batchCount,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

/** Occurrences are keyed to the minute: a scheduler slot, a redelivered job or a second run-now in the same minute are one run. */
export function occurrenceKey(at: Date | number): Date {
  const ms = typeof at === 'number' ? at : at.getTime();
  return new Date(Math.floor(ms / 60_000) * 60_000);
}

/**
 * Records one occurrence with INSERT … ON CONFLICT DO NOTHING on (campaignId, occurrenceAt, zone): however
 * many times a slot fires, by however many workers, one run exists. `created` tells whether this call made it.
 */
export async function createCampaignRun(
  db: Database,
  input: { campaignId: string; occurrenceAt: Date; zone?: string },
): Promise<{ run: CampaignRunView; created: boolean }> {
  const occurrenceAt = occurrenceKey(input.occurrenceAt);
  const zone = input.zone ?? '';
  const inserted = await db.pool.query<CampaignRun>(
    `INSERT INTO "CampaignRun" ("campaignId", "occurrenceAt", zone, status) VALUES ($1::uuid, $2, $3, 'SCHEDULED')
     ON CONFLICT ("campaignId", "occurrenceAt", zone) DO NOTHING RETURNING *`,
    [input.campaignId, occurrenceAt, zone],
  );
  if (inserted.rows[0]) return { run: toRunView(inserted.rows[0]), created: true };
  const existing = await db.pool.query<CampaignRun>(
    `SELECT * FROM "CampaignRun" WHERE "campaignId" = $1::uuid AND "occurrenceAt" = $2 AND zone = $3`,
    [input.campaignId, occurrenceAt, zone],
  );
  return { run: toRunView(existing.rows[0]!), created: false };
}

export async function getCampaignRun(db: Database, runId: string): Promise<CampaignRunView | null> {
  const row = await db.prisma.campaignRun.findUnique({ where: { id: runId } });
  return row ? toRunView(row) : null;
}

async function countsFor(db: Database, runIds: string[]): Promise<Map<string, RunCounts>> {
  const counts = new Map<string, RunCounts>();
  for (const id of runIds) counts.set(id, { total: 0, byStatus: {}, skipped: {}, deferred: {}, complete: true });
  if (runIds.length === 0) return counts;
  const { rows } = await db.pool.query<{ sourceId: string; status: string; skipReason: string | null; n: number }>(
    `SELECT "sourceId", status, "skipReason", count(*)::int AS n FROM "Delivery"
     WHERE "sourceId" = ANY($1::text[]) GROUP BY 1, 2, 3`,
    [runIds],
  );
  for (const row of rows) {
    const entry = counts.get(row.sourceId)!;
    entry.total += row.n;
    entry.byStatus[row.status] = (entry.byStatus[row.status] ?? 0) + row.n;
    if (row.status === 'SKIPPED' && row.skipReason) entry.skipped[row.skipReason] = (entry.skipped[row.skipReason] ?? 0) + row.n;
    if (row.status === 'PENDING' && row.skipReason) entry.deferred[row.skipReason] = (entry.deferred[row.skipReason] ?? 0) + row.n;
    if (row.status === 'PENDING' || row.status === 'SENDING') entry.complete = false;
  }
  return counts;
}

export async function getCampaignRunReport(db: Database, campaignId: string, runId: string): Promise<CampaignRunReport | null> {
  const row = await db.prisma.campaignRun.findFirst({ where: { id: runId, campaignId } });
  if (!row) return null;
  const counts = await countsFor(db, [row.id]);
  return { ...toRunView(row), counts: counts.get(row.id)! };
}

/** Newest occurrence first; `before` is the `nextCursor` (a run id) of the previous page. */
export async function listCampaignRuns(
  db: Database,
  campaignId: string,
  options: { limit: number; before?: string },
): Promise<{ items: CampaignRunReport[]; nextCursor: string | null }> {
  let cursor: { occurrenceAt: Date; zone: string } | null = null;
  if (options.before) {
    cursor = await db.prisma.campaignRun.findFirst({ where: { id: options.before, campaignId }, select: { occurrenceAt: true, zone: true } });
    if (!cursor) return { items: [], nextCursor: null };
  }
  const { rows } = await db.pool.query<CampaignRun>(
    `SELECT * FROM "CampaignRun" WHERE "campaignId" = $1::uuid
       AND ($2::timestamp IS NULL OR ("occurrenceAt", zone) < ($2::timestamp, $3::text))
     ORDER BY "occurrenceAt" DESC, zone DESC LIMIT $4`,
    [campaignId, cursor?.occurrenceAt ?? null, cursor?.zone ?? '', options.limit + 1],
  );
  const page = rows.slice(0, options.limit);
  const counts = await countsFor(db, page.map((row) => row.id));
  return {
    items: page.map((row) => ({ ...toRunView(row), counts: counts.get(row.id)! })),
    nextCursor: rows.length > options.limit ? (page[page.length - 1]?.id ?? null) : null,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Scheduler sync reads: the BullMQ side (specs, matching, upsert/remove, the sync itself) is packages/queue's
// campaign-schedulers.ts; this package only reads the rows it is computed from, under a per-campaign lock.

/** What the scheduler sync of packages/queue needs from the database (its `CampaignRows`, structurally). */
export interface CampaignSchedulerRows {
  /**
   * Runs `fn` with the campaign's row (null: unknown) read after taking a transaction-scoped advisory lock on the
   * campaign, so every sync of one campaign (ingest and workers alike) is serialised and the last one to run
   * applies the latest committed state.
   */
  withLockedCampaign<T>(campaignId: string, fn: (campaign: CampaignView | null) => Promise<T>): Promise<T>;
  /** Ids of every ACTIVE campaign. */
  activeCampaignIds(): Promise<string[]>;
}

export function campaignSchedulerRows(db: Database): CampaignSchedulerRows {
  return {
    withLockedCampaign: (campaignId, fn) =>
      withTransaction(db, async (client) => {
        await client.query(`SELECT pg_advisory_xact_lock(hashtext('campaign-scheduler:' || $1::text))`, [campaignId]);
        const row = await db.prisma.campaign.findUnique({ where: { id: campaignId } });
        return fn(row ? toCampaignView(row) : null);
      }),
    activeCampaignIds: async () =>
      (await db.prisma.campaign.findMany({ where: { status: 'ACTIVE' }, select: { id: true } })).map((campaign) => campaign.id),
  };
}
