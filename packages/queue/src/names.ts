/** Queue names; Redis keys are `<QUEUE_PREFIX>:<name>:…`. Deploy manifests and the KEDA scaler are checked against these. */
export const QueueName = {
  webhooks: 'webhooks',
  events: 'events',
  deliveries: 'deliveries',
  campaigns: 'campaigns',
} as const;

export type QueueName = (typeof QueueName)[keyof typeof QueueName];

export const ALL_QUEUES: readonly QueueName[] = Object.values(QueueName);
