import { createHash } from 'node:crypto';
import type { Database } from './client.js';
import { storableJson, storableText } from './storable-json.js';
import { withTransaction, type Queryable } from './tx.js';

/* Webhook receipts: the raw body is stored before Meta gets its 200, applied later by the worker. */

// ---------------------------------------------------------------------------------------------------------
// Webhook receipts

export interface StoredReceipt {
  id: string;
  /** The same bytes were received before (Meta redelivers): nothing new was stored. */
  duplicate: boolean;
  processed: boolean;
}

export function sha256Hex(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Stores a raw webhook body once per distinct body; a redelivery returns the first receipt. */
export async function storeWebhookReceipt(db: Database, rawBody: Buffer): Promise<StoredReceipt> {
  const bodySha256 = sha256Hex(rawBody);
  const inserted = await db.pool.query<{ id: string }>(
    `INSERT INTO "WebhookReceipt" ("bodySha256", "rawBody") VALUES ($1, $2) ON CONFLICT ("bodySha256") DO NOTHING RETURNING id`,
    [bodySha256, rawBody.toString('utf8')],
  );
  if (inserted.rows[0]) return { id: inserted.rows[0].id, duplicate: false, processed: false };
  const existing = await db.pool.query<{ id: string; processedAt: Date | null }>(
    `SELECT id, "processedAt" FROM "WebhookReceipt" WHERE "bodySha256" = $1`,
    [bodySha256],
  );
  const row = existing.rows[0];
  if (!row) throw new Error('webhook receipt vanished between insert and select');
  return { id: row.id, duplicate: true, processed: row.processedAt !== null };
}

export interface WebhookReceiptRow {
  id: string;
  rawBody: string;
  receivedAt: Date;
  processedAt: Date | null;
}

export async function loadWebhookReceipt(db: Database, id: string): Promise<WebhookReceiptRow | null> {
  const result = await db.pool.query<WebhookReceiptRow>(
    `SELECT id, "rawBody", "receivedAt", "processedAt" FROM "WebhookReceipt" WHERE id = $1`,
    [id],
  );
  return result.rows[0] ?? null;
}

export async function markWebhookReceiptProcessed(db: Database, id: string): Promise<void> {
  await db.pool.query(`UPDATE "WebhookReceipt" SET "processedAt" = now() WHERE id = $1 AND "processedAt" IS NULL`, [id]);
}

/** Receipts stored but not processed for `olderThanMs`: their job was lost (Redis down at intake) or is stuck. */
export async function findStaleWebhookReceipts(db: Database, olderThanMs: number, limit = 500): Promise<string[]> {
  const result = await db.pool.query<{ id: string }>(
    `SELECT id FROM "WebhookReceipt"
      WHERE "processedAt" IS NULL AND "receivedAt" < now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY "receivedAt" LIMIT $2`,
    [olderThanMs, limit],
  );
  return result.rows.map((row) => row.id);
}

/** Stores a dead letter; NUL and lone surrogates (the usual reason for one) are escaped so it can always be stored. */
export async function recordDeadLetter(db: Database | Queryable, kind: string, reason: string, payload: unknown): Promise<void> {
  const queryable = 'pool' in db ? db.pool : db;
  await queryable.query(`INSERT INTO "DeadLetter" (kind, reason, payload) VALUES ($1, $2, $3::jsonb)`, [
    kind,
    storableText(reason),
    JSON.stringify(storableJson(payload ?? null)),
  ]);
}

/**
 * Marks a webhook receipt processed together with its dead letters, in one transaction. When someone else
 * finished the receipt meanwhile, nothing is written: their dead letters are the record.
 */
export async function finishWebhookReceipt(
  db: Database,
  receiptId: string,
  deadLetterKind: string,
  deadLetters: ReadonlyArray<{ reason: string; payload: unknown }>,
): Promise<void> {
  await withTransaction(db, async (client) => {
    const marked = await client.query(`UPDATE "WebhookReceipt" SET "processedAt" = now() WHERE id = $1 AND "processedAt" IS NULL`, [receiptId]);
    if (marked.rowCount === 0) return;
    for (const letter of deadLetters) await recordDeadLetter(client, deadLetterKind, letter.reason, letter.payload);
  });
}

