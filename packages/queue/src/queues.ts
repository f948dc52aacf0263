import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { queueJobOptions } from './catalog.js';
import { EVENTS_STREAM_MAX_LEN } from './defaults.js';
import { ALL_QUEUES, type QueueName } from './names.js';

export type Queues = Record<QueueName, Queue> & { close(): Promise<void> };

/**
 * One Queue per name over a shared connection; the caller owns (and quits) the connection.
 * Every Queue gets an 'error' listener: BullMQ re-emits connection failures (e.g. the connection is quit
 * while still connecting) as 'error' events, and an EventEmitter without a listener turns them into crashes.
 * Callers see the same failures on their own calls, so the default is to ignore them here.
 */
export function createQueues(connection: Redis, prefix: string, onError: (error: Error, queue: QueueName) => void = () => undefined): Queues {
  const queues = Object.fromEntries(
    ALL_QUEUES.map((name) => {
      const queue = new Queue(name, { connection, prefix, defaultJobOptions: queueJobOptions[name], streams: { events: { maxLen: EVENTS_STREAM_MAX_LEN } } });
      queue.on('error', (error) => onError(error, name));
      return [name, queue];
    }),
  ) as Record<QueueName, Queue>;
  return Object.assign(queues, {
    async close() {
      await Promise.all(ALL_QUEUES.map((name) => queues[name].close()));
    },
  });
}
