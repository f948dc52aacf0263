import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { getPage, getSubscriberWithOptIns, listOptIns } from '@renotify/db';
import { OPT_IN_KINDS, OPT_IN_STATUSES } from '@renotify/domain';
import type { IngestDeps } from '../deps.js';
import { notFound, parseInput } from '../http-errors.js';
import { pageParams } from './pages.js';

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
export async function optInRoutes(app: FastifyInstance, { deps }: { deps: IngestDeps }) {
  app.get('/v1/pages/:id/optins', async (request) => {
    const { id } = parseInput(pageParams, request.params, 'path');
    const query = parseInput(listQuery, request.query, 'query');
    if (!(await getPage(deps.db, id))) throw notFound(`Page ${id}`);
    const filter: Parameters<typeof listOptIns>[1] = { pageId: id, limit: query.limit };
    if (query.topic !== undefined) filter.topic = query.topic;
    if (query.kind !== undefined) filter.kind = query.kind;
    if (query.status !== undefined) filter.status = query.status;
    if (query.psid !== undefined) filter.psid = query.psid;
    if (query.cursor !== undefined) filter.after = query.cursor;
    return listOptIns(deps.db, filter);
  });

  app.get('/v1/pages/:id/subscribers/:psid', async (request) => {
    const { id, psid } = parseInput(subscriberParams, request.params, 'path');
    if (!(await getPage(deps.db, id))) throw notFound(`Page ${id}`);
    const found = await getSubscriberWithOptIns(deps.db, id, psid);
    if (!found) throw notFound(`Subscriber ${psid} of Page ${id}`);
    return found;
  });
}
