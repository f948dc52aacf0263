import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getPage, getSubscriberWithOptIns, listOptIns } from '@renotify/db';
import { OPT_IN_KINDS, OPT_IN_STATUSES } from '@renotify/domain';
import type { IngestDeps } from '../deps.js';
import { notFound } from '../http-errors.js';
import { pageParams } from './pages.js';
import { errorResponses, nextCursor, timestamp } from './schemas.js';

export const optInSchema = z
  .object({
    id: z.string(),
    pageId: z.string(),
    subscriberId: z.string(),
    psid: z.string().nullable(),
    userRef: z.string().nullable(),
    kind: z.enum(OPT_IN_KINDS),
    topic: z.string(),
    title: z.string().nullable(),
    tokenFingerprint: z.string().describe('Identifies the token; the token itself never leaves the store'),
    frequency: z.enum(['DAILY', 'WEEKLY', 'MONTHLY']).nullable(),
    timezone: z.string().nullable(),
    status: z.enum(OPT_IN_STATUSES),
    statusAt: timestamp,
    expiresAt: timestamp.nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'OptIn' });

const subscriberSchema = z
  .object({
    id: z.string(),
    pageId: z.string(),
    psid: z.string().nullable(),
    userRef: z.string().nullable(),
    timezone: z.string().nullable(),
    locale: z.string().nullable(),
    lastUserMessageAt: timestamp.nullable(),
    unavailableUntil: timestamp.nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Subscriber' });

export const OPT_IN_PAGE_LIMIT_MAX = 200;

const upperEnum = <T extends readonly [string, ...string[]]>(values: T) =>
  z
    .string()
    .transform((value) => value.toUpperCase())
    .pipe(z.enum(values));

const listQuery = z.strictObject({
  topic: z.string().min(1).max(255).optional(),
  kind: upperEnum(OPT_IN_KINDS).optional(),
  status: upperEnum(OPT_IN_STATUSES).optional(),
  psid: z.string().min(1).max(64).optional(),
  cursor: z.uuid('cursor must be the nextCursor of a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(OPT_IN_PAGE_LIMIT_MAX).default(50),
});

const subscriberParams = pageParams.extend({ psid: z.string().min(1).max(64) });

/** Reading the token store. Tokens never leave it: items carry `tokenFingerprint` instead. */
export async function optInRoutes(plainApp: FastifyInstance, { deps }: { deps: IngestDeps }) {
  const app = plainApp.withTypeProvider<ZodTypeProvider>();
  const listSchema = {
    tags: ['optins'],
    summary: "List a Page's opt-ins (tokens never leave the store)",
    params: pageParams,
    querystring: listQuery,
    response: { 200: z.object({ items: z.array(optInSchema), nextCursor }), ...errorResponses },
  };
  app.get('/v1/pages/:id/optins', { schema: listSchema }, async (request) => {
    const { id } = request.params;
    const query = request.query;
    if (!(await getPage(deps.db, id))) throw notFound(`Page ${id}`);
    const filter: Parameters<typeof listOptIns>[1] = { pageId: id, limit: query.limit };
    if (query.topic !== undefined) filter.topic = query.topic;
    if (query.kind !== undefined) filter.kind = query.kind;
    if (query.status !== undefined) filter.status = query.status;
    if (query.psid !== undefined) filter.psid = query.psid;
    if (query.cursor !== undefined) filter.after = query.cursor;
    return listOptIns(deps.db, filter);
  });

  const subscriberRouteSchema = {
    tags: ['subscribers'],
    summary: 'One subscriber and their opt-ins',
    params: subscriberParams,
    response: { 200: z.object({ subscriber: subscriberSchema, optIns: z.array(optInSchema) }), ...errorResponses },
  };
  app.get('/v1/pages/:id/subscribers/:psid', { schema: subscriberRouteSchema }, async (request) => {
    const { id, psid } = request.params;
    if (!(await getPage(deps.db, id))) throw notFound(`Page ${id}`);
    const found = await getSubscriberWithOptIns(deps.db, id, psid);
    if (!found) throw notFound(`Subscriber ${psid} of Page ${id}`);
    return found;
  });
}
