import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DISPATCH_JOB, whenRedisReady, withTimeout, type DispatchJob } from '@renotify/queue';
import type { IngestDeps } from '../deps.js';
import { HttpError, parseInput } from '../http-errors.js';

/**
 * The dead-letter views of the admin API:
 * - `GET /v1/dead-letters?kind=&cursor=&limit=`: DEAD deliveries (kind "delivery": retries exhausted, Page token
 *   revoked, …) and DeadLetter rows (poisoned webhook entries, invalid jobs), newest first, keyset-paged.
 * - `POST /v1/dead-letters/redrive`: DEAD deliveries back to PENDING (attempts 0), one dispatch job per batch.
 */

const DELIVERY_KIND = 'delivery';
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

interface ListCursor {
  at: string;
  id: string;
}
const encodeCursor = (cursor: ListCursor) => Buffer.from(JSON.stringify([cursor.at, cursor.id])).toString('base64url');
function decodeCursor(cursor: string): ListCursor {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(at))) return { at, id };
  } catch {
    // fall through
  }
  throw new HttpError(400, 'invalid_request', 'cursor is not one this API returned (pass nextCursor unchanged)');
}

/** Dead-lettered webhook entries can carry opt-in tokens: they never leave through the API. */
const SECRET_KEY = /token|secret|password|signature|access_?key/i;
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, SECRET_KEY.test(key) ? '[redacted]' : redactSecrets(inner)]));
  }
  return value;
}

interface DeadRow {
  kind: string;
  id: string;
  at: Date;
  reason: string | null;
  code: number | null;
  subcode: number | null;
  attempts: number | null;
  sourceType: string | null;
  sourceId: string | null;
  batchNo: number | null;
  pageId: string | null;
  optInId: string | null;
  payload: unknown;
  redrivenAt: Date | null;
}

function toItem(row: DeadRow) {
  if (row.kind === DELIVERY_KIND) {
    return {
      kind: row.kind,
      id: row.id,
      at: row.at,
      reason: row.reason,
      code: row.code,
      subcode: row.subcode,
      attempts: row.attempts,
      source: { type: row.sourceType, id: row.sourceId, batchNo: row.batchNo },
      pageId: row.pageId,
      optInId: row.optInId,
    };
  }
  return { kind: row.kind, id: row.id, at: row.at, reason: row.reason, payload: redactSecrets(row.payload), redrivenAt: row.redrivenAt };
}

export async function deadLetterRoutes(app: FastifyInstance, { deps }: { deps: IngestDeps }) {
  app.get('/v1/dead-letters', async (request) => {
    const query = parseInput(listQuerySchema, request.query, 'query');
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const params: unknown[] = [query.limit + 1];
    const branches: string[] = [];
    // Times are stored as UTC "timestamp without time zone"; `at_utc` keeps them comparable with the cursor.
    if (query.kind === undefined || query.kind === DELIVERY_KIND) {
      branches.push(`SELECT '${DELIVERY_KIND}'::text AS kind, id::text AS id, COALESCE("finishedAt", "createdAt") AS at_utc,
                            "lastError" AS reason, "lastErrorCode" AS code, "lastErrorSubcode" AS subcode, attempts,
                            "sourceType"::text AS "sourceType", "sourceId", "batchNo", "pageId", "optInId"::text AS "optInId",
                            NULL::jsonb AS payload, NULL::timestamp AS "redrivenAt"
                     FROM "Delivery" WHERE status = 'DEAD'`);
    }
    if (query.kind !== DELIVERY_KIND) {
      const kindFilter = query.kind === undefined ? '' : `WHERE kind = $${params.push(query.kind)}`;
      branches.push(`SELECT kind, id::text AS id, "createdAt" AS at_utc, reason, NULL::int AS code, NULL::int AS subcode,
                            NULL::int AS attempts, NULL::text AS "sourceType", NULL::text AS "sourceId", NULL::int AS "batchNo",
                            NULL::text AS "pageId", NULL::text AS "optInId", payload, "redrivenAt"
                     FROM "DeadLetter" ${kindFilter}`);
    }
    const keyset = after
      ? `WHERE (at_utc, id) < ($${params.push(after.at)}::timestamptz AT TIME ZONE 'UTC', $${params.push(after.id)}::text)`
      : '';
    const { rows } = await deps.db.pool.query<DeadRow>(
      `SELECT kind, id, at_utc AT TIME ZONE 'UTC' AS at, reason, code, subcode, attempts, "sourceType", "sourceId", "batchNo",
              "pageId", "optInId", payload, "redrivenAt" AT TIME ZONE 'UTC' AS "redrivenAt"
       FROM (${branches.join(' UNION ALL ')}) AS dead
       ${keyset}
       ORDER BY at_utc DESC, id DESC
       LIMIT $1`,
      params,
    );
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toItem),
      nextCursor: rows.length > query.limit && last ? encodeCursor({ at: last.at.toISOString(), id: last.id }) : null,
    };
  });

  app.post('/v1/dead-letters/redrive', async (request, reply) => {
    const body = parseInput(redriveBodySchema, request.body ?? {});
    // Fail before touching rows when the queue is down: a PENDING delivery without a job would wait for a sweep.
    if (!(await whenRedisReady(deps.redis, REDIS_GRACE_MS))) {
      return reply.status(503).header('retry-after', '1').send({ error: { code: 'queue_unavailable', message: 'Redis is unreachable; nothing was redriven', retryable: true } });
    }
    const [condition, params]: [string, unknown[]] = body.deliveryIds
      ? ['id = ANY($1::uuid[])', [body.deliveryIds]]
      : body.sourceId
        ? ['"sourceId" = $1', [body.sourceId]]
        : ['TRUE', []];
    const { rows } = await deps.db.pool.query<{ id: string; previousAttempts: number; previousFinishedAt: string | null; sourceType: DispatchJob['sourceType']; sourceId: string; batchNo: number }>(
      `WITH target AS (
         SELECT id, attempts, "finishedAt" FROM "Delivery" WHERE status = 'DEAD' AND ${condition} FOR UPDATE
       )
       UPDATE "Delivery" d
       -- claimedAt stays: a dead delivery may still hold its token (see holdsToken in the worker's ledger).
       SET status = 'PENDING', attempts = 0, "finishedAt" = NULL, "notBefore" = NULL
       FROM target WHERE d.id = target.id
       RETURNING d.id, target.attempts AS "previousAttempts", target."finishedAt"::text AS "previousFinishedAt",
                 d."sourceType", d."sourceId", d."batchNo"`,
      params,
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
        await deps.db.pool.query(
          `UPDATE "Delivery" d SET status = 'DEAD', attempts = back.attempts, "finishedAt" = back.finished
           FROM unnest($1::uuid[], $2::int[], $3::timestamp[]) AS back(id, attempts, finished)
           WHERE d.id = back.id AND d.status = 'PENDING'`,
          [rows.map((row) => row.id), rows.map((row) => row.previousAttempts), rows.map((row) => row.previousFinishedAt)],
        );
        request.log.warn({ err: error, deliveries: rows.length }, 'redrive rolled back: dispatch jobs not enqueued');
        return reply.status(503).header('retry-after', '1').send({ error: { code: 'queue_unavailable', message: 'Dispatch jobs could not be queued; nothing was redriven', retryable: true } });
      }
    }
    request.log.info({ redriven: rows.length, batches: batches.size }, 'dead deliveries redriven');
    return { redriven: rows.length, batches: batches.size };
  });
}
