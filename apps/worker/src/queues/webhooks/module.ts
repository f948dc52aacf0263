import { findStaleWebhookReceipts } from '@renotify/db';
import { QueueName, WebhooksJobName, type WebhookReceiptJob } from '@renotify/queue';
import type { WorkerDeps } from '../../deps.js';
import { processWebhookReceipt } from './apply-receipt.js';
import { defineProcessor, type ProcessorModule } from '../define.js';
import { runReconcileJob } from './reconcile.js';

export interface WebhooksProcessorOptions {
  /** How often the sweeper looks for receipts whose job was lost (Redis down at intake). 0 turns it off. */
  sweepEveryMs?: number;
  /** A receipt unprocessed for this long is enqueued again (same job id, so a live job is not duplicated). */
  sweepOlderThanMs?: number;
  /** Cron pattern (UTC) of the all-Pages token reconciliation; null leaves scheduling to someone else. */
  reconcileCron?: string | null;
}

const DEFAULTS = { sweepEveryMs: 30_000, sweepOlderThanMs: 60_000, reconcileCron: '17 */6 * * *' } as const;

/** Enqueues every stale receipt; returns how many were (re)submitted. */
export async function sweepWebhookReceipts(deps: WorkerDeps, olderThanMs: number): Promise<number> {
  const ids = await findStaleWebhookReceipts(deps.db, olderThanMs);
  if (ids.length === 0) return 0;
  await deps.queues[QueueName.webhooks].addBulk(
    ids.map((receiptId) => ({ name: WebhooksJobName.receipt, data: { receiptId } satisfies WebhookReceiptJob, opts: { jobId: receiptId } })),
  );
  deps.logger.info({ count: ids.length }, 'stale webhook receipts enqueued by the sweeper');
  return ids.length;
}

/**
 * The `webhooks` queue: `receipt` jobs apply a stored Messenger webhook to the token store, `reconcile` jobs
 * repair it from Meta's token list. A sweeper (at start-up and periodically) re-enqueues receipts whose job
 * never made it to Redis, so a webhook acknowledged to Meta is always applied eventually.
 */
export function createWebhooksProcessorModule(options: WebhooksProcessorOptions = {}): ProcessorModule & { reconcileCron: string | null } {
  const settings: Required<WebhooksProcessorOptions> = { ...DEFAULTS, ...options };
  let timer: NodeJS.Timeout | undefined;
  return {
    queue: QueueName.webhooks,
    // Read by the worker's scheduler guard (schedulers.ts), which installs it and re-creates it if Redis loses it.
    reconcileCron: settings.reconcileCron,
    async create(deps: WorkerDeps) {
      const sweep = () =>
        sweepWebhookReceipts(deps, settings.sweepOlderThanMs).catch((error: unknown) =>
          deps.logger.warn({ err: error }, 'webhook receipt sweep failed; will try again'),
        );
      if (settings.sweepEveryMs > 0) {
        await sweep();
        timer = setInterval(() => void sweep(), settings.sweepEveryMs);
        timer.unref();
      }
      return defineProcessor(QueueName.webhooks, deps, {
        [WebhooksJobName.reconcile]: (data, job) => runReconcileJob(deps, data, job),
        [WebhooksJobName.receipt]: (data, job) => {
          const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
          return processWebhookReceipt(deps.db, deps.logger, data.receiptId, { finalAttempt });
        },
      });
    },
    async close() {
      clearInterval(timer);
    },
  };
}

/** The module the worker registers by default. */
export const webhooksProcessor = createWebhooksProcessorModule();
