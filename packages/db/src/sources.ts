import type { Database } from './client.js';
import type { Page } from './generated/prisma/client.js';
import type { SourceType } from './generated/prisma/enums.js';
import { toSendingPage, type SendingPage } from './pages.js';
import type { SecretBox } from './secret-box.js';

/**
 * SQL: the parent row `alias` (an "Event" or a "CampaignRun") has finished its fan-out, every batch of its deliveries
 * written: an event FANNED_OUT, a campaign run FANNED_OUT or CANCELLED.
 */
export const FAN_OUT_OVER: Record<SourceType, (alias: string) => string> = {
  EVENT: (alias) => `${alias}.status = 'FANNED_OUT'`,
  CAMPAIGN_RUN: (alias) => `${alias}.status IN ('FANNED_OUT', 'CANCELLED')`,
};

/** What a source (an event or a campaign run) sends, as stored: rendered at ingest or campaign time. */
export interface StoredSourceMessage {
  message: unknown;
  /** Campaigns only: deliveries held back by frequency window / user cap wait instead of skipping. */
  deferIneligible: boolean;
  /** Events only: the stored priority override, unparsed (null for campaign runs). */
  priority: string | null;
}

/** A source's message and its Page (null when the Page is not registered or was deleted). */
export interface StoredSourceForSending extends StoredSourceMessage {
  page: SendingPage | null;
}

/** The source's own columns in {@link loadSourceForSending}, named apart from the Page's (`p.*`). */
interface SourceColumns {
  sourceMessage: unknown;
  sourcePriority: string | null;
  sourceDeferIneligible: boolean;
}

/**
 * What a dispatch pass needs before it sends: the source's message (rendered at ingest or campaign time) and the
 * Page it sends for, in ONE statement (a pass of one small batch, the common case when many Pages each send a
 * little, runs a handful of statements: two reads here were one of them too many). Null when the source is gone.
 */
export async function loadSourceForSending(db: Database, secrets: SecretBox, sourceType: SourceType, sourceId: string): Promise<StoredSourceForSending | null> {
  const { rows } = await db.pool.query<SourceColumns & Partial<Page>>(
    sourceType === 'EVENT'
      ? `SELECT e.message AS "sourceMessage", e.priority AS "sourcePriority", false AS "sourceDeferIneligible", p.*
         FROM "Event" e LEFT JOIN "Page" p ON p.id = e."pageId" AND p."deletedAt" IS NULL WHERE e.id = $1`
      : // A run's own rendering ({{date}} filled in, frozen against later edits) wins over the campaign's template.
        `SELECT COALESCE(r.message, c.message) AS "sourceMessage", NULL AS "sourcePriority", c."deferIneligible" AS "sourceDeferIneligible", p.*
         FROM "CampaignRun" r JOIN "Campaign" c ON c.id = r."campaignId" LEFT JOIN "Page" p ON p.id = c."pageId" AND p."deletedAt" IS NULL
         WHERE r.id = $1::uuid`,
    [sourceId],
  );
  const row = rows[0];
  if (!row) return null;
  const { sourceMessage, sourcePriority, sourceDeferIneligible, ...page } = row;
  return {
    message: sourceMessage,
    priority: sourcePriority,
    deferIneligible: sourceDeferIneligible,
    page: page.id == null ? null : toSendingPage(secrets, page as Page),
  };
}
