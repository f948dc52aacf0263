import type { Database } from './client.js';
import type { SourceType } from './generated/prisma/enums.js';

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

export async function loadStoredSourceMessage(db: Database, sourceType: SourceType, sourceId: string): Promise<StoredSourceMessage | null> {
  if (sourceType === 'EVENT') {
    const { rows } = await db.pool.query<{ message: unknown; priority: string | null }>('SELECT message, priority FROM "Event" WHERE id = $1', [sourceId]);
    return rows[0] ? { message: rows[0].message, deferIneligible: false, priority: rows[0].priority } : null;
  }
  const { rows } = await db.pool.query<{ message: unknown; deferIneligible: boolean }>(
    // A run's own rendering ({{date}} filled in, frozen against later edits) wins over the campaign's template.
    `SELECT COALESCE(r.message, c.message) AS message, c."deferIneligible" FROM "CampaignRun" r JOIN "Campaign" c ON c.id = r."campaignId" WHERE r.id = $1::uuid`,
    [sourceId],
  );
  return rows[0] ? { message: rows[0].message, deferIneligible: rows[0].deferIneligible, priority: null } : null;
}
