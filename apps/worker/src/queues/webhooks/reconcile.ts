import type { Job, Queue } from 'bullmq';
import { listLivePageIds, reconcilePageTokens, type ReconcileReport } from '@renotify/db';
import { fingerprint } from '@renotify/observability';
import { RECONCILE_SCHEDULER_ID, WebhooksJobName, type ReconcileJob } from '@renotify/queue';
import type { WorkerDeps } from '../../deps.js';

export { RECONCILE_SCHEDULER_ID } from '@renotify/queue';

/**
 * Installs (or updates) the periodic reconciliation of every live Page; idempotent across workers and restarts.
 * A cron pattern rather than `every`: BullMQ runs an `every` scheduler at once on creation, and a token listing
 * per Page on each fresh start would spend the Pages' Graph rate limits.
 */
export async function scheduleReconciliation(queue: Queue, cronPattern: string): Promise<void> {
  await queue.upsertJobScheduler(RECONCILE_SCHEDULER_ID, { pattern: cronPattern }, { name: WebhooksJobName.reconcile, data: {} });
}

/**
 * A `reconcile` job on the webhooks queue: repairs the token store from Meta's notification_message_tokens list,
 * for one Page or, without pageId (the scheduled run), for every live Page one after the other.
 */
export async function runReconcileJob(deps: WorkerDeps, data: ReconcileJob, job: Job): Promise<ReconcileReport[]> {
  const pageIds = data.pageId ? [data.pageId] : await listLivePageIds(deps.db);

  const reports: ReconcileReport[] = [];
  for (const pageId of pageIds) {
    try {
      const report = await reconcilePageTokens(deps.db, deps.secrets, deps.graph, pageId, { fingerprint });
      if (!report) {
        deps.logger.warn({ pageId, jobId: job.id }, 'reconcile skipped: Page unknown or deleted');
        continue;
      }
      const { details: _details, ...counts } = report;
      deps.logger.info({ jobId: job.id, ...counts }, 'tokens reconciled with Meta');
      reports.push(report);
    } catch (error) {
      // One Page's failure (revoked access token, Graph outage) must not starve the others of a scheduled run.
      if (data.pageId) throw error;
      deps.logger.error({ err: error, pageId, jobId: job.id }, 'reconcile failed for Page');
    }
  }
  return reports;
}
