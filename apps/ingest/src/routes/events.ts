import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createKnownPages, getEventSummary, getReceiptCounts, listEventDeliveries, withRetainedEventCounts, type DeliveryCursor } from '@renotify/db';
import { EVENT_ID_MAX_LENGTH, eventInputSchema, MAX_EVENTS_PER_BATCH, parseEvents, type EventInput, type EventProblem } from '@renotify/queue';
import type { IngestDeps } from '../deps.js';
import { receiptCountsSchema } from './receipt-counts.js';
import { HttpError, notFound, sendUnavailable } from '../http-errors.js';
import { EventIntake, IntakeError } from './event-intake.js';
import { countIngestedEvents } from './metrics.js';
import { errorResponses, idempotencyKeyHeader, nextCursor } from './schemas.js';

/** One event or a batch: documented from the same zod schema parseEvents applies to each event. */
const eventsBody = z.union([eventInputSchema, z.array(eventInputSchema).min(1).max(MAX_EVENTS_PER_BATCH)]);

/**
 * The body is checked by parseEvents (the producer SDK's rules), whose problems name the event of a batch
 * (`index`); the other parts use the zod validator like every route.
 */
/** Requests may spell `type` and `priority` in either case (docs/api-conventions.md); they are stored in lower case. */
function lowerCaseEnums(event: unknown): unknown {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return event;
  const record = { ...(event as Record<string, unknown>) };
  for (const field of ['type', 'priority']) if (typeof record[field] === 'string') record[field] = (record[field] as string).toLowerCase();
  return record;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- fastify types a route's compiler by its exact schema object
const eventsValidator: FastifySchemaCompiler<any> = (route) => {
  if (route.httpPart !== 'body') return validatorCompiler(route);
  return (data: unknown) => {
    const parsed = parseEvents(Array.isArray(data) ? data.map(lowerCaseEnums) : lowerCaseEnums(data));
    return parsed.ok ? { value: parsed.events } : { error: invalidEvents(parsed.problems) };
  };
};

const ingestResultSchema = z
  .object({
    accepted: z.array(z.string()).describe('Event ids stored by this request'),
    duplicates: z.array(z.string()).describe('Event ids already stored (the id is the idempotency key)'),
  })
  .meta({ id: 'IngestResult' });

const eventSummarySchema = z
  .looseObject({
    id: z.string(),
    pageId: z.string(),
    type: z.string(),
    topic: z.string(),
    status: z.string(),
    priority: z.string().nullable(),
    matchedCount: z.number().int(),
    batchCount: z.number().int(),
    receivedAt: z.date(),
    fannedOutAt: z.date().nullable(),
    counts: z.object({ byStatus: z.record(z.string(), z.number()), bySkipReason: z.record(z.string(), z.number()) }),
    receipts: receiptCountsSchema,
    deliveries: z.array(
      z.object({
        id: z.string(),
        optInId: z.string().nullable().describe('null once the person was erased'),
        batchNo: z.number().int(),
        status: z.string(),
        skipReason: z.string().nullable(),
        attempts: z.number().int(),
        lastErrorCode: z.number().int().nullable(),
        lastErrorSubcode: z.number().int().nullable(),
        messageId: z.string().nullable(),
        finishedAt: z.date().nullable(),
      }),
    ),
    nextCursor,
  })
  .meta({ id: 'EventSummary' });


const invalidEvents = (problems: EventProblem[]) =>
  new HttpError(400, 'invalid_request', `${problems.length} problem(s) in the submitted events; nothing was accepted`, problems);

const eventParamsSchema = z.object({ id: z.string().min(1).max(EVENT_ID_MAX_LENGTH) });
const deliveriesQuerySchema = z.object({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** Opaque to callers: base64url("<batchNo>.<delivery id>"). */
const encodeCursor = (cursor: DeliveryCursor) => Buffer.from(`${cursor.batchNo}.${cursor.id}`).toString('base64url');
function decodeCursor(cursor: string): DeliveryCursor {
  const match = /^(\d{1,9})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new HttpError(400, 'invalid_request', 'cursor is not one this API returned (pass nextCursor unchanged)');
  return { batchNo: Number(match[1]), id: match[2] as string };
}

/**
 * `POST /v1/events` (one event or an array of up to 1,000) and `GET /v1/events/:id`.
 * A request costs one page-id SELECT (usually skipped by the cache) and a share of one INSERT and one addBulk
 * (see EventIntake), whatever its size.
 */
export async function eventRoutes(plainApp: FastifyInstance, { deps }: { deps: IngestDeps }) {
  const app = plainApp.withTypeProvider<ZodTypeProvider>();
  const knownPages = createKnownPages(deps.db);
  const intake = new EventIntake({ db: deps.db, redis: deps.redis, eventsQueue: deps.queues.events, onUnknownPage: () => knownPages.forget() });

  const postSchema = {
    tags: ['events'],
    summary: 'Publish one event or a batch of up to 1,000',
    headers: idempotencyKeyHeader,
    body: eventsBody,
    response: { 202: ingestResultSchema, ...errorResponses },
  };
  app.post('/v1/events', { config: { idempotent: true }, schema: postSchema, validatorCompiler: eventsValidator }, async (request, reply) => {
    // eventsValidator always hands over the batch form.
    const events = request.body as EventInput[];

    const unknownPages = await knownPages.findUnknown(events.map((event) => event.pageId));
    if (unknownPages.size > 0) {
      const problems: EventProblem[] = [];
      events.forEach((event, index) => {
        if (unknownPages.has(event.pageId)) {
          problems.push({ index, path: 'pageId', message: `unknown page "${event.pageId}": register it with POST /v1/pages first` });
        }
      });
      throw invalidEvents(problems);
    }

    try {
      return reply.status(202).send(countIngestedEvents(deps.metrics, events, await intake.submit(events)));
    } catch (error) {
      if (!(error instanceof IntakeError)) throw error;
      if (error.kind === 'unknown_page' || error.kind === 'invalid') throw new HttpError(400, 'invalid_request', error.message);
      request.log.warn({ err: error.cause ?? error, events: events.length }, error.message);
      // Safe to retry as is: event ids are idempotency keys.
      return sendUnavailable(reply, error.kind, error.message);
    }
  });

  const getSchema = {
    tags: ['events'],
    summary: 'An event, its delivery counts and its deliveries (paged)',
    params: eventParamsSchema,
    querystring: deliveriesQuerySchema,
    response: { 200: eventSummarySchema, ...errorResponses },
  };
  app.get('/v1/events/:id', { schema: getSchema }, async (request) => {
    const { id } = request.params;
    const query = request.query;
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const [summary, page] = await Promise.all([getEventSummary(deps.db, id), listEventDeliveries(deps.db, id, { after, limit: query.limit })]);
    if (!summary) throw notFound(`Event "${id}"`);
    // Once retention deletes the event's deliveries, its counts come from those stored when it finished.
    return {
      ...(await withRetainedEventCounts(deps.db, summary)),
      type: summary.type.toUpperCase(),
      priority: summary.priority?.toUpperCase() ?? null,
      deliveries: page.deliveries,
      nextCursor: page.next ? encodeCursor(page.next) : null,
      receipts: await getReceiptCounts(deps.db, 'EVENT', id),
    };
  });
}
