import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  DELIVERY_DEAD_LETTER_KIND,
  findStoredTokens,
  listDeadLetters,
  redriveDeadDeliveries,
  restoreDeadDeliveries,
  type DeadLetterCursor,
  type DeadLetterRow,
} from '@renotify/db';
import { redactPayload, secretCandidates } from '@renotify/observability';
import { withTimeout } from '@renotify/domain';
import { DISPATCH_JOB, whenRedisReady, type DispatchJob } from '@renotify/queue';
import type { IngestDeps } from '../deps.js';
import { HttpError, sendUnavailable } from '../http-errors.js';
import { errorResponses, nextCursor } from './schemas.js';

const deadLetterSchema = z
  .looseObject({
    kind: z.string().describe('"DELIVERY" (a DEAD delivery) or the kind of a dead-lettered entry, e.g. "WEBHOOK_ENTRY"'),
    id: z.string(),
    at: z.date(),
    reason: z.unknown(),
  })
  .meta({ id: 'DeadLetter' });

/**
 * The dead-letter views of the admin API:
 * - `GET /v1/dead-letters?kind=&cursor=&limit=`: DEAD deliveries (kind "delivery": retries exhausted, Page token
 *   revoked, …) and DeadLetter rows (poisoned webhook entries, invalid jobs), newest first, keyset-paged.
 * - `POST /v1/dead-letters/redrive`: DEAD deliveries back to PENDING (attempts 0), one dispatch job per batch.
 */

const REDIS_GRACE_MS = 500;
const ENQUEUE_TIMEOUT_MS = 3_000;

const listQuerySchema = z.object({
  kind: z
    .string()
    .regex(/^[a-z0-9_.-]{1,64}$/i, 'kind is "delivery" or a dead-letter kind such as "webhook_entry"')
    .optional(),
  cursor: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const redriveBodySchema = z
  .strictObject({
    deliveryIds: z.array(z.uuid()).min(1).max(10_000).optional(),
    sourceId: z.string().min(1).max(200).optional(),
    all: z.literal(true).optional(),
  })
  .refine((body) => [body.deliveryIds, body.sourceId, body.all].filter((selector) => selector !== undefined).length === 1, {
    message: 'give exactly one of deliveryIds, sourceId (an event id or campaign run id) or all: true',
  });

/** Times Postgres and JavaScript both represent (Postgres has no year 0; JavaScript dates end in 275760). */
const CURSOR_YEARS = { min: 1970, max: 9999 };
const cursorSchema = z.tuple([
  z.iso.datetime().refine((at) => {
    const year = new Date(at).getUTCFullYear();
    return year >= CURSOR_YEARS.min && year <= CURSOR_YEARS.max;
  }),
  z.uuid(),
]);
const encodeCursor = (cursor: DeadLetterCursor) => Buffer.from(JSON.stringify([cursor.at.toISOString(), cursor.id])).toString('base64url');
function decodeCursor(cursor: string): DeadLetterCursor {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const parsed = cursorSchema.safeParse(decoded);
  if (!parsed.success) throw new HttpError(400, 'invalid_request', 'cursor is not one this API returned (pass nextCursor unchanged)', [{ path: 'cursor', message: 'invalid cursor' }]);
  return { at: new Date(parsed.data[0]), id: parsed.data[1] };
}

/**
 * Dead-lettered webhook entries and bodies carry opt-in tokens (the worker keeps them: they are the only copy).
 * They never leave through the API: payloads and reasons go through redactPayload, with every string in them
 * that is a stored opt-in token cut out by value as well.
 */
async function redactedItems(deps: IngestDeps, rows: DeadLetterRow[]) {
  const knownSecrets = await findStoredTokens(deps.db, secretCandidates(rows.map((row) => [row.payload, row.reason]), 5_000));
  const redact = <T>(value: T) => redactPayload(value, { knownSecrets }) as T;
  return rows.map((row) => {
    if (row.kind === DELIVERY_DEAD_LETTER_KIND) {
      return {
        kind: row.kind.toUpperCase(),
        id: row.id,
        at: row.at,
        reason: redact(row.reason),
        code: row.code,
        subcode: row.subcode,
        attempts: row.attempts,
        source: { type: row.sourceType, id: row.sourceId, batchNo: row.batchNo },
        pageId: row.pageId,
        optInId: row.optInId,
      };
    }
    return { kind: row.kind.toUpperCase(), id: row.id, at: row.at, reason: redact(row.reason), payload: redact(row.payload), redrivenAt: row.redrivenAt };
  });
}

export async function deadLetterRoutes(plainApp: FastifyInstance, { deps }: { deps: IngestDeps }) {
  const app = plainApp.withTypeProvider<ZodTypeProvider>();
  const listSchema = {
    tags: ['dead-letters'],
    summary: 'Dead deliveries and dead-lettered entries, newest first',
    querystring: listQuerySchema,
    response: { 200: z.object({ items: z.array(deadLetterSchema), nextCursor }), ...errorResponses },
  };
  app.get('/v1/dead-letters', { schema: listSchema }, async (request) => {
    const query = request.query;
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const page = await listDeadLetters(deps.db, { kind: query.kind?.toLowerCase(), after, limit: query.limit });
    return { items: await redactedItems(deps, page.items), nextCursor: page.next ? encodeCursor(page.next) : null };
  });

  const redriveSchema = {
    tags: ['dead-letters'],
    summary: 'Send DEAD deliveries again',
    body: redriveBodySchema,
    response: { 200: z.object({ redriven: z.number().int(), batches: z.number().int() }), ...errorResponses },
  };
  app.post('/v1/dead-letters/redrive', { schema: redriveSchema }, async (request, reply) => {
    const body = request.body;
    // Fail before touching rows when the queue is down: a PENDING delivery without a job would wait for a sweep.
    if (!(await whenRedisReady(deps.redis, REDIS_GRACE_MS))) {
      return sendUnavailable(reply, 'queue', 'Redis is unreachable; nothing was redriven');
    }
    const rows = await redriveDeadDeliveries(
      deps.db,
      body.deliveryIds ? { deliveryIds: body.deliveryIds } : body.sourceId !== undefined ? { sourceId: body.sourceId } : { all: true },
    );
    const batches = new Map<string, DispatchJob>();
    for (const row of rows) {
      batches.set(`${row.sourceType}/${row.sourceId}/${row.batchNo}`, { sourceType: row.sourceType, sourceId: row.sourceId, batchNo: row.batchNo });
    }
    if (batches.size > 0) {
      try {
        await withTimeout(
          deps.queues.deliveries.addBulk([...batches.values()].map((data) => ({ name: DISPATCH_JOB, data, opts: { jobId: `redrive_${randomUUID()}` } }))),
          ENQUEUE_TIMEOUT_MS,
          'enqueueing redriven batches',
        );
      } catch (error) {
        // Put the rows back as they were, so the dead-letter list stays the truth and a retry redrives them.
        await restoreDeadDeliveries(deps.db, rows);
        request.log.warn({ err: error, deliveries: rows.length }, 'redrive rolled back: dispatch jobs not enqueued');
        return sendUnavailable(reply, 'queue', 'Dispatch jobs could not be queued; nothing was redriven');
      }
    }
    request.log.info({ redriven: rows.length, batches: batches.size }, 'dead deliveries redriven');
    return { redriven: rows.length, batches: batches.size };
  });
}
