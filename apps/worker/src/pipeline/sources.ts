import type { Database } from '@renotify/db';
import type { DispatchJob } from '@renotify/queue';

export interface SourceMessage {
  /** The `message` object of the Send API body, serialised once per batch. */
  messageJson: string;
  /** Deliveries held back by frequency window / user cap wait for their next eligible time instead of skipping. */
  deferIneligible: boolean;
}

/** What a source (an event or a campaign run) sends: rendered at ingest or campaign time, stored as JSON. */
export async function loadSourceMessage(db: Database, job: DispatchJob): Promise<SourceMessage | null> {
  if (job.sourceType === 'EVENT') {
    const { rows } = await db.pool.query<{ message: unknown }>('SELECT message FROM "Event" WHERE id = $1', [job.sourceId]);
    return rows[0] ? { messageJson: JSON.stringify(rows[0].message), deferIneligible: false } : null;
  }
  const { rows } = await db.pool.query<{ message: unknown; deferIneligible: boolean }>(
    // A run's own rendering ({{date}} filled in, frozen against later edits) wins over the campaign's template.
    `SELECT COALESCE(r.message, c.message) AS message, c."deferIneligible" FROM "CampaignRun" r JOIN "Campaign" c ON c.id = r."campaignId" WHERE r.id = $1::uuid`,
    [job.sourceId],
  );
  return rows[0] ? { messageJson: JSON.stringify(rows[0].message), deferIneligible: rows[0].deferIneligible } : null;
}
