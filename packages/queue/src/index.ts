export { QueueName, ALL_QUEUES } from './names.js';
export { createRedis, isRedisReachable } from './connection.js';
export { defaultJobOptions, EVENTS_STREAM_MAX_LEN } from './defaults.js';
export { createQueues, type Queues } from './queues.js';
export * from './catalog.js';
export { PageRateLimiter } from './rate-limiter.js';
export * from './jobs/deliveries.js';
export * from './events.js';
export * from './producer.js';
