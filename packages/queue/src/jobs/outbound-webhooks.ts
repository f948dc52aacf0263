import { z } from 'zod';

/*
 * Outbound webhooks (#15): the event types a business can subscribe an endpoint to, and the retry schedule of
 * the `outbound-webhooks` queue (a domain rule). The queue's job names and data schemas are in catalog.ts with the others.
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

/** The retry schedule is a domain rule (packages/domain webhook-retry.ts), re-exported for the worker. */
export { DEFAULT_WEBHOOK_RETRY_DELAYS_MS, webhookRetryDelay } from '@renotify/domain';
