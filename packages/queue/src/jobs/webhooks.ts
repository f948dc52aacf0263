import { z } from 'zod';

/** Job names on the `webhooks` queue: stored webhook bodies to apply, and token reconciliation runs. */
export const WebhooksJobName = {
  receipt: 'receipt',
  reconcile: 'reconcile',
} as const;

export type WebhooksJobName = (typeof WebhooksJobName)[keyof typeof WebhooksJobName];

/** Only the id travels through Redis; the body stays in Postgres (WebhookReceipt). The job id is the receipt id too. */
export const webhookReceiptJobSchema = z.object({ receiptId: z.uuid() });
export type WebhookReceiptJob = z.infer<typeof webhookReceiptJobSchema>;

/** One Page, or every live Page when `pageId` is absent (the scheduled run). */
export const reconcileJobSchema = z.object({ pageId: z.string().min(1).optional() });
export type ReconcileJob = z.infer<typeof reconcileJobSchema>;
