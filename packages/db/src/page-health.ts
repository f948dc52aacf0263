import type { Database } from './client.js';

/** `%`, `_` and `\` are LIKE wildcards/escape; Page ids may contain `_`. */
function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (char) => `\\${char}`);
}

/**
 * When the newest stored webhook for `pageId` arrived (since `since`), or null. Receipts keep the raw body, not
 * the Page, so this looks for the Page id as a JSON `"id"` value (`entry[].id` and `recipient.id` are the Page's).
 * Meta's bodies are compact JSON, so the pattern is exact. A scan bounded by `since`: the doctor calls it, not a hot path.
 */
export async function lastWebhookReceivedAt(db: Database, pageId: string, since: Date): Promise<Date | null> {
  const { rows } = await db.pool.query<{ last: Date | null }>(
    `SELECT max("receivedAt") AS last FROM "WebhookReceipt" WHERE "receivedAt" >= $2 AND "rawBody" LIKE $1`,
    [`%"id":"${escapeLike(pageId)}"%`, since],
  );
  return rows[0]?.last ?? null;
}
