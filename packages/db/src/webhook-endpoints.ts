import type { Database } from './client.js';
import type { SecretBox } from './secret-box.js';

/*
 * Outbound webhook endpoints (#15): where a business receives signed webhooks for one Page. The signing secret is
 * sealed with the SecretBox like Page secrets; it leaves this module in plain text only to the API's create and
 * rotate answers (shown once) and to the sender.
 */

/** What the API shows of an endpoint: everything but the secret. */
export interface WebhookEndpointView {
  id: string;
  pageId: string;
  url: string;
  events: string[];
  enabled: boolean;
  description: string | null;
  createdAt: Date;
  updatedAt: Date;
}

const VIEW = 'id, "pageId", url, events, enabled, description, "createdAt", "updatedAt"';

export interface NewWebhookEndpoint {
  pageId: string;
  url: string;
  events: string[];
  secret: string;
  description?: string | null;
}

export async function createWebhookEndpoint(db: Database, secrets: SecretBox, input: NewWebhookEndpoint): Promise<WebhookEndpointView> {
  const { rows } = await db.pool.query<WebhookEndpointView>(
    `INSERT INTO "WebhookEndpoint" ("pageId", url, events, "secretCipher", description, "updatedAt")
     VALUES ($1, $2, $3::text[], $4, $5, now()) RETURNING ${VIEW}`,
    [input.pageId, input.url, input.events, secrets.encrypt(input.secret), input.description ?? null],
  );
  return rows[0]!;
}

export async function getWebhookEndpoint(db: Database, id: string): Promise<WebhookEndpointView | null> {
  const { rows } = await db.pool.query<WebhookEndpointView>(`SELECT ${VIEW} FROM "WebhookEndpoint" WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export interface WebhookEndpointCursor {
  createdAt: Date;
  id: string;
}

/** Oldest first, keyset-paged on (createdAt, id); optionally one Page's. */
export async function listWebhookEndpoints(
  db: Database,
  { pageId, after, limit }: { pageId?: string | undefined; after: WebhookEndpointCursor | null; limit: number },
): Promise<{ items: WebhookEndpointView[]; next: WebhookEndpointCursor | null }> {
  const { rows } = await db.pool.query<WebhookEndpointView>(
    `SELECT ${VIEW} FROM "WebhookEndpoint"
     WHERE ($1::text IS NULL OR "pageId" = $1)
       AND ($2::timestamp IS NULL OR ("createdAt", id) > ($2::timestamp, $3::uuid))
     ORDER BY "createdAt", id LIMIT $4`,
    [pageId ?? null, after?.createdAt ?? null, after?.id ?? null, limit + 1],
  );
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, next: rows.length > limit && last ? { createdAt: last.createdAt, id: last.id } : null };
}

export interface WebhookEndpointChanges {
  url?: string;
  events?: string[];
  enabled?: boolean;
  description?: string | null;
}

export async function updateWebhookEndpoint(db: Database, id: string, changes: WebhookEndpointChanges): Promise<WebhookEndpointView | null> {
  const { rows } = await db.pool.query<WebhookEndpointView>(
    `UPDATE "WebhookEndpoint" SET
       url = COALESCE($2, url),
       events = COALESCE($3::text[], events),
       enabled = COALESCE($4, enabled),
       description = CASE WHEN $5 THEN $6 ELSE description END,
       "updatedAt" = now()
     WHERE id = $1 RETURNING ${VIEW}`,
    [id, changes.url ?? null, changes.events ?? null, changes.enabled ?? null, changes.description !== undefined, changes.description ?? null],
  );
  return rows[0] ?? null;
}

/** Deletes the endpoint and its messages (sent, pending and dead). */
export async function deleteWebhookEndpoint(db: Database, id: string): Promise<boolean> {
  const { rowCount } = await db.pool.query(`DELETE FROM "WebhookEndpoint" WHERE id = $1`, [id]);
  return (rowCount ?? 0) > 0;
}

/** Replaces the signing secret; messages not yet sent are signed with the new one. */
export async function rotateWebhookEndpointSecret(db: Database, secrets: SecretBox, id: string, secret: string): Promise<WebhookEndpointView | null> {
  const { rows } = await db.pool.query<WebhookEndpointView>(
    `UPDATE "WebhookEndpoint" SET "secretCipher" = $2, "updatedAt" = now() WHERE id = $1 RETURNING ${VIEW}`,
    [id, secrets.encrypt(secret)],
  );
  return rows[0] ?? null;
}
