import { loadSourceForSending, type Database, type SecretBox, type SendingPage } from '@renotify/db';
import { priorityClassSchema, type DispatchJob, type PriorityClass } from '@renotify/queue';

export interface SourceForSending {
  /** The `message` object of the Send API body, serialised once per batch. */
  messageJson: string;
  /** Deliveries held back by frequency window / user cap wait for their next eligible time instead of skipping. */
  deferIneligible: boolean;
  /** The event's priority override (null: by token kind; campaign runs are always low). */
  priority: PriorityClass | null;
  /** The Page the source sends for; null when it is not registered (or was deleted). */
  page: SendingPage | null;
}

/** What a source (an event or a campaign run) sends, rendered at ingest or campaign time, and its Page: one read. */
export async function loadSource(db: Database, secrets: SecretBox, job: Pick<DispatchJob, 'sourceType' | 'sourceId'>): Promise<SourceForSending | null> {
  const stored = await loadSourceForSending(db, secrets, job.sourceType, job.sourceId);
  if (!stored) return null;
  const parsed = priorityClassSchema.safeParse(stored.priority);
  return { messageJson: JSON.stringify(stored.message), deferIneligible: stored.deferIneligible, priority: parsed.success ? parsed.data : null, page: stored.page };
}
