import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { eraseSubscriber, getPage, listSubscribers, STANDARD_WINDOW_MS, stopSubscriber, updateSubscriberSettings, type SubscriberSummary } from '@renotify/db';
import { isValidTimeZone } from '@renotify/domain';
import { fingerprint } from '@renotify/observability';
import type { IngestDeps } from '../deps.js';
import { notFound } from '../http-errors.js';
import { forgetIdempotentAnswersNaming } from '../idempotency.js';
import { pageParams } from './pages.js';
import { errorResponses, limitQuery, noContent, pageOf, timestamp } from './schemas.js';

const SUBSCRIBERS_LIMIT_MAX = 200;

const psidParams = pageParams.extend({ psid: z.string().min(1).max(64) });

/** `?windowOpen=true|false`: query strings carry text, so the two words are parsed explicitly (not z.coerce). */
const booleanQuery = z.enum(['true', 'false']).transform((value) => value === 'true');

const listQuery = z.strictObject({
  windowOpen: booleanQuery
    .optional()
    .describe("true: only people whose 24h standard messaging window is open now (they can be sent an opt-in request); false: only the others"),
  topic: z.string().min(1).max(255).optional().describe('Only people holding an ACTIVE token for this topic'),
  cursor: z.uuid('cursor must be the nextCursor of a previous page').optional(),
  limit: limitQuery(SUBSCRIBERS_LIMIT_MAX, 50),
});

const subscriberSummarySchema = z
  .object({
    id: z.string(),
    psid: z.string().nullable(),
    userRef: z.string().nullable(),
    timezone: z.string().nullable().describe('Set by the business; the zone rules use follows docs/time-zones.md'),
    locale: z.string().nullable(),
    lastUserMessageAt: timestamp.nullable(),
    windowEndsAt: timestamp.nullable().describe("End of Meta's 24h standard messaging window (lastUserMessageAt + 24h)"),
    activeTokens: z.object({ ONE_TIME: z.number().int(), RECURRING: z.number().int() }).describe('ACTIVE tokens by kind (never the tokens)'),
  })
  .meta({ id: 'SubscriberSummary' });

/** Meta's locales look like "en_US"; BCP 47 ("en-US") is accepted too. */
const locale = z.string().regex(/^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,3}$/, 'must be a locale such as "en_US" or "fr-FR"');

const settingsBody = z
  .strictObject({
    timezone: z
      .string()
      .refine(isValidTimeZone, 'must be an IANA time zone such as "Europe/Paris"')
      .nullable()
      .optional()
      .describe("The person's zone (null clears it); used when Meta gave none with a token (docs/time-zones.md)"),
    locale: locale.nullable().optional(),
  })
  .refine((body) => body.timezone !== undefined || body.locale !== undefined, 'send timezone and/or locale');

const stopReportSchema = z.object({
  stoppedTokens: z.number().int().describe('Tokens that were ACTIVE and are now STOPPED'),
  skippedDeliveries: z.number().int().describe('Waiting deliveries now SKIPPED (reason STOPPED)'),
});

const toSummary = (subscriber: SubscriberSummary) => ({
  ...subscriber,
  windowEndsAt: subscriber.lastUserMessageAt ? new Date(subscriber.lastUserMessageAt.getTime() + STANDARD_WINDOW_MS) : null,
});

/** Who asked, for the audit trail: the API key's fingerprint (auth already checked the key; never log the key). */
function actorOf(request: FastifyRequest): string {
  const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '');
  return match?.[1] ? fingerprint(match[1].trim()) : 'unknown';
}

/**
 * The people of a Page, as a business sees them: who may be asked now (open 24h window), their zone and locale,
 * stop (business side) and erase (GDPR). Every route is scoped to the Page: a PSID of another Page is unknown here.
 */
export async function subscriberRoutes(plainApp: FastifyInstance, { deps }: { deps: IngestDeps }) {
  const app = plainApp.withTypeProvider<ZodTypeProvider>();
  const requirePage = async (id: string) => {
    if (!(await getPage(deps.db, id))) throw notFound(`Page ${id}`);
  };

  app.get(
    '/v1/pages/:id/subscribers',
    {
      schema: {
        tags: ['subscribers'],
        summary: "List a Page's subscribers (who may be asked now, with their window end)",
        params: pageParams,
        querystring: listQuery,
        response: { 200: pageOf(subscriberSummarySchema), ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { windowOpen, topic, cursor, limit } = request.query;
      await requirePage(id);
      const windowStart = new Date(Date.now() - STANDARD_WINDOW_MS);
      const page = await listSubscribers(deps.db, id, {
        limit,
        ...(windowOpen === true && { messagedAfter: windowStart }),
        ...(windowOpen === false && { notMessagedAfter: windowStart }),
        ...(topic !== undefined && { topic }),
        ...(cursor !== undefined && { after: cursor }),
      });
      return { items: page.items.map(toSummary), nextCursor: page.next };
    },
  );

  app.patch(
    '/v1/pages/:id/subscribers/:psid',
    {
      schema: {
        tags: ['subscribers'],
        summary: "Set a subscriber's time zone and/or locale",
        params: psidParams,
        body: settingsBody,
        response: { 200: subscriberSummarySchema, ...errorResponses },
      },
    },
    async (request) => {
      const { id, psid } = request.params;
      await requirePage(id);
      const updated = await updateSubscriberSettings(deps.db, id, psid, request.body);
      if (!updated) throw notFound(`Subscriber ${psid} of Page ${id}`);
      request.log.info({ pageId: id, fields: Object.keys(request.body) }, 'subscriber settings changed');
      return toSummary(updated);
    },
  );

  app.post(
    '/v1/pages/:id/subscribers/:psid/stop',
    {
      schema: {
        tags: ['subscribers'],
        summary: "Stop all of a subscriber's tokens on the business's side (idempotent)",
        description:
          'ACTIVE tokens become STOPPED and are never sent again; waiting deliveries are SKIPPED. A later opt-in or resume by the person through Meta applies as usual (it is their choice). A second call stops nothing more.',
        params: psidParams,
        response: { 200: stopReportSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { id, psid } = request.params;
      await requirePage(id);
      const report = await stopSubscriber(deps.db, id, psid, new Date(), actorOf(request));
      if (!report) throw notFound(`Subscriber ${psid} of Page ${id}`);
      request.log.info({ pageId: id, ...report }, 'subscriber stopped by the business');
      return report;
    },
  );

  app.delete(
    '/v1/pages/:id/subscribers/:psid',
    {
      schema: {
        tags: ['subscribers'],
        summary: 'Erase a subscriber (GDPR): tokens, PSID, personal fields of deliveries; idempotent',
        description:
          'Deletes the subscriber, their tokens and opt-in requests, the webhook receipts and dead letters that mention them, and stored Idempotency-Key answers naming the PSID; deliveries stay as anonymous counts. Answers 204 whether or not anything was left to erase, so a retry is safe. Each call writes an AuditLog entry (who, when, counts; never the PSID).',
        params: psidParams,
        response: { 204: noContent, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id, psid } = request.params;
      await requirePage(id);
      const report = await eraseSubscriber(deps.db, id, psid, new Date(), actorOf(request));
      // Stored Idempotency-Key answers (24 h in Redis) may name the PSID (an opt-in request's answer does).
      const idempotentAnswers = await forgetIdempotentAnswersNaming(deps.redis, deps.config.QUEUE_PREFIX, id, psid);
      request.log.info({ pageId: id, ...report, idempotentAnswers }, 'subscriber erased');
      return reply.status(204).send();
    },
  );
}
