import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createPage, getPage, listPages, reencryptPageSecrets, softDeletePage, updatePage } from '@renotify/db';
import { isPolicyProfileId, isValidTimeZone, POLICY_PROFILES } from '@renotify/domain';
import type { IngestDeps } from '../deps.js';
import { HttpError, notFound } from '../http-errors.js';
import { errorResponses, idempotencyKeyHeader, limitQuery, noContent, pageOf, timestamp } from './schemas.js';

/** Facebook Page ids are digits; the sandbox and tests may use other safe ids, so allow a conservative charset. */
export const pageIdSchema = z
  .union([z.string(), z.number().int().nonnegative()])
  .transform(String)
  .pipe(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1–64 characters of A–Z, a–z, 0–9, "_", "." or "-"'));

const secret = (what: string) => z.string().min(1, `${what} must not be empty`).max(2048);

const pageSettings = {
  name: z.string().trim().min(1).max(200),
  graphVersion: z.string().regex(/^v\d{1,3}\.\d{1,2}$/, 'must look like "v24.0"'),
  policyProfile: z
    .string()
    .refine(isPolicyProfileId, `must be one of: ${POLICY_PROFILES.map((profile) => profile.id).join(', ')}`),
  /** Meta allows about 300 sends/s per Page; higher values only make sense against the sandbox. */
  sendRatePerSec: z.number().int().min(1).max(10_000),
  timezone: z.string().refine(isValidTimeZone, 'must be an IANA time zone such as "Europe/Paris"'),
  /** Where the business messages people: ISO 3166-1 alpha-2, or "EU"/"UK" (read by the meta-2026 policy profile). */
  messagingRegion: z.string().trim().toUpperCase().regex(/^[A-Z]{2}$/, 'must be a two-letter region code such as "FR", "EU" or "UK"').nullable(),
};

const localTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a local time "HH:MM" between 00:00 and 23:59');

/** Quiet hours: no sends while the local clock is in [start, end); start > end spans midnight (22:00–08:00). */
const quietHoursBody = z
  .strictObject({
    start: localTime.describe('Local wall-clock time the quiet hours start, "HH:MM"'),
    end: localTime.describe('Local wall-clock time they end (exclusive), "HH:MM"'),
    timeZone: pageSettings.timezone
      .nullable()
      .default(null)
      .describe("null (default): each person's own zone, by the one precedence (docs/time-zones.md); or a fixed IANA zone for everyone"),
  })
  .refine((hours) => hours.start !== hours.end, { message: 'start and end must differ', path: ['end'] })
  .meta({ id: 'QuietHours' });

/** The per-person cap across topics: at most `maxSends` notifications to one person per rolling `windowHours`. */
const userCapBody = z
  .strictObject({
    maxSends: z.number().int().min(1).max(1000).describe('At most this many notifications per person, across all topics, ...'),
    windowHours: z.number().int().min(1).max(24 * 31).describe('... within this rolling window, in hours (1 to 744)'),
  })
  .meta({ id: 'UserCap' });

const createPageBody = z.strictObject({
  id: pageIdSchema,
  name: pageSettings.name,
  accessToken: secret('accessToken'),
  appSecret: secret('appSecret'),
  graphVersion: pageSettings.graphVersion.optional(),
  policyProfile: pageSettings.policyProfile.optional(),
  sendRatePerSec: pageSettings.sendRatePerSec.optional(),
  timezone: pageSettings.timezone.optional(),
  messagingRegion: pageSettings.messagingRegion.optional(),
});

const patchPageBody = z
  .strictObject({
    name: pageSettings.name.optional(),
    accessToken: secret('accessToken').optional(),
    appSecret: secret('appSecret').optional(),
    graphVersion: pageSettings.graphVersion.optional(),
    policyProfile: pageSettings.policyProfile.optional(),
    sendRatePerSec: pageSettings.sendRatePerSec.optional(),
    timezone: pageSettings.timezone.optional(),
    messagingRegion: pageSettings.messagingRegion.optional(),
    quietHours: quietHoursBody.nullable().optional().describe('Quiet hours on top of the policy profile; null switches them off'),
    userCap: userCapBody.nullable().optional().describe('Per-person cap across topics on top of the policy profile; null switches it off'),
    /** An ISO time to pause dispatch until, or null to resume now. */
    pausedUntil: z.iso.datetime({ offset: true }).transform((value) => new Date(value)).nullable().optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, 'send at least one field to change');

export const pageParams = z.object({ id: pageIdSchema });

/** A Page as the API shows it: public settings only, never its access token or app secret. */
export const pageSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    graphVersion: z.string(),
    policyProfile: z.string(),
    sendRatePerSec: z.number().int(),
    timezone: z.string(),
    pausedUntil: timestamp.nullable(),
    messagingRegion: z.string().nullable(),
    quietHours: z
      .object({ start: z.string(), end: z.string(), timeZone: z.string().nullable() })
      .nullable()
      .describe("Quiet hours (null: off); timeZone null = each person's own zone"),
    userCap: z.object({ maxSends: z.number().int(), windowHours: z.number().int() }).nullable().describe('Per-person cap across topics (null: off)'),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Page' });

const PAGES_LIMIT_MAX = 200;
const listPagesQuery = z.strictObject({
  cursor: z.string().max(64).optional().describe('nextCursor of the previous page'),
  limit: limitQuery(PAGES_LIMIT_MAX, 50),
});

/**
 * Page registration. Access tokens and app secrets go in, encrypted with the current ENCRYPTION_KEY, and
 * never come out: responses, errors and logs carry only the public settings.
 *
 * Key rotation (AES-256-GCM; each ciphertext names its key):
 *   1. deploy with ENCRYPTION_KEY=<new key> and ENCRYPTION_KEYS_PREVIOUS=<old key> (ingest and workers);
 *   2. POST /v1/admin/reencrypt-secrets until it answers `reencrypted: 0` (PATCHed secrets use the new key anyway);
 *   3. deploy again without the old key in ENCRYPTION_KEYS_PREVIOUS.
 */
export async function pageRoutes(plainApp: FastifyInstance, { deps }: { deps: IngestDeps }) {
  const app = plainApp.withTypeProvider<ZodTypeProvider>();
  app.post(
    '/v1/pages',
    {
      config: { idempotent: true },
      schema: { tags: ['pages'], summary: 'Register a Page', headers: idempotencyKeyHeader, body: createPageBody, response: { 201: pageSchema, ...errorResponses } },
    },
    async (request, reply) => {
      const body = request.body;
      const result = await createPage(deps.db, deps.secrets, body);
      if (!result.created) throw new HttpError(409, 'page_exists', `Page ${body.id} is already registered; use PATCH /v1/pages/${body.id} to change it`);
      request.log.info({ pageId: body.id }, 'page registered');
      return reply.status(201).send(result.page);
    },
  );

  // A business has a handful of Pages: the list is read whole and paged here (ordered by id, cursor = last id).
  app.get(
    '/v1/pages',
    { schema: { tags: ['pages'], summary: 'List Pages', querystring: listPagesQuery, response: { 200: pageOf(pageSchema), ...errorResponses } } },
    async (request) => {
      const { cursor, limit } = request.query;
      const after = (await listPages(deps.db)).filter((page) => cursor === undefined || page.id > cursor);
      const items = after.slice(0, limit);
      return { items, nextCursor: after.length > limit ? (items.at(-1)?.id ?? null) : null };
    },
  );

  app.get(
    '/v1/pages/:id',
    { schema: { tags: ['pages'], summary: 'Get a Page', params: pageParams, response: { 200: pageSchema, ...errorResponses } } },
    async (request) => {
      const { id } = request.params;
      const page = await getPage(deps.db, id);
      if (!page) throw notFound(`Page ${id}`);
      return page;
    },
  );

  app.patch(
    '/v1/pages/:id',
    { schema: { tags: ['pages'], summary: 'Change a Page', params: pageParams, body: patchPageBody, response: { 200: pageSchema, ...errorResponses } } },
    async (request) => {
      const { id } = request.params;
      const patch = request.body;
      const page = await updatePage(deps.db, deps.secrets, id, patch);
      if (!page) throw notFound(`Page ${id}`);
      request.log.info({ pageId: id, fields: Object.keys(patch) }, 'page updated');
      return page;
    },
  );

  app.delete(
    '/v1/pages/:id',
    { schema: { tags: ['pages'], summary: 'Delete a Page (soft)', params: pageParams, response: { 204: noContent, ...errorResponses } } },
    async (request, reply) => {
      const { id } = request.params;
      if (!(await softDeletePage(deps.db, id))) throw notFound(`Page ${id}`);
      request.log.info({ pageId: id }, 'page deleted (soft)');
      return reply.status(204).send();
    },
  );

  /** Key rotation: after adding the new ENCRYPTION_KEY (old one in ENCRYPTION_KEYS_PREVIOUS), rewrite every row. */
  app.post(
    '/v1/admin/reencrypt-secrets',
    {
      schema: {
        tags: ['admin'],
        summary: 'Re-encrypt Page secrets with the current key',
        response: { 200: z.object({ scanned: z.number().int(), reencrypted: z.number().int() }), ...errorResponses },
      },
    },
    async (request) => {
      const report = await reencryptPageSecrets(deps.db, deps.secrets);
      request.log.info(report, 'page secrets re-encrypted with the current key');
      return report;
    },
  );
}
