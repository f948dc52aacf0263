import { claimDueWebhookMessages, pruneSentWebhookMessages } from '@renotify/db';
import { OutboundWebhooksJobName, QueueName, type SendWebhookJob } from '@renotify/queue';
import type { WorkerDeps } from '../../deps.js';

export interface RelaySettings {
  /** Rows claimed per round; a relay run goes on while rounds come back full, up to `maxRounds`. */
  batchSize: number;
  maxRounds: number;
  /** A row queued this long ago and still PENDING is queued again (its job was lost with Redis or a killed worker). */
  leaseMs: number;
  /** SENT messages are kept this long (listed by GET /v1/webhook-endpoints/:id/messages), then deleted. */
  keepSentMs: number;
}

/**
 * Queues one send job per due outbox row. The job id is the row id, so a row queued twice (two relays, a lease
 * that ran out while the job still waited) is still one job. Returns how many rows were queued.
 */
export async function relayDueWebhooks(deps: WorkerDeps, settings: RelaySettings): Promise<number> {
  let queued = 0;
  for (let round = 0; round < settings.maxRounds; round++) {
    const ids = await claimDueWebhookMessages(deps.db, { limit: settings.batchSize, leaseMs: settings.leaseMs });
    if (ids.length === 0) break;
    await deps.queues[QueueName.outboundWebhooks].addBulk(
      ids.map((messageId) => ({ name: OutboundWebhooksJobName.send, data: { messageId } satisfies SendWebhookJob, opts: { jobId: messageId } })),
    );
    queued += ids.length;
    if (ids.length < settings.batchSize) break;
  }
  return queued;
}

/** Deletes SENT messages older than `keepSentMs`, a bounded batch per call. */
export function pruneSentWebhooks(deps: WorkerDeps, settings: Pick<RelaySettings, 'keepSentMs'>): Promise<number> {
  const deadDays = deps.config.RETENTION_DEAD_LETTERS_DAYS;
  const deadBefore = deadDays > 0 ? new Date(Date.now() - deadDays * 86_400_000) : null;
  return pruneSentWebhookMessages(deps.db, { before: new Date(Date.now() - settings.keepSentMs), deadBefore, limit: 1_000 });
}
