import { eventMessage, eventPayload, eventTopic, uniqueEvents, type EventInput } from '@renotify/domain';
import type { Database } from './client.js';
import { closeSourceIfFinished } from './deliveries.js';

export interface AcceptedEvents {
  /** Ids stored by this call, in input order (an id repeated in the input appears once). */
  accepted: string[];
  /** Ids that were already stored; their stored content is kept (the id is the idempotency key). */
  duplicates: string[];
  /**
   * Ids that still need a fan-out job: every accepted id, and each duplicate whose Event is still 'ACCEPTED'
   * (a producer retrying after a 503 must get its event fanned out; fan-out is idempotent).
   */
  pendingFanout: string[];
}

/**
 * Stores events with ONE set-based statement: `INSERT … SELECT FROM jsonb_to_recordset(…) ON CONFLICT (id) DO NOTHING
 * RETURNING id` (and a second one, reading statuses, only when some ids were already stored).
 * The caller must have checked that every pageId exists (see createKnownPages): an unknown one fails the
 * whole statement on the foreign key, so nothing is half-stored.
 */
export async function acceptEvents(db: Database, events: readonly EventInput[]): Promise<AcceptedEvents> {
  const unique = uniqueEvents(events);
  if (unique.length === 0) return { accepted: [], duplicates: [], pendingFanout: [] };
  // Rows are inserted (and their ids locked) in one global order, so concurrent calls with overlapping ids wait
  // for each other instead of deadlocking. Results are reported in input order below.
  const inLockOrder = [...unique].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // The rows travel as ONE json parameter: node-postgres escapes every element of a text[]/jsonb[] parameter
  // in JavaScript (the payloads' quotes twice over), which cost more than the statement; Postgres parses json in C.
  // As jsonb, not json: the document is parsed once and each row's payload and message taken from it as jsonb.
  // json_to_recordset hands each jsonb column over as text to be parsed again: 42.6 against 24.2 µs of Postgres
  // CPU per event at 4 inserts of 100 at once (bench:ingest prints cpuUsPerEvent), the floor's unnest 23.0.
  const rowsJson = JSON.stringify(
    inLockOrder.map((event) => ({
      id: event.id,
      pageId: event.pageId,
      type: event.type,
      topic: eventTopic(event),
      payload: eventPayload(event),
      message: eventMessage(event),
      priority: event.priority ?? null,
    })),
  );
  const { rows: inserted } = await db.pool.query<{ id: string }>(
    `INSERT INTO "Event" (id, "pageId", type, topic, payload, message, priority, "receivedAt")
     SELECT id, "pageId", type, topic, payload, message, priority, now() AT TIME ZONE 'UTC'
     FROM jsonb_to_recordset($1::jsonb) AS t(id text, "pageId" text, type text, topic text, payload jsonb, message jsonb, priority text)
     ON CONFLICT (id) DO NOTHING
     RETURNING id`,
    [rowsJson],
  );
  const insertedIds = new Set(inserted.map((row) => row.id));
  // Duplicates are the exception (a producer's retry): only then read their status, to re-enqueue those still
  // ACCEPTED (their first job may be the lost one). Read after the insert, an id a concurrent request is inserting
  // shows ACCEPTED or not yet at all; both are treated as still pending.
  const duplicateIds = unique.filter((event) => !insertedIds.has(event.id)).map((event) => event.id);
  const statusOf = new Map<string, string>();
  if (duplicateIds.length > 0) {
    const { rows } = await db.pool.query<{ id: string; status: string }>('SELECT id, status FROM "Event" WHERE id = ANY($1::text[])', [duplicateIds]);
    for (const row of rows) statusOf.set(row.id, row.status);
  }
  const result: AcceptedEvents = { accepted: [], duplicates: [], pendingFanout: [] };
  for (const { id } of unique) {
    if (insertedIds.has(id)) {
      result.accepted.push(id);
      result.pendingFanout.push(id);
      continue;
    }
    result.duplicates.push(id);
    const status = statusOf.get(id);
    if (status === 'ACCEPTED' || status === undefined) result.pendingFanout.push(id);
  }
  return result;
}

/** Page ids among `pageIds` that are not registered (or were deleted). */
export async function findUnknownPageIds(db: Database, pageIds: Iterable<string>): Promise<Set<string>> {
  const wanted = [...new Set(pageIds)];
  if (wanted.length === 0) return new Set();
  const { rows } = await db.pool.query<{ id: string }>('SELECT id FROM "Page" WHERE id = ANY($1::text[]) AND "deletedAt" IS NULL', [wanted]);
  const known = new Set(rows.map((row) => row.id));
  return new Set(wanted.filter((id) => !known.has(id)));
}

export interface KnownPages {
  /** Like findUnknownPageIds, but ids seen to exist within the last `ttlMs` are not queried again. */
  findUnknown(pageIds: Iterable<string>): Promise<Set<string>>;
  forget(): void;
}

/**
 * A short-lived cache of existing page ids: ingest sees the same few Pages on every request, and one SELECT per
 * request is a measurable share of a 100-event batch. Only positive answers are cached, so a new Page is usable
 * at once; a deleted one may still be accepted for up to `ttlMs`.
 */
export function createKnownPages(db: Database, { ttlMs = 5_000, maxEntries = 10_000 } = {}): KnownPages {
  const knownUntil = new Map<string, number>();
  return {
    async findUnknown(pageIds) {
      const now = Date.now();
      const toCheck = new Set<string>();
      for (const id of pageIds) if ((knownUntil.get(id) ?? 0) <= now) toCheck.add(id);
      if (toCheck.size === 0) return new Set();
      const unknown = await findUnknownPageIds(db, toCheck);
      if (knownUntil.size + toCheck.size > maxEntries) knownUntil.clear();
      for (const id of toCheck) if (!unknown.has(id)) knownUntil.set(id, now + ttlMs);
      return unknown;
    },
    forget: () => knownUntil.clear(),
  };
}

export const DELIVERY_STATUSES = ['PENDING', 'SENDING', 'SENT', 'FAILED', 'SKIPPED', 'DEAD'] as const;
export type DeliveryStatusName = (typeof DELIVERY_STATUSES)[number];

export interface EventSummary {
  id: string;
  pageId: string;
  type: string;
  topic: string;
  status: string;
  /** The producer's dispatch priority override ("high" | "normal" | "low"); null when it sent none. */
  priority: string | null;
  payload: unknown;
  message: unknown;
  matchedCount: number;
  batchCount: number;
  receivedAt: Date;
  fannedOutAt: Date | null;
  counts: { byStatus: Record<DeliveryStatusName, number>; bySkipReason: Record<string, number> };
}

/** An event with its delivery counts (one GROUP BY over its deliveries); null when unknown. */
export async function getEventSummary(db: Database, eventId: string): Promise<EventSummary | null> {
  // Timestamps are stored as UTC "timestamp without time zone": AT TIME ZONE 'UTC' makes them unambiguous instants.
  const [events, counts] = await Promise.all([
    db.pool.query<Omit<EventSummary, 'counts'>>(
      `SELECT id, "pageId", type, topic, status, priority, payload, message, "matchedCount", "batchCount",
              "receivedAt" AT TIME ZONE 'UTC' AS "receivedAt", "fannedOutAt" AT TIME ZONE 'UTC' AS "fannedOutAt"
       FROM "Event" WHERE id = $1`,
      [eventId],
    ),
    db.pool.query<{ status: DeliveryStatusName; skipReason: string | null; count: number }>(
      `SELECT status, "skipReason", count(*)::int AS count FROM "Delivery"
       WHERE "sourceId" = $1 AND "sourceType" = 'EVENT' GROUP BY status, "skipReason"`,
      [eventId],
    ),
  ]);
  const event = events.rows[0];
  if (!event) return null;
  const byStatus = Object.fromEntries(DELIVERY_STATUSES.map((status) => [status, 0])) as Record<DeliveryStatusName, number>;
  const bySkipReason: Record<string, number> = {};
  for (const row of counts.rows) {
    byStatus[row.status] += row.count;
    if (row.skipReason) bySkipReason[row.skipReason] = (bySkipReason[row.skipReason] ?? 0) + row.count;
  }
  return { ...event, counts: { byStatus, bySkipReason } };
}

export interface EventDelivery {
  id: string;
  /** Null once the person was erased (the row stays as an anonymous count). */
  optInId: string | null;
  batchNo: number;
  status: DeliveryStatusName;
  skipReason: string | null;
  attempts: number;
  lastErrorCode: number | null;
  lastErrorSubcode: number | null;
  messageId: string | null;
  finishedAt: Date | null;
}

/** Keyset position in an event's deliveries: ordered by (batchNo, id), which the (sourceId, batchNo) index serves. */
export interface DeliveryCursor {
  batchNo: number;
  id: string;
}

/** One page of an event's deliveries after `after`, plus the cursor of the next page (null on the last). */
export async function listEventDeliveries(
  db: Database,
  eventId: string,
  { after, limit }: { after?: DeliveryCursor | null; limit: number },
): Promise<{ deliveries: EventDelivery[]; next: DeliveryCursor | null }> {
  // `"batchNo" >= $n` alone bounds the index range scan; the OR only trims the first batch.
  const keyset = after ? `AND "batchNo" >= $3 AND ("batchNo" > $3 OR id > $4::uuid)` : '';
  const { rows } = await db.pool.query<EventDelivery>(
    `SELECT id, "optInId", "batchNo", status, "skipReason", attempts, "lastErrorCode", "lastErrorSubcode", "messageId",
            "finishedAt" AT TIME ZONE 'UTC' AS "finishedAt"
     FROM "Delivery"
     WHERE "sourceId" = $1 AND "sourceType" = 'EVENT' ${keyset}
     ORDER BY "batchNo", id
     LIMIT $2`,
    after ? [eventId, limit + 1, after.batchNo, after.id] : [eventId, limit + 1],
  );
  const deliveries = rows.slice(0, limit);
  const last = deliveries[deliveries.length - 1];
  return { deliveries, next: rows.length > limit && last ? { batchNo: last.batchNo, id: last.id } : null };
}

// ---------------------------------------------------------------------------------------------------------
// Fan-out lifecycle of an event: ACCEPTED → FANNING_OUT → FANNED_OUT

export interface EventToFanOut {
  pageId: string;
  topic: string;
  /** The status before this call; anything but ACCEPTED means a replay. */
  status: string;
  /** The stored priority override, unparsed. */
  priority: string | null;
}

/**
 * Reads the event and, when it was ACCEPTED, marks it FANNING_OUT, in one statement (the CTE's read sees the row as
 * it was before the update: `status` is the one before this call). Null when no such event.
 */
export async function startEventFanOut(db: Database, eventId: string): Promise<EventToFanOut | null> {
  const { rows } = await db.pool.query<EventToFanOut & { finalized: boolean }>(
    `WITH started AS (UPDATE "Event" SET status = 'FANNING_OUT' WHERE id = $1 AND status = 'ACCEPTED' AND "finalCounts" IS NULL)
     SELECT "pageId", topic, status, priority, "finalCounts" IS NOT NULL AS finalized FROM "Event" WHERE id = $1`,
    [eventId],
  );
  const row = rows[0];
  // Finalized: every delivery was final and the retention job stored the counts; its deliveries may be purged
  // already, so a replay (an SDK re-publish, a late job) would find no rows to conflict with and send again.
  if (!row || row.finalized) return null;
  const { finalized: _finalized, ...event } = row;
  return event;
}

/**
 * Records a finished fan-out pass: counts add up over replays, the batch count only grows. Then, in a statement of
 * its own (it must see this commit), closes the source if its batches were all sent meanwhile (closeSourceIfFinished).
 */
export async function finishEventFanOut(db: Database, eventId: string, recorded: number, batches: number): Promise<void> {
  await db.pool.query(
    `UPDATE "Event" SET status = 'FANNED_OUT', "matchedCount" = "matchedCount" + $2, "batchCount" = GREATEST("batchCount", $3),
            "fannedOutAt" = now() AT TIME ZONE 'UTC' WHERE id = $1`,
    [eventId, recorded, batches],
  );
  await closeSourceIfFinished(db, 'EVENT', eventId);
}

/** Events accepted but never fanned out (ACCEPTED before `acceptedBefore`, or FANNING_OUT before `fanningBefore`). */
export async function findUnfannedEvents(db: Database, acceptedBefore: Date, fanningBefore: Date, limit: number): Promise<string[]> {
  const { rows } = await db.pool.query<{ id: string }>(
    `SELECT id FROM "Event"
     WHERE (status = 'ACCEPTED' AND "receivedAt" < $1) OR (status = 'FANNING_OUT' AND "receivedAt" < $2)
     LIMIT ${Number(limit)}`,
    [acceptedBefore, fanningBefore],
  );
  return rows.map((row) => row.id);
}
