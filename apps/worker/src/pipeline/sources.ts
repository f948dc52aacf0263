import type { Database } from '@renotify/db';
import { priorityClassSchema, type DispatchJob, type PriorityClass } from '@renotify/queue';

export interface SourceMessage {
  /** The `message` object of the Send API body, serialised once per batch. */
  messageJson: string;
  /** Deliveries held back by frequency window / user cap wait for their next eligible time instead of skipping. */
  deferIneligible: boolean;
  /** The event's priority override (null: by token kind; campaign runs are always low). */
  priority: PriorityClass | null;
}

/** What a source (an event or a campaign run) sends: rendered at ingest or campaign time, stored as JSON. */
export async function loadSourceMessage(db: Database, job: Pick<DispatchJob, 'sourceType' | 'sourceId'>): Promise<SourceMessage | null> {
  if (job.sourceType === 'EVENT') {
    const { rows } = await db.pool.query<{ message: unknown; priority: string | null }>('SELECT message, priority FROM "Event" WHERE id = $1', [job.sourceId]);
    const row = rows[0];
    if (!row) return null;
    const parsed = priorityClassSchema.safeParse(row.priority);
    const priority: PriorityClass | null = parsed.success ? parsed.data : null;
    return { messageJson: JSON.stringify(row.message), deferIneligible: false, priority };
  }
  const { rows } = await db.pool.query<{ message: unknown; deferIneligible: boolean }>(
    // A run's own rendering ({{date}} filled in, frozen against later edits) wins over the campaign's template.
    `SELECT COALESCE(r.message, c.message) AS message, c."deferIneligible" FROM "CampaignRun" r JOIN "Campaign" c ON c.id = r."campaignId" WHERE r.id = $1::uuid`,
    [job.sourceId],
  );
  return rows[0] ? { messageJson: JSON.stringify(rows[0].message), deferIneligible: rows[0].deferIneligible, priority: null } : null;
}
