import type { Queue } from 'bullmq';
import { campaignSchedulerRows } from '@renotify/db';
import {
  CAMPAIGN_RECONCILE_EVERY_MS,
  CAMPAIGN_RECONCILE_SCHEDULER_ID,
  CampaignJobName,
  OUTBOUND_WEBHOOKS_RELAY_SCHEDULER_ID,
  OutboundWebhooksJobName,
  QueueName,
  RECONCILE_SCHEDULER_ID,
  RETENTION_JOB,
  RETENTION_SCHEDULER_ID,
  reconcileCampaignSchedulers,
  SWEEP_JOB,
  WebhooksJobName,
} from '@renotify/queue';
import type { WorkerDeps } from './deps.js';
import type { ProcessorModule } from './queues/define.js';

/*
 * Every BullMQ job scheduler the worker relies on, declared in one place. Schedulers live only in Redis: a Redis
 * that restarts without persistence (or is flushed) forgets them, and with the sweeper gone nothing re-queues
 * the work the same loss orphaned. So they are ensured at start AND re-checked periodically and on every
 * reconnect, and whatever is missing is re-created (campaign schedulers from Postgres, their source of truth).
 */

export interface SchedulerSpec {
  queue: QueueName;
  id: string;
  repeat: { every: number } | { pattern: string };
  template: { name: string; data: Record<string, unknown> };
}

/** A module that schedules the all-Pages token reconciliation (cron, UTC); null leaves it to someone else. */
interface SchedulesReconciliation {
  reconcileCron: string | null;
}
/** A module whose queue carries the campaigns' own schedulers, synced from the database. */
interface SyncsCampaignSchedulers {
  syncsCampaignSchedulers: true;
}

/** A module whose queue carries the outbound webhooks' outbox relay (queues due rows every `relayEveryMs`). */
interface RelaysWebhookOutbox {
  relayEveryMs: number;
}
const relaysWebhookOutbox = (module: ProcessorModule): module is ProcessorModule & RelaysWebhookOutbox => 'relayEveryMs' in module;
const schedulesReconciliation = (module: ProcessorModule): module is ProcessorModule & SchedulesReconciliation => 'reconcileCron' in module;
const syncsCampaigns = (module: ProcessorModule): module is ProcessorModule & SyncsCampaignSchedulers => 'syncsCampaignSchedulers' in module;

/** The fixed schedulers the given modules need. */
export function declaredSchedulers(deps: Pick<WorkerDeps, 'config'>, modules: readonly ProcessorModule[]): SchedulerSpec[] {
  const specs: SchedulerSpec[] = [];
  for (const module of modules) {
    if (module.queue === QueueName.deliveries) {
      // One entry shared by all workers: exactly one of them sweeps per interval.
      specs.push({ queue: QueueName.deliveries, id: SWEEP_JOB, repeat: { every: deps.config.SWEEP_INTERVAL_MS }, template: { name: SWEEP_JOB, data: {} } });
    }
    if (schedulesReconciliation(module) && module.reconcileCron !== null) {
      // A cron pattern, not `every`: an `every` scheduler runs at once when (re)created, and a token listing per
      // Page on each fresh start would spend the Pages' Graph rate limits.
      specs.push({ queue: QueueName.webhooks, id: RECONCILE_SCHEDULER_ID, repeat: { pattern: module.reconcileCron }, template: { name: WebhooksJobName.reconcile, data: {} } });
    }
    if (module.queue === QueueName.maintenance) {
      // A cron pattern, like the reconciliation: an `every` scheduler would also purge on every fresh start.
      specs.push({ queue: QueueName.maintenance, id: RETENTION_SCHEDULER_ID, repeat: { pattern: deps.config.RETENTION_CRON }, template: { name: RETENTION_JOB, data: {} } });
    }
    if (relaysWebhookOutbox(module)) {
      // One entry shared by all workers; rows are claimed with SKIP LOCKED, so overlapping runs never queue a row twice.
      specs.push({
        queue: QueueName.outboundWebhooks,
        id: OUTBOUND_WEBHOOKS_RELAY_SCHEDULER_ID,
        repeat: { every: module.relayEveryMs },
        template: { name: OutboundWebhooksJobName.relay, data: {} },
      });
    }
    if (syncsCampaigns(module)) {
      specs.push({ queue: QueueName.campaigns, id: CAMPAIGN_RECONCILE_SCHEDULER_ID, repeat: { every: CAMPAIGN_RECONCILE_EVERY_MS }, template: { name: CampaignJobName.reconcile, data: {} } });
    }
  }
  return specs;
}

const sameRepeat = (installed: { every?: number | null; pattern?: string | null }, spec: SchedulerSpec) =>
  'every' in spec.repeat ? installed.every === spec.repeat.every : installed.pattern === spec.repeat.pattern;

export interface EnsureReport {
  present: string[];
  created: string[];
  /** Campaign schedulers re-synced from the database (after a loss was detected, or at start). */
  campaigns?: Record<string, number>;
}

/**
 * Creates every missing scheduler. At start (`updateChanged`) a scheduler whose interval/pattern differs from the
 * config is replaced too; periodic checks only fill gaps, because re-upserting an `every` scheduler runs it again
 * at once. When anything was missing on the campaigns queue, or at start, the campaign schedulers are re-synced.
 */
export async function ensureSchedulers(
  deps: Pick<WorkerDeps, 'queues' | 'db'>,
  specs: readonly SchedulerSpec[],
  { updateChanged = false, syncCampaigns = false }: { updateChanged?: boolean; syncCampaigns?: boolean } = {},
): Promise<EnsureReport> {
  const report: EnsureReport = { present: [], created: [] };
  let campaignsQueueLost = false;
  for (const spec of specs) {
    const queue: Queue = deps.queues[spec.queue];
    const installed = await queue.getJobScheduler(spec.id);
    if (installed && (!updateChanged || sameRepeat(installed, spec))) {
      report.present.push(spec.id);
      continue;
    }
    await queue.upsertJobScheduler(spec.id, spec.repeat, spec.template);
    report.created.push(spec.id);
    if (spec.queue === QueueName.campaigns && !installed) campaignsQueueLost = true;
  }
  if (syncCampaigns && (campaignsQueueLost || updateChanged)) {
    report.campaigns = await reconcileCampaignSchedulers(campaignSchedulerRows(deps.db), deps.queues.campaigns);
  }
  return report;
}

export interface SchedulerHealth {
  ok: boolean;
  /** Milliseconds since the last check that saw (or restored) every scheduler; null before the first. */
  lastOkAgoMs: number | null;
  /** Why the last check failed, when it did. */
  problem?: string;
}

/**
 * Keeps the declared schedulers in place: checks every `everyMs` and whenever the Redis connection becomes ready
 * again, one check at a time, each bounded by `timeoutMs` (a command to a dead Redis can wait forever).
 * Unhealthy when the last check failed or no check succeeded within `staleAfterMs`.
 */
export class SchedulerGuard {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastOkAt: number | undefined;
  private problem: string | undefined;
  private readonly onReady = () => void this.check();

  constructor(
    private readonly deps: Pick<WorkerDeps, 'queues' | 'db' | 'redis' | 'logger'>,
    private readonly specs: readonly SchedulerSpec[],
    private readonly options: { everyMs: number; timeoutMs: number; staleAfterMs: number; syncCampaigns: boolean; now?: () => number },
  ) {}

  get watching(): boolean {
    return this.specs.length > 0;
  }

  /** Ensures the schedulers once (replacing changed ones); throws when Redis cannot be reached. */
  async start(): Promise<EnsureReport | undefined> {
    if (!this.watching) return undefined;
    const report = await ensureSchedulers(this.deps, this.specs, { updateChanged: true, syncCampaigns: this.options.syncCampaigns });
    this.lastOkAt = this.now();
    this.timer = setInterval(() => void this.check(), this.options.everyMs);
    this.timer.unref();
    this.deps.redis.on('ready', this.onReady);
    return report;
  }

  stop(): void {
    clearInterval(this.timer);
    this.deps.redis.off('ready', this.onReady);
  }

  /** One check; concurrent callers share the round in progress. */
  check(): Promise<void> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  status(): SchedulerHealth {
    const lastOkAgoMs = this.lastOkAt === undefined ? null : this.now() - this.lastOkAt;
    const ok = !this.watching || (this.problem === undefined && lastOkAgoMs !== null && lastOkAgoMs <= this.options.staleAfterMs);
    return { ok, lastOkAgoMs, ...(this.problem === undefined ? {} : { problem: this.problem }) };
  }

  private async round(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const attempt = ensureSchedulers(this.deps, this.specs, { syncCampaigns: this.options.syncCampaigns });
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`scheduler check did not answer within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      });
      const report = await Promise.race([attempt, timeout]);
      this.lastOkAt = this.now();
      this.problem = undefined;
      if (report.created.length > 0) this.deps.logger.warn(report, 'job schedulers were missing (Redis lost its data?) and were re-created');
    } catch (error) {
      this.problem = error instanceof Error ? error.message : String(error);
      this.deps.logger.warn({ err: error }, 'job schedulers could not be checked; will try again');
      // A round stuck on a dead socket finishes (or fails) when Redis answers again; the next round waits for it.
      await attempt.catch(() => undefined);
    } finally {
      clearTimeout(timer);
    }
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
