import { z } from 'zod';

/*
 * Outbound webhooks (#15): the event types a business can subscribe an endpoint to, and the retry schedule of
 * the `outbound-webhooks` queue. The queue's job names and data schemas are in catalog.ts with the others.
 */

/** Every outbound webhook event type (docs/webhooks.md describes each one's `data`). */
export const WEBHOOK_EVENT_TYPES = [
  'delivery.sent',
  'delivery.failed',
  'delivery.dead',
  'delivery.skipped',
  'delivery.delivered',
  'delivery.read',
  'optin.created',
  'optin.stopped',
  'optin.resumed',
  'optin.expired',
  'subscriber.message',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
export const webhookEventTypeSchema = z.enum(WEBHOOK_EVENT_TYPES);

/**
 * Wait before each retry after a failed attempt (Standard Webhooks' suggested schedule, about 28 hours in all):
 * 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. After the last one fails the message is DEAD (redrivable).
 */
export const DEFAULT_WEBHOOK_RETRY_DELAYS_MS: readonly number[] = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];

/** The wait before the retry that follows failed attempt number `attempt` (1-based); null: no retry left. */
export function webhookRetryDelay(attempt: number, delaysMs: readonly number[] = DEFAULT_WEBHOOK_RETRY_DELAYS_MS): number | null {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a positive integer, got ${attempt}`);
  return delaysMs[attempt - 1] ?? null;
}
