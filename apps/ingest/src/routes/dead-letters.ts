import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  batchHasDueRows,
  chainHeads,
  DELIVERY_DEAD_LETTER_KIND,
  findDeadLetterRows,
  findStoredTokens,
  listDeadLetters,
  markDeadLettersRedriven,
  redriveDeadDeliveries,
  restoreDeadDeliveries,
  type DeadLetterRow,
  type RedrivenDelivery,
} from '@renotify/db';
import { redactPayload, secretCandidates } from '@renotify/observability';
import { withTimeout } from '@renotify/domain';
import {
  ensureLiveJob,
  jobOfDeadLetter,
  priorityClassSchema,
  queueChainHeads,
  sourceWindow,
  whenRedisReady,
  type DispatchSource,
} from '@renotify/queue';
import type { IngestDeps } from '../deps.js';
import { decodeTimeCursor, encodeTimeCursor } from './time-cursor.js';
import { sendUnavailable } from '../http-errors.js';
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
 * - `POST /v1/dead-letters/redrive`: DEAD deliveries back to PENDING (attempts 0), released like fan-out
 *   releases them (the chain heads of each source within its window, under their fixed job ids); or DeadLetter
 *   rows of invalid jobs re-queued as they were (their `redrivenAt` is stamped).
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
    /** DeadLetter rows (the ids of non-DELIVERY items of GET /v1/dead-letters). */
    deadLetterIds: z.array(z.uuid()).min(1).max(1_000).optional(),
  })
  .refine((body) => [body.deliveryIds, body.sourceId, body.all, body.deadLetterIds].filter((selector) => selector !== undefined).length === 1, {
    message: 'give exactly one of deliveryIds, sourceId (an event id or campaign run id), all: true or deadLetterIds',
  });

const redriveResponseSchema = z.object({
  /** Deliveries (or dead letters) redriven. */
  redriven: z.number().int(),
  /** Distinct batches the redriven deliveries belong to. */
  batches: z.number().int(),
  /** Selected dead letters that were not redriven, and why (only with deadLetterIds). */
  skipped: z.array(z.object({ id: z.string(), reason: z.string() })).optional(),
});

/** Times Postgres and JavaScript both represent (Postgres has no year 0; JavaScript dates end in 275760). */
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

/**
 * Re-releases the sources of redriven deliveries the way fan-out does: per source, only its chain heads (at most
 * its window W of batches) get a job, under the batch's fixed id, so a redrive never floods the queue with a
 * source's whole backlog nor duplicates a live job; the rest follow as each chain's job finishes.
 */
async function releaseRedrivenSources(deps: IngestDeps, rows: readonly RedrivenDelivery[], now: Date): Promise<void> {
  const sources = new Map<string, DispatchSource>();
  for (const row of rows) {
    const priority = priorityClassSchema.safeParse(row.priority);
    sources.set(`${row.sourceType}/${row.sourceId}`, { sourceType: row.sourceType, sourceId: row.sourceId, priority: priority.success ? priority.data : null });
  }
  for (const source of sources.values()) {
    const heads = await chainHeads(deps.db, source.sourceId, sourceWindow(source.sourceType, source.priority, deps.config.DISPATCH_WINDOW), now);
    await queueChainHeads(deps.queues.deliveries, source, heads, (head) => batchHasDueRows(deps.db, source.sourceId, head.batchNo, now));
  }
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
    const after = query.cursor ? decodeTimeCursor(query.cursor) : null;
    const page = await listDeadLetters(deps.db, { kind: query.kind?.toLowerCase(), after, limit: query.limit });
    return { items: await redactedItems(deps, page.items), nextCursor: page.next ? encodeTimeCursor(page.next) : null };
  });

  const redriveSchema = {
    tags: ['dead-letters'],
    summary: 'Send DEAD deliveries again',
    body: redriveBodySchema,
    response: { 200: redriveResponseSchema, ...errorResponses },
  };
  app.post('/v1/dead-letters/redrive', { schema: redriveSchema }, async (request, reply) => {
    const body = request.body;
    // Fail before touching rows when the queue is down: a PENDING delivery without a job would wait for a sweep.
    if (!(await whenRedisReady(deps.redis, REDIS_GRACE_MS))) {
      return sendUnavailable(reply, 'queue', 'Redis is unreachable; nothing was redriven');
    }
    if (body.deadLetterIds) {
      const letters = await findDeadLetterRows(deps.db, body.deadLetterIds);
      const found = new Set(letters.map((letter) => letter.id));
      const skipped = body.deadLetterIds.filter((id) => !found.has(id)).map((id) => ({ id, reason: 'no such dead letter' }));
      const redriven: string[] = [];
      for (const letter of letters) {
        const job = jobOfDeadLetter(letter);
        if ('skip' in job) {
          skipped.push({ id: letter.id, reason: job.skip });
          continue;
        }
        try {
          // Under its original id (the catalog's deterministic ids); the worker parses it again and, still invalid,
          // dead-letters it anew.
          await withTimeout(ensureLiveJob(deps.queues[job.queue], job.name, job.data, { jobId: job.jobId }), ENQUEUE_TIMEOUT_MS, 'requeueing a dead-lettered job');
        } catch (error) {
          // What was queued so far stays queued and stamped: re-queueing under the same ids is harmless.
          await markDeadLettersRedriven(deps.db, redriven);
          request.log.warn({ err: error, redriven: redriven.length }, 'dead-letter redrive stopped: a job could not be queued');
          return sendUnavailable(reply, 'queue', `Redis stopped answering after ${redriven.length} dead letter(s) were redriven; retry the rest`);
        }
        redriven.push(letter.id);
      }
      await markDeadLettersRedriven(deps.db, redriven);
      request.log.info({ redriven: redriven.length, skipped: skipped.length }, 'dead letters redriven');
      return { redriven: redriven.length, batches: 0, skipped };
    }
    const rows = await redriveDeadDeliveries(
      deps.db,
      body.deliveryIds ? { deliveryIds: body.deliveryIds } : body.sourceId !== undefined ? { sourceId: body.sourceId } : { all: true },
    );
    const batches = new Set(rows.map((row) => `${row.sourceType}/${row.sourceId}/${row.batchNo}`));
    if (batches.size > 0) {
      try {
        await withTimeout(releaseRedrivenSources(deps, rows, new Date()), ENQUEUE_TIMEOUT_MS, 'releasing redriven batches');
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
