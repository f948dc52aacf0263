import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { acceptEvents, createKnownPages, getEventSummary, listEventDeliveries, type DeliveryCursor } from '@renotify/db';
import { FANOUT_JOB, eventJobId, parseEvents, whenRedisReady, withTimeout, type EventProblem, type FanoutJob } from '@renotify/queue';
import type { IngestDeps } from '../deps.js';
import { HttpError, notFound, parseInput } from '../http-errors.js';

/** Longer than the Redis client's own give-up time (~0.6 s), so this only catches a hung connection. */
const ENQUEUE_TIMEOUT_MS = 3_000;
/** How long a request waits for a reconnecting Redis before answering 503 (BullMQ itself would wait forever). */
const REDIS_GRACE_MS = 500;
const FOREIGN_KEY_VIOLATION = '23503';

const invalidEvents = (problems: EventProblem[]) =>
  new HttpError(400, 'invalid_request', `${problems.length} problem(s) in the submitted events; nothing was accepted`, problems);

function unavailable(reply: FastifyReply, code: string, message: string) {
  // Safe to retry as is: event ids are idempotency keys.
  return reply.status(503).header('retry-after', '1').send({ error: { code, message, retryable: true } });
}

const eventParamsSchema = z.object({ id: z.string().min(1).max(200) });
const deliveriesQuerySchema = z.object({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** Opaque to callers: base64url("<batchNo>.<delivery id>"). */
const encodeCursor = (cursor: DeliveryCursor) => Buffer.from(`${cursor.batchNo}.${cursor.id}`).toString('base64url');
function decodeCursor(cursor: string): DeliveryCursor {
  const match = /^(\d{1,9})\.([0-9a-f-]{36})$/i.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new HttpError(400, 'invalid_request', 'cursor is not one this API returned (pass nextCursor unchanged)');
  return { batchNo: Number(match[1]), id: match[2] as string };
}

/**
 * `POST /v1/events` (one event or an array of up to 1,000) and `GET /v1/events/:id`.
 * A request costs one page-id SELECT (usually skipped by the cache), one INSERT and one addBulk, whatever its size.
 */
export async function eventRoutes(app: FastifyInstance, { deps }: { deps: IngestDeps }) {
  const knownPages = createKnownPages(deps.db);

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

    let stored: Awaited<ReturnType<typeof acceptEvents>>;
    try {
      stored = await acceptEvents(deps.db, events);
    } catch (error) {
      if ((error as { code?: string }).code === FOREIGN_KEY_VIOLATION) {
        // A page vanished between the check and the insert (only possible with a stale cache entry).
        knownPages.forget();
        throw new HttpError(400, 'invalid_request', 'an event names a page that is not registered; nothing was accepted');
      }
      request.log.error({ err: error }, 'storing events failed');
      return unavailable(reply, 'storage_unavailable', 'Events could not be stored; retry the same request');
    }

    if (stored.pendingFanout.length > 0) {
      const jobs = stored.pendingFanout.map((eventId) => ({
        name: FANOUT_JOB,
        data: { eventId } satisfies FanoutJob,
        opts: { jobId: eventJobId(eventId) },
      }));
      try {
        if (!(await whenRedisReady(deps.redis, REDIS_GRACE_MS))) throw new Error(`Redis is not connected (${deps.redis.status})`);
        await withTimeout(deps.queues.events.addBulk(jobs), ENQUEUE_TIMEOUT_MS, 'enqueueing fan-out jobs');
      } catch (error) {
        // The rows are stored; a retry re-enqueues them (as duplicates still 'ACCEPTED'), and the worker's sweeper
        // picks up any the producer never retries.
        request.log.warn({ err: error, events: stored.pendingFanout.length }, 'events stored but fan-out jobs not enqueued');
        return unavailable(reply, 'queue_unavailable', 'Events were stored but could not be queued; retry the same request');
      }
    }
    return reply.status(202).send({ accepted: stored.accepted, duplicates: stored.duplicates });
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
