import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  BUILTIN_CAMPAIGN_VARIABLES,
  campaignSchedulerRows,
  createCampaign,
  createCampaignRun,
  getCampaign,
  getCampaignIncludingDeleted,
  getCampaignRunReport,
  getReceiptCounts,
  getPage,
  listCampaignRuns,
  listCampaigns,
  setCampaignStatus,
  unknownPlaceholders,
  updateCampaign,
  withRetainedRunCounts,
  type CampaignSchedule,
  type CampaignView,
} from '@renotify/db';
import { isValidTimeZone } from '@renotify/domain';
import { sendApiMessageProblems } from '@renotify/messenger';
import { campaignRunJobId, CampaignJobName, nextCronFire, syncCampaignScheduler } from '@renotify/queue';
import type { IngestDeps } from '../deps.js';
import { receiptCountsSchema } from './receipt-counts.js';
import { HttpError, notFound } from '../http-errors.js';
import { pageIdSchema } from './pages.js';
import { errorResponses, idempotencyKeyHeader, noContent, pageOf, timestamp } from './schemas.js';

const campaignSchema = z
  .object({
    id: z.string(),
    pageId: z.string(),
    name: z.string(),
    topic: z.string(),
    message: z.record(z.string(), z.unknown()).describe('The Send API message; its strings may hold {{placeholders}}'),
    variables: z.record(z.string(), z.union([z.string(), z.number()])),
    schedule: z.union([z.object({ cron: z.string(), timezone: z.string() }), z.object({ localTime: z.string() })]),
    startAt: timestamp.nullable(),
    endAt: timestamp.nullable(),
    status: z.enum(['ACTIVE', 'PAUSED', 'DELETED']),
    deferIneligible: z.boolean(),
    createdAt: timestamp,
    updatedAt: timestamp,
    nextOccurrenceAt: timestamp.nullable().describe('Next cron occurrence of an ACTIVE campaign; null otherwise'),
  })
  .meta({ id: 'Campaign' });

const campaignRunSchema = z
  .object({
    id: z.string(),
    campaignId: z.string(),
    occurrenceAt: timestamp,
    zone: z.string().describe('The IANA zone served by a local-time run; "" for a cron run or a run-now'),
    status: z.string(),
    matchedCount: z.number().int(),
    batchCount: z.number().int(),
    startedAt: timestamp,
    finishedAt: timestamp.nullable(),
  })
  .meta({ id: 'CampaignRun' });

const campaignRunReportSchema = campaignRunSchema
  .extend({
    counts: z.object({
      total: z.number().int(),
      byStatus: z.record(z.string(), z.number()),
      skipped: z.record(z.string(), z.number()),
      deferred: z.record(z.string(), z.number()),
      complete: z.boolean(),
    }),
    receipts: receiptCountsSchema,
  })
  .meta({ id: 'CampaignRunReport' });

const tags = ['campaigns'];

const MESSAGE_JSON_MAX_BYTES = 20_000;
const TEMPLATE_TEXT_MAX = 2_000;
const PAGE_LIMIT_MAX = 200;

/** `"Hello"` is shorthand for `{ text: "Hello" }`; otherwise a Send API message with text or an attachment. */
const messageSchema = z
  .union([
    z.string().min(1).max(TEMPLATE_TEXT_MAX).transform((text) => ({ text })),
    z
      .strictObject({
        text: z.string().min(1).max(TEMPLATE_TEXT_MAX).optional(),
        attachment: z.record(z.string(), z.unknown()).optional(),
        quick_replies: z.array(z.record(z.string(), z.unknown())).max(13).optional(),
      })
      .refine((message) => (message.text === undefined) !== (message.attachment === undefined), 'give exactly one of "text" or "attachment"'),
  ])
  .refine((message) => Buffer.byteLength(JSON.stringify(message)) <= MESSAGE_JSON_MAX_BYTES, `message must be at most ${MESSAGE_JSON_MAX_BYTES} bytes of JSON`)
  // Meta refuses a malformed message with code 100 for every recipient: refuse it here with a 400 instead.
  .superRefine((message, ctx) => {
    for (const problem of sendApiMessageProblems(message)) ctx.addIssue({ code: 'custom', path: problem.path, message: `Send API: ${problem.message}` });
  });

const variablesSchema = z
  .record(
    z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'variable names are letters, digits, "_", "." or "-"')
      .refine((name) => !(BUILTIN_CAMPAIGN_VARIABLES as readonly string[]).includes(name), `is built in (${BUILTIN_CAMPAIGN_VARIABLES.join(', ')})`),
    z.union([z.string().max(1_000), z.number().finite()]),
  )
  .refine((variables) => Object.keys(variables).length <= 50, 'at most 50 variables');

const scheduleSchema = z.union([
  z.strictObject({ cron: z.string().trim().min(1).max(120), timezone: z.string().min(1).max(64).optional() }),
  z.strictObject({ localTime: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be "HH:MM" (24h)') }),
], { error: 'schedule must be { cron, timezone? } or { localTime: "HH:MM" }' });

const isoDate = z.iso.datetime({ offset: true }).transform((value) => new Date(value));

const campaignFields = {
  name: z.string().trim().min(1).max(200),
  topic: z.string().trim().min(1).max(255),
  message: messageSchema,
  variables: variablesSchema,
  schedule: scheduleSchema,
  startAt: isoDate.nullable(),
  endAt: isoDate.nullable(),
  deferIneligible: z.boolean(),
};

const createBody = z.strictObject({
  pageId: pageIdSchema,
  name: campaignFields.name,
  topic: campaignFields.topic,
  message: campaignFields.message,
  variables: campaignFields.variables.optional(),
  schedule: campaignFields.schedule,
  startAt: campaignFields.startAt.optional(),
  endAt: campaignFields.endAt.optional(),
  deferIneligible: campaignFields.deferIneligible.optional(),
});

const patchBody = z
  .strictObject({
    name: campaignFields.name.optional(),
    topic: campaignFields.topic.optional(),
    message: campaignFields.message.optional(),
    variables: campaignFields.variables.optional(),
    schedule: campaignFields.schedule.optional(),
    startAt: campaignFields.startAt.optional(),
    endAt: campaignFields.endAt.optional(),
    deferIneligible: campaignFields.deferIneligible.optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, 'send at least one field to change');

const idParams = z.object({ id: z.uuid('campaign id must be a UUID') });
const runParams = idParams.extend({ runId: z.uuid('run id must be a UUID') });
const listQuery = z.strictObject({
  pageId: pageIdSchema.optional(),
  status: z.enum(['ACTIVE', 'PAUSED']).optional(),
  cursor: z.uuid('cursor must be the nextCursor of a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(PAGE_LIMIT_MAX).default(50),
});
const runsQuery = z.strictObject({
  cursor: z.uuid('cursor must be the nextCursor of a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(PAGE_LIMIT_MAX).default(50),
});
const runNowBody = z
  .strictObject({
    /** Idempotency: runs are unique per campaign and minute, so the same occurrenceAt never runs twice. Default: now. */
    occurrenceAt: isoDate.optional(),
  })
  // No body at all arrives as null.
  .nullish();

const invalidSchedule = (reason: string) => new HttpError(400, 'invalid_schedule', `Invalid schedule: ${reason}`);

/**
 * Resolves and checks a schedule: a standard 5-field cron (minute granularity: campaigns never run more than
 * once a minute) in a valid IANA zone (the Page's by default), or a local time. Returns the next occurrence
 * of a cron schedule, which proves it ever fires. The cron is read by BullMQ's own parser (`nextCronFire`): what
 * is accepted here is what the scheduler runs.
 */
export function resolveSchedule(input: z.infer<typeof scheduleSchema>, pageTimeZone: string, now = new Date()): { schedule: CampaignSchedule; nextAt: Date | null } {
  if ('localTime' in input) return { schedule: { localTime: input.localTime }, nextAt: null };
  const timezone = input.timezone ?? pageTimeZone;
  if (!isValidTimeZone(timezone)) throw invalidSchedule(`"${timezone}" is not an IANA time zone (e.g. "Europe/Paris")`);
  const cron = input.cron.replace(/\s+/g, ' ');
  const fields = cron.split(' ').length;
  if (fields !== 5) {
    throw invalidSchedule(`cron "${cron}" has ${fields} field(s); use the standard 5 (minute hour day-of-month month day-of-week)`);
  }
  let nextAt: Date | null;
  try {
    nextAt = nextCronFire({ pattern: cron, tz: timezone }, now);
  } catch (error) {
    throw invalidSchedule(`cron "${cron}": ${(error as Error).message}`);
  }
  if (!nextAt) throw invalidSchedule(`cron "${cron}" never fires`);
  return { schedule: { cron, timezone }, nextAt };
}

function checkPlaceholders(message: Record<string, unknown>, variables: Record<string, string | number>) {
  const unknown = unknownPlaceholders(message, variables);
  if (unknown.length > 0) {
    throw new HttpError(
      400,
      'invalid_template',
      `The message uses ${unknown.map((name) => `{{${name}}}`).join(', ')}, which neither "variables" nor the built-ins (${BUILTIN_CAMPAIGN_VARIABLES.join(', ')}) define`,
      unknown.map((name) => ({ path: 'message', message: `{{${name}}} is neither in "variables" nor built in` })),
      { unknown },
    );
  }
}

/** `endAt` is checked against now only when it is being set (an ended campaign may still be renamed). */
function checkWindow(startAt: Date | null | undefined, endAt: Date | null | undefined, endIsNew: boolean, now = new Date()) {
  if (endIsNew && endAt && endAt.getTime() <= now.getTime()) throw new HttpError(400, 'invalid_request', 'endAt must be in the future');
  if (startAt && endAt && startAt.getTime() >= endAt.getTime()) throw new HttpError(400, 'invalid_request', 'startAt must be before endAt');
}

/** The next occurrence is the one BullMQ's scheduler will fire (same strategy, parser, startDate and endDate). */
function withNext(campaign: CampaignView, now = new Date()) {
  let nextOccurrenceAt: Date | null = null;
  if (campaign.status === 'ACTIVE' && 'cron' in campaign.schedule) {
    try {
      nextOccurrenceAt = nextCronFire(
        { pattern: campaign.schedule.cron, tz: campaign.schedule.timezone, ...(campaign.startAt && { startDate: campaign.startAt }), ...(campaign.endAt && { endDate: campaign.endAt }) },
        now,
      );
    } catch {
      nextOccurrenceAt = null;
    }
  }
  return { ...campaign, nextOccurrenceAt };
}

/**
 * The campaign's job scheduler follows its row. A failure here does not undo the change: the worker's
 * reconciliation (at start and every 10 minutes) repairs the scheduler, and occurrences re-check the row.
 */
async function syncScheduler(deps: IngestDeps, request: FastifyRequest, campaignId: string) {
  try {
    const result = await syncCampaignScheduler(campaignSchedulerRows(deps.db), deps.queues.campaigns, campaignId);
    request.log.info({ campaignId, scheduler: result }, 'campaign scheduler synced');
  } catch (error) {
    request.log.error({ err: error, campaignId }, 'campaign scheduler sync failed; the worker reconciliation will repair it');
  }
}

async function loadLive(deps: IngestDeps, id: string): Promise<CampaignView> {
  const campaign = await getCampaign(deps.db, id);
  if (!campaign) throw notFound(`Campaign ${id}`);
  return campaign;
}

/** Campaigns: scheduled messages to the recurring subscribers of a topic. */
export async function campaignRoutes(plainApp: FastifyInstance, { deps }: { deps: IngestDeps }) {
  const app = plainApp.withTypeProvider<ZodTypeProvider>();
  const createSchema = { tags, summary: 'Create a campaign', headers: idempotencyKeyHeader, body: createBody, response: { 201: campaignSchema, ...errorResponses } };
  app.post('/v1/campaigns', { config: { idempotent: true }, schema: createSchema }, async (request, reply) => {
    const body = request.body;
    const page = await getPage(deps.db, body.pageId);
    if (!page) throw notFound(`Page ${body.pageId}`);
    const { schedule } = resolveSchedule(body.schedule, page.timezone);
    const variables = body.variables ?? {};
    checkPlaceholders(body.message, variables);
    checkWindow(body.startAt, body.endAt, true);
    const campaign = await createCampaign(deps.db, {
      pageId: body.pageId,
      name: body.name,
      topic: body.topic,
      message: body.message,
      variables,
      schedule,
      startAt: body.startAt ?? null,
      endAt: body.endAt ?? null,
      deferIneligible: body.deferIneligible ?? false,
    });
    request.log.info({ campaignId: campaign.id, pageId: campaign.pageId, topic: campaign.topic }, 'campaign created');
    await syncScheduler(deps, request, campaign.id);
    return reply.status(201).send(withNext(campaign));
  });

  const listSchema = { tags, summary: 'List campaigns', querystring: listQuery, response: { 200: pageOf(campaignSchema), ...errorResponses } };
  app.get('/v1/campaigns', { schema: listSchema }, async (request) => {
    const query = request.query;
    const result = await listCampaigns(deps.db, {
      limit: query.limit,
      ...(query.pageId !== undefined && { pageId: query.pageId }),
      ...(query.status !== undefined && { status: query.status }),
      ...(query.cursor !== undefined && { after: query.cursor }),
    });
    return { items: result.items.map((campaign) => withNext(campaign)), nextCursor: result.nextCursor };
  });

  const getSchema = { tags, summary: 'Get a campaign', params: idParams, response: { 200: campaignSchema, ...errorResponses } };
  app.get('/v1/campaigns/:id', { schema: getSchema }, async (request) => {
    const { id } = request.params;
    return withNext(await loadLive(deps, id));
  });

  const patchSchema = { tags, summary: 'Change a campaign', params: idParams, body: patchBody, response: { 200: campaignSchema, ...errorResponses } };
  app.patch('/v1/campaigns/:id', { schema: patchSchema }, async (request) => {
    const { id } = request.params;
    const patch = request.body;
    const current = await loadLive(deps, id);
    const page = await getPage(deps.db, current.pageId);
    const schedule = patch.schedule ? resolveSchedule(patch.schedule, page?.timezone ?? 'UTC').schedule : undefined;
    checkPlaceholders(patch.message ?? current.message, patch.variables ?? current.variables);
    checkWindow(patch.startAt === undefined ? current.startAt : patch.startAt, patch.endAt === undefined ? current.endAt : patch.endAt, patch.endAt !== undefined);
    const updated = await updateCampaign(deps.db, id, {
      ...(patch.name !== undefined && { name: patch.name }),
      ...(patch.topic !== undefined && { topic: patch.topic }),
      ...(patch.message !== undefined && { message: patch.message }),
      ...(patch.variables !== undefined && { variables: patch.variables }),
      ...(schedule !== undefined && { schedule }),
      ...(patch.startAt !== undefined && { startAt: patch.startAt }),
      ...(patch.endAt !== undefined && { endAt: patch.endAt }),
      ...(patch.deferIneligible !== undefined && { deferIneligible: patch.deferIneligible }),
    });
    if (!updated) throw notFound(`Campaign ${id}`);
    request.log.info({ campaignId: id, fields: Object.keys(patch) }, 'campaign updated');
    await syncScheduler(deps, request, id);
    return withNext(updated);
  });

  for (const [action, status] of [
    ['pause', 'PAUSED'],
    ['resume', 'ACTIVE'],
  ] as const) {
    const actionSchema = { tags, summary: `${action === 'pause' ? 'Pause' : 'Resume'} a campaign`, params: idParams, response: { 200: campaignSchema, ...errorResponses } };
    app.post(`/v1/campaigns/:id/${action}`, { schema: actionSchema }, async (request) => {
      const { id } = request.params;
      const campaign = await setCampaignStatus(deps.db, id, status);
      if (!campaign) throw notFound(`Campaign ${id}`);
      request.log.info({ campaignId: id, status }, `campaign ${action}d`);
      await syncScheduler(deps, request, id);
      return withNext(campaign);
    });
  }

  const deleteSchema = { tags, summary: 'Delete a campaign (soft; runs stay reportable)', params: idParams, response: { 204: noContent, ...errorResponses } };
  app.delete('/v1/campaigns/:id', { schema: deleteSchema }, async (request, reply) => {
    const { id } = request.params;
    if (!(await setCampaignStatus(deps.db, id, 'DELETED'))) throw notFound(`Campaign ${id}`);
    request.log.info({ campaignId: id }, 'campaign deleted (soft; runs stay reportable)');
    await syncScheduler(deps, request, id);
    return reply.status(204).send();
  });

  /** One occurrence now (zone "" : every recurring subscriber of the topic, whatever the schedule mode). */
  const runResult = z.object({ run: campaignRunSchema, created: z.boolean() });
  const runSchema = {
    tags,
    summary: 'Run one occurrence now (202 when created, 200 when that occurrence already ran)',
    params: idParams,
    headers: idempotencyKeyHeader,
    body: runNowBody,
    response: { 200: runResult, 202: runResult, ...errorResponses },
  };
  app.post('/v1/campaigns/:id/run', { config: { idempotent: true }, schema: runSchema }, async (request, reply) => {
    const { id } = request.params;
    const body = request.body;
    const campaign = await loadLive(deps, id);
    if (campaign.status !== 'ACTIVE') throw new HttpError(409, 'campaign_paused', `Campaign ${id} is paused; resume it before running it`);
    const { run, created } = await createCampaignRun(deps.db, { campaignId: id, occurrenceAt: body?.occurrenceAt ?? new Date() });
    // Also for an existing run: a run whose job was lost is picked up again (executing a run is idempotent).
    await deps.queues.campaigns.add(CampaignJobName.run, { runId: run.id }, { jobId: campaignRunJobId(run.id) });
    request.log.info({ campaignId: id, runId: run.id, occurrenceAt: run.occurrenceAt, created }, 'campaign run requested');
    return reply.status(created ? 202 : 200).send({ run, created });
  });

  const runsSchema = { tags, summary: "A campaign's runs, newest first", params: idParams, querystring: runsQuery, response: { 200: pageOf(campaignRunReportSchema), ...errorResponses } };
  app.get('/v1/campaigns/:id/runs', { schema: runsSchema }, async (request) => {
    const { id } = request.params;
    const query = request.query;
    if (!(await getCampaignIncludingDeleted(deps.db, id))) throw notFound(`Campaign ${id}`);
    const runs = await listCampaignRuns(deps.db, id, { limit: query.limit, ...(query.cursor !== undefined && { before: query.cursor }) });
    // Runs whose deliveries retention deleted report the counts stored when they finished.
    const items = await withRetainedRunCounts(deps.db, runs.items);
    return { ...runs, items: await Promise.all(items.map(async (run) => ({ ...run, receipts: await getReceiptCounts(deps.db, 'CAMPAIGN_RUN', run.id) }))) };
  });

  const runReportSchema = { tags, summary: 'One run and its delivery counts', params: runParams, response: { 200: campaignRunReportSchema, ...errorResponses } };
  app.get('/v1/campaigns/:id/runs/:runId', { schema: runReportSchema }, async (request) => {
    const { id, runId } = request.params;
    const report = await getCampaignRunReport(deps.db, id, runId);
    if (!report) throw notFound(`Run ${runId} of campaign ${id}`);
    return { ...(await withRetainedRunCounts(deps.db, [report]))[0]!, receipts: await getReceiptCounts(deps.db, 'CAMPAIGN_RUN', runId) };
  });
}
