import type { Database } from './client.js';
import type { Queryable } from './tx.js';

/** What an audit entry records: an action on personal data, never the person's identifiers. */
export interface AuditEntry {
  /** e.g. SUBSCRIBER_ERASED, SUBSCRIBER_STOPPED */
  action: string;
  pageId: string;
  /** Who asked: a fingerprint of the API key (fp_…), never the key. */
  actor: string;
  /** How much was changed, by kind (counts only). */
  details: Record<string, number>;
}

export interface AuditRecord extends AuditEntry {
  id: string;
  at: Date;
}

/** Appends one entry to "AuditLog" (written in the same transaction as the change it records). */
export async function recordAudit(client: Database | Queryable, entry: AuditEntry): Promise<void> {
  const queryable = 'pool' in client ? client.pool : client;
  await queryable.query(`INSERT INTO "AuditLog" (action, "pageId", actor, details) VALUES ($1, $2, $3, $4::jsonb)`, [
    entry.action,
    entry.pageId,
    entry.actor,
    JSON.stringify(entry.details),
  ]);
}

/** A Page's audit entries, newest first. */
export async function listAuditEntries(db: Database, pageId: string, limit = 100): Promise<AuditRecord[]> {
  const { rows } = await db.pool.query<AuditRecord>(
    `SELECT id, at, action, "pageId", actor, details FROM "AuditLog" WHERE "pageId" = $1 ORDER BY at DESC, id DESC LIMIT $2`,
    [pageId, limit],
  );
  return rows;
}
