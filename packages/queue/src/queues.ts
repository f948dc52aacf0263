import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { defaultJobOptions, EVENTS_STREAM_MAX_LEN } from './defaults.js';
import { ALL_QUEUES, type QueueName } from './names.js';

export type Queues = Record<QueueName, Queue> & { close(): Promise<void> };

/** One Queue per name over a shared connection; the caller owns (and quits) the connection. */
export function createQueues(connection: Redis, prefix: string): Queues {
  const queues = Object.fromEntries(
    ALL_QUEUES.map((name) => [
      name,
      new Queue(name, { connection, prefix, defaultJobOptions, streams: { events: { maxLen: EVENTS_STREAM_MAX_LEN } } }),
    ]),
  ) as Record<QueueName, Queue>;
  return Object.assign(queues, {
    async close() {
      await Promise.all(ALL_QUEUES.map((name) => queues[name].close()));
    },
  });
}
