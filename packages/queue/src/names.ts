/** Queue names; Redis keys are `<QUEUE_PREFIX>:<name>:…`. Deploy manifests and the KEDA scaler are checked against these. */
export const QueueName = {
  webhooks: 'webhooks',
  events: 'events',
  deliveries: 'deliveries',
  campaigns: 'campaigns',
  /** Housekeeping on a schedule (the retention purge): slow, one job at a time, never in the way of sends. */
  maintenance: 'maintenance',
  /** Signed webhooks to the businesses' endpoints (#15): its own workers, so a slow endpoint never slows Meta sends. */
  outboundWebhooks: 'outbound-webhooks',
} as const;

export type QueueName = (typeof QueueName)[keyof typeof QueueName];

export const ALL_QUEUES: readonly QueueName[] = Object.values(QueueName);
