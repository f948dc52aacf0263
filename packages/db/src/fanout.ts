import type { QueryResult } from 'pg';
import type { Database } from './client.js';
import { openSourcesSql } from './deliveries.js';
import type { SourceType } from './generated/prisma/enums.js';

/** The kinds of token a batch holds (a batch holds one kind only). */
export type TokenKind = 'ONE_TIME' | 'RECURRING';
/** The identity of one dispatch batch of a source. */
export interface SourceBatch {
  sourceType: SourceType;
  sourceId: string;
  batchNo: number;
}

export interface FanOutSource {
  sourceType: SourceType;
  sourceId: string;
  pageId: string;
  /** Every topic the source reaches; a token has exactly one topic, so topics never overlap. */
  topics: readonly string[];
  /**
   * Token kinds, in the order their batches are written (and so released): an event's one-time tokens (people
   * waiting for "it is back") before its recurring ones; campaigns go to recurring tokens only.
   * A batch holds one kind only, so it has one priority class.
   */
  kinds: readonly TokenKind[];
  /**
   * Local-time campaign runs: only tokens whose effective zone (the token's, else the subscriber's, else the
   * Page's) is one of these. Absent: no zone filter (and the unfiltered statements run unchanged).
   */
  timezones?: readonly string[];
}

export interface FanOutResult {
  /** Active tokens matched (new delivery rows this run; 0 on a replay). */
  matched: number;
  /** Stopped tokens recorded as SKIPPED(STOPPED). */
  stopped: number;
  batches: number;
}

/**
 * Pages through the matching ACTIVE tokens by keyset on id (one index range per topic) and writes one
 * batch of Delivery rows per page with INSERT … ON CONFLICT DO NOTHING, so replaying a source never
 * duplicates a delivery. `onBatch` runs right after each batch is written (it enqueues the dispatch job),
 * so the first sends start while the fan-out is still going.
 */
export async function fanOut(
  db: Database,
  source: FanOutSource,
  batchSize: number,
  onBatch: (batch: SourceBatch, kind: TokenKind) => Promise<void>,
): Promise<FanOutResult> {
  // The source is opened (see openSourcesSql) before any of its rows to send is written, and committed on its own: a
  // crash after it leaves an open source with nothing to send, which the sweeper settles. People who said STOP are
  // recorded in the same statement (final rows: they open nothing), which also reads where the batch numbers go on.
  const stoppedParams: unknown[] = [source.pageId, source.topics, source.kinds, source.sourceType, source.sourceId];
  const { rows: startRows } = await db.pool.query<{ next: number; stopped: number }>(
    source.timezones ? START_IN_ZONES_SQL : START_SQL,
    source.timezones ? [...stoppedParams, source.timezones] : stoppedParams,
  );
  let batchNo = startRows[0]?.next ?? 0;
  let matched = 0;
  for (const kind of source.kinds) for (const topic of source.topics) {
    let cursor: string | null = null;
    for (;;) {
      const params: unknown[] = [source.pageId, topic, cursor, batchSize, kind, source.sourceType, source.sourceId, batchNo];
      const result: QueryResult<{ last_id: string | null; scanned: number; inserted: number }> = source.timezones
        ? await db.pool.query(FAN_OUT_BATCH_IN_ZONES_SQL, [...params, source.timezones])
        : await db.pool.query(FAN_OUT_BATCH_SQL, params);
      const { last_id: lastId, scanned, inserted } = result.rows[0]!;
      if (inserted > 0) {
        matched += inserted;
        await onBatch({ sourceType: source.sourceType, sourceId: source.sourceId, batchNo }, kind);
        batchNo++;
      }
      if (scanned < batchSize || !lastId) break;
      cursor = lastId;
    }
  }
  return { matched, stopped: startRows[0]?.stopped ?? 0, batches: batchNo };
}

/**
 * The zone a local-time campaign serves a token in: the one precedence of `personTimeZone` in packages/domain
 * (token → subscriber → Page; docs/time-zones.md), empty strings skipped like there. Keep in step with the
 * campaigns' zone listing.
 */
export const EFFECTIVE_ZONE_SQL = "COALESCE(NULLIF(o.timezone, ''), NULLIF(s.timezone, ''), p.timezone)";

/**
 * Tokens of one Page and topic set in one status, optionally only in some zones (the zone filter takes its
 * parameter number). Without it the joins are left out, so the plain fan-out stays one index range.
 */
function matchingOptIns(topicCondition: string, status: 'ACTIVE' | 'STOPPED', zoneParam: number | null): string {
  const zoneJoin = zoneParam === null ? '' : `JOIN "Subscriber" s ON s.id = o."subscriberId" JOIN "Page" p ON p.id = o."pageId"`;
  const zoneFilter = zoneParam === null ? '' : `AND ${EFFECTIVE_ZONE_SQL} = ANY($${zoneParam}::text[])`;
  return `FROM "OptIn" o ${zoneJoin}
  WHERE o."pageId" = $1 AND ${topicCondition} AND o.status = '${status}' ${zoneFilter}`;
}

/** One page of the keyset scan, written as one batch of deliveries; returns where the scan got to. */
const fanOutBatchSql = (inZones: boolean) => `
WITH candidates AS (
  SELECT o.id ${matchingOptIns('o.topic = $2', 'ACTIVE', inZones ? 9 : null)}
    AND ($3::uuid IS NULL OR o.id > $3::uuid)
    AND o.kind = $5::"OptInKind"
  ORDER BY o.id
  LIMIT $4
), inserted AS (
  INSERT INTO "Delivery" (id, "sourceType", "sourceId", "optInId", "pageId", "batchNo")
  SELECT renotify_delivery_id($7, $8), $6::"SourceType", $7, id, $1, $8 FROM candidates
  ON CONFLICT ("sourceId", "optInId") DO NOTHING
  RETURNING 1
)
SELECT (SELECT id FROM candidates ORDER BY id DESC LIMIT 1) AS last_id,
       (SELECT count(*) FROM candidates)::int AS scanned,
       (SELECT count(*) FROM inserted)::int AS inserted`;
const FAN_OUT_BATCH_SQL = fanOutBatchSql(false);
const FAN_OUT_BATCH_IN_ZONES_SQL = fanOutBatchSql(true);

/**
 * The start of a fan-out: opens the source, records people who said STOP (a row saying so: the report shows them,
 * and nothing is sent; batch -1) and reads the next batch number (a replay goes on after the batches written).
 * Parameters: $1 pageId, $2 topics, $3 kinds, $4 sourceType, $5 sourceId, [$6 zones].
 */
const startSql = (inZones: boolean) => `
WITH opened AS (${openSourcesSql(`SELECT $5::text AS "sourceId", $4::"SourceType" AS "sourceType", $1::text AS "pageId"`)}),
stopped AS (
  INSERT INTO "Delivery" (id, "sourceType", "sourceId", "optInId", "pageId", "batchNo", status, "skipReason", "finishedAt")
  SELECT renotify_delivery_id($5, -1), $4::"SourceType", $5, o.id, $1, -1, 'SKIPPED', 'STOPPED', now()
  ${matchingOptIns('o.topic = ANY($2::text[])', 'STOPPED', inZones ? 6 : null)} AND o.kind::text = ANY($3::text[])
  ON CONFLICT ("sourceId", "optInId") DO NOTHING
  RETURNING 1
)
SELECT (SELECT COALESCE(MAX("batchNo") + 1, 0) FROM "Delivery" WHERE "sourceId" = $5)::int AS next,
       (SELECT count(*) FROM stopped)::int AS stopped`;
const START_SQL = startSql(false);
const START_IN_ZONES_SQL = startSql(true);
