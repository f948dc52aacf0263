import { webhookTargetsMayBePrivate } from '@renotify/config';
import { countPendingWebhookMessages } from '@renotify/db';
import { createOutboundPost } from '@renotify/messenger';
import { DEFAULT_WEBHOOK_RETRY_DELAYS_MS, OutboundWebhooksJobName, QueueName } from '@renotify/queue';
import type { WorkerDeps } from '../../deps.js';
import { defineProcessor, type ProcessorModule } from '../define.js';
import { pruneSentWebhooks, relayDueWebhooks, type RelaySettings } from './relay.js';
import { sendOutboundWebhook, type SendSettings } from './send.js';

/*
 * The `outbound-webhooks` queue (#15, docs/webhooks.md): signed webhooks to the businesses' endpoints. Its own
 * BullMQ workers and concurrency, so a slow or failing endpoint takes slots here only, never from Meta sends.
 * The outbox rows are written by the database in the state change's transaction; the relay (a job scheduler,
 * schedulers.ts) queues due rows, `send` makes one attempt and records it.
 */

export interface OutboundWebhooksOptions extends Partial<SendSettings>, Partial<RelaySettings> {
  /** Concurrent sends per worker process. */
  concurrency?: number;
  /** How often the relay looks for due outbox rows. */
  relayEveryMs?: number;
  /** How often (at most) a relay run also deletes SENT messages older than `keepSentMs`. */
  pruneEveryMs?: number;
}

const DEFAULTS = {
  concurrency: 16,
  relayEveryMs: 1_000,
  timeoutMs: 10_000,
  retryDelaysMs: DEFAULT_WEBHOOK_RETRY_DELAYS_MS,
  batchSize: 500,
  maxRounds: 10,
  leaseMs: 60_000,
  keepSentMs: 7 * 24 * 3_600_000,
  pruneEveryMs: 60_000,
} as const;

/** A module whose queue carries the outbox relay scheduler (read by schedulers.ts). */
export interface RelaysWebhookOutbox {
  relayEveryMs: number;
}

export function createOutboundWebhooksModule(options: OutboundWebhooksOptions = {}): ProcessorModule & RelaysWebhookOutbox {
  const settings = { ...DEFAULTS, ...options };
  return {
    queue: QueueName.outboundWebhooks,
    relayEveryMs: settings.relayEveryMs,
    concurrency: () => settings.concurrency,
    create(deps: WorkerDeps) {
      deps.metrics.readOutboundWebhookBacklog(() => countPendingWebhookMessages(deps.db));
      let prunedAt = 0;
      const post = settings.post ?? createOutboundPost({ allowPrivate: webhookTargetsMayBePrivate(deps.config) });
      return defineProcessor(QueueName.outboundWebhooks, deps, {
        [OutboundWebhooksJobName.send]: (data) => sendOutboundWebhook(deps, data.messageId, { ...settings, post }),
        [OutboundWebhooksJobName.relay]: async () => {
          const queued = await relayDueWebhooks(deps, settings);
          if (Date.now() - prunedAt < settings.pruneEveryMs) return { queued };
          prunedAt = Date.now();
          return { queued, pruned: await pruneSentWebhooks(deps, settings) };
        },
      });
    },
  };
}

