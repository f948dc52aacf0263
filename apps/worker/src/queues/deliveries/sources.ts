import { loadStoredSourceMessage, type Database } from '@renotify/db';
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
  const stored = await loadStoredSourceMessage(db, job.sourceType, job.sourceId);
  if (!stored) return null;
  const parsed = priorityClassSchema.safeParse(stored.priority);
  return { messageJson: JSON.stringify(stored.message), deferIneligible: stored.deferIneligible, priority: parsed.success ? parsed.data : null };
}
