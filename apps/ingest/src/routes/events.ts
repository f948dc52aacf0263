import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createKnownPages, getEventSummary, listEventDeliveries, type DeliveryCursor } from '@renotify/db';
import { EVENT_ID_MAX_LENGTH, parseEvents, type EventProblem } from '@renotify/queue';
import type { IngestDeps } from '../deps.js';
import { HttpError, notFound, parseInput, sendUnavailable } from '../http-errors.js';
import { EventIntake, IntakeError } from './event-intake.js';
import { countIngestedEvents } from './metrics.js';


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
export async function eventRoutes(app: FastifyInstance, { deps }: { deps: IngestDeps }) {
  const knownPages = createKnownPages(deps.db);
  const intake = new EventIntake({ db: deps.db, redis: deps.redis, eventsQueue: deps.queues.events, onUnknownPage: () => knownPages.forget() });

  app.post('/v1/events', async (request, reply) => {
    const parsed = parseEvents(request.body);
    if (!parsed.ok) throw invalidEvents(parsed.problems);
    const { events } = parsed;

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

  app.get('/v1/events/:id', async (request) => {
    const { id } = parseInput(eventParamsSchema, request.params, 'event id');
    const query = parseInput(deliveriesQuerySchema, request.query, 'query');
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const [summary, page] = await Promise.all([getEventSummary(deps.db, id), listEventDeliveries(deps.db, id, { after, limit: query.limit })]);
    if (!summary) throw notFound(`Event "${id}"`);
    return {
      ...summary,
      deliveries: page.deliveries,
      nextCursor: page.next ? encodeCursor(page.next) : null,
    };
  });
}
