import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedis } from './connection.js';
import { defaultJobOptions, EVENTS_STREAM_MAX_LEN } from './defaults.js';
import { PUBLISH_JOB, eventJobId, type PublishJob } from './catalog.js';
import { parseEvents, uniqueEvents, type EventInputDraft, type EventProblem } from './events.js';
import { QueueName } from './names.js';
import { withTimeout } from '@renotify/domain';

/** Thrown by `publish` when an event is invalid; nothing of the call was queued. */
export class EventValidationError extends Error {
  override name = 'EventValidationError';
  constructor(readonly problems: EventProblem[]) {
    super(`${problems.length} problem(s) in the events; nothing was published: ${problems.map((p) => `[${p.index}] ${p.path}: ${p.message}`).join('; ')}`);
  }
}

/** Thrown by `publish` when Redis does not answer in time; retrying the same events is safe (ids dedupe). */
export class EventPublishError extends Error {
  override name = 'EventPublishError';
}

export interface EventProducerOptions {
  /** Redis of the Renotify deployment, e.g. redis://127.0.0.1:6379. Ignored when `connection` is given. */
  redisUrl?: string;
  /** An ioredis client you own (and close); Renotify only issues commands on it. */
  connection?: Redis;
  /** Renotify's QUEUE_PREFIX; "renotify" by default. */
  prefix?: string;
  /**
   * When given, `publish` rejects events for unregistered or deleted Pages up front, like `POST /v1/events`;
   * without it such events are dead-lettered by the worker. Pass `createKnownPages(createDatabase(DATABASE_URL))`
   * of @renotify/db (the check ingest uses, with its few seconds of caching); this package runs no SQL.
   */
  pages?: PageDirectory;
  /** How long `publish` waits for a (re)connecting Redis before throwing EventPublishError. Default 5,000 ms. */
  timeoutMs?: number;
}

/** Which of some Page ids are not registered (or were deleted); `KnownPages` of @renotify/db is one. */
export interface PageDirectory {
  findUnknown(pageIds: Iterable<string>): Promise<Set<string>>;
}

export interface EventProducer {
  /** Validates and queues one event or up to 1,000; resolves with the distinct ids queued, in order. */
  publish(events: EventInputDraft | readonly EventInputDraft[]): Promise<{ eventIds: string[] }>;
  /** Closes the queue, and the Redis connection the producer opened itself (not `pages`: the caller owns it). */
  close(): Promise<void>;
}

/**
 * Resolves true once `redis` is connected, false after `graceMs`. BullMQ waits for a connection without limit,
 * so callers that must answer (an HTTP request, a producer) check this before issuing queue commands.
 */
export function whenRedisReady(redis: Redis, graceMs: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ready: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), graceMs);
    redis.once('ready', onReady);
  });
}

/**
 * The producer SDK: queue events straight into Renotify's Redis (no HTTP hop). Jobs go to the `events` queue as
 * `publish` jobs with the event id as job id, so publishing the same id again while it is queued is a no-op; the
 * worker stores each event (idempotently, by id) and fans it out.
 */
export function createEventProducer(options: EventProducerOptions): EventProducer {
  if (!options.connection && !options.redisUrl) throw new Error('createEventProducer needs redisUrl or connection');
  const ownsConnection = !options.connection;
  const connection = options.connection ?? createRedis(options.redisUrl as string, 'producer');
  const queue = new Queue(QueueName.events, {
    connection,
    prefix: options.prefix ?? 'renotify',
    defaultJobOptions,
    streams: { events: { maxLen: EVENTS_STREAM_MAX_LEN } },
  });
  // Connection failures surface from publish(); an unhandled 'error' event would crash the host process.
  queue.on('error', () => undefined);
  const pages = options.pages;
  const timeoutMs = options.timeoutMs ?? 5_000;

  return {
    async publish(input) {
      const parsed = parseEvents(input);
      if (!parsed.ok) throw new EventValidationError(parsed.problems);
      const events = parsed.events;
      if (pages) {
        const unknown = await pages.findUnknown(events.map((event) => event.pageId));
        const problems = events.flatMap((event, index) =>
          unknown.has(event.pageId) ? [{ index, path: 'pageId', message: `unknown page "${event.pageId}": register it with POST /v1/pages first` }] : [],
        );
        if (problems.length) throw new EventValidationError(problems);
      }
      const unique = uniqueEvents(events);
      if (!(await whenRedisReady(connection, timeoutMs))) {
        throw new EventPublishError(`Redis is not reachable (${connection.status}); nothing was published, retry later`);
      }
      try {
        await withTimeout(
          queue.addBulk(unique.map((event) => ({ name: PUBLISH_JOB, data: { event } satisfies PublishJob, opts: { jobId: eventJobId(event.id) } }))),
          timeoutMs,
          'publishing events',
        );
      } catch (error) {
        throw new EventPublishError(`Publishing failed: ${(error as Error).message}; retrying the same events is safe`, { cause: error });
      }
      return { eventIds: unique.map((event) => event.id) };
    },
    async close() {
      await queue.close();
      if (ownsConnection) await connection.quit().catch(() => connection.disconnect());
    },
  };
}
