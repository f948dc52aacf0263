import type { Database } from './client.js';
import type { Queryable } from './tx.js';

/*
 * Meta's delivery and read receipts (#15). Watermark semantics: every message the Page sent the person up to the
 * watermark was delivered (or read). A delivery counts as sent at `claimedAt` (the moment its request left; Meta's
 * own timestamp of the message lies between that and `finishedAt`), so a watermark equal to Meta's timestamp
 * covers it. Reading implies delivery. The triggers on "Delivery" turn each first mark into a webhook.
 */

export interface MessageReceipt {
  pageId: string;
  psid: string;
  kind: 'delivery' | 'read';
  /** Everything sent up to this time. */
  watermark: Date;
  /** When Meta reported it (the webhook event's timestamp): the value of deliveredAt/readAt. */
  at: Date;
  /** Delivery receipts may name the messages (mids) as well. */
  mids?: string[];
}

/** Marks the person's SENT deliveries on the Page; answers how many rows got a new mark. */
export async function applyMessageReceipt(client: Queryable, receipt: MessageReceipt): Promise<number> {
  const read = receipt.kind === 'read';
  const { rowCount } = await client.query(
    `UPDATE "Delivery" d SET
       "deliveredAt" = COALESCE(d."deliveredAt", $6::timestamp),
       "readAt" = CASE WHEN $5 THEN COALESCE(d."readAt", $6::timestamp) ELSE d."readAt" END
     FROM "OptIn" o JOIN "Subscriber" s ON s.id = o."subscriberId"
     WHERE o.id = d."optInId" AND s."pageId" = $1 AND s.psid = $2 AND d."pageId" = $1
       AND d.status = 'SENT'
       AND (COALESCE(d."claimedAt", d."finishedAt") <= $4::timestamp OR d."messageId" = ANY ($3::text[]))
       AND (CASE WHEN $5 THEN d."readAt" IS NULL ELSE d."deliveredAt" IS NULL END)`,
    [receipt.pageId, receipt.psid, receipt.mids ?? [], receipt.watermark, read, receipt.at],
  );
  return rowCount ?? 0;
}

/** Delivered and read counts of one source's SENT deliveries, with rates over SENT (null before anything was sent). */
export interface ReceiptCounts {
  sent: number;
  delivered: number;
  read: number;
  deliveredRate: number | null;
  readRate: number | null;
}

export async function getReceiptCounts(db: Database, sourceType: 'EVENT' | 'CAMPAIGN_RUN', sourceId: string): Promise<ReceiptCounts> {
  const { rows } = await db.pool.query<{ sent: number; delivered: number; read: number }>(
    `SELECT count(*)::int AS sent, count("deliveredAt")::int AS delivered, count("readAt")::int AS read
     FROM "Delivery" WHERE "sourceId" = $1 AND "sourceType" = $2::"SourceType" AND status = 'SENT'`,
    [sourceId, sourceType],
  );
  const { sent, delivered, read } = rows[0]!;
  const rate = (n: number) => (sent === 0 ? null : Math.round((n / sent) * 10_000) / 10_000);
  return { sent, delivered, read, deliveredRate: rate(delivered), readRate: rate(read) };
}
