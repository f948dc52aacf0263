import { acceptEvents, type Database } from '@renotify/db';
import { withTimeout } from '@renotify/domain';
import { fanoutJobsFor, uniqueEvents, whenRedisReady, type EventInput } from '@renotify/queue';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { isDataException, outageOf } from '../outage.js';

export interface IntakeResult {
  accepted: string[];
  duplicates: string[];
}

/** Why a submission failed: `unknown_page` and `invalid` are the caller's fault (400), the others are retryable (503). */
export class IntakeError extends Error {
  constructor(
    readonly kind: 'storage' | 'queue' | 'unknown_page' | 'invalid',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'IntakeError';
  }
}

export interface EventIntakeOptions {
  db: Database;
  redis: Redis;
  eventsQueue: Queue;
  /** Flushes (one INSERT and one fanout job per 1,000 events each) running at once. */
  maxInFlight?: number;
  /** Requests are merged into one flush until it holds this many events. */
  maxEventsPerFlush?: number;
  /** How long a flush waits for a reconnecting Redis before failing (BullMQ itself would wait forever). */
  redisGraceMs?: number;
  enqueueTimeoutMs?: number;
  onUnknownPage?: () => void;
}

interface Submission {
  events: EventInput[];
  resolve: (result: IntakeResult) => void;
  reject: (error: IntakeError) => void;
}

const FOREIGN_KEY_VIOLATION = '23503';

/**
 * Stores and enqueues events for many concurrent requests together. Every Postgres commit waits for a WAL
 * flush (milliseconds on real disks), and the pool has few connections, so one statement per request caps
 * single-event throughput at pool size / fsync time. Instead, requests that arrive while `maxInFlight` flushes
 * are busy are merged into the next flush: ONE `INSERT … unnest` and ONE fanout job carrying every stored id
 * (a BullMQ job per event cost about half of the Node time per event). At low load a request flushes alone at
 * once, so nothing waits on a timer.
 *
 * Each request still gets its own answer: an id that several merged requests carry is `accepted` for the
 * first and a duplicate for the others, exactly as if they had run one after another.
 */
export class EventIntake {
  private readonly waiting: Submission[] = [];
  private inFlight = 0;
  private readonly maxInFlight: number;
  private readonly maxEventsPerFlush: number;

  constructor(private readonly options: EventIntakeOptions) {
    this.maxInFlight = options.maxInFlight ?? 4;
    this.maxEventsPerFlush = options.maxEventsPerFlush ?? 5_000;
  }

  /** Stores the events (the caller has validated them and checked their Pages) and enqueues their fan-out jobs. */
  submit(events: readonly EventInput[]): Promise<IntakeResult> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ events: uniqueEvents(events), resolve, reject });
      this.pump();
    });
  }

  private pump() {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const group: Submission[] = [];
      let size = 0;
      while (this.waiting.length > 0 && (group.length === 0 || size + (this.waiting[0] as Submission).events.length <= this.maxEventsPerFlush)) {
        const next = this.waiting.shift() as Submission;
        group.push(next);
        size += next.events.length;
      }
      this.inFlight++;
      void this.flush(group).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async flush(group: Submission[]): Promise<void> {
    let stored: Awaited<ReturnType<typeof acceptEvents>>;
    try {
      stored = await acceptEvents(this.options.db, group.flatMap((submission) => submission.events));
    } catch (error) {
      if ((error as { code?: string }).code === FOREIGN_KEY_VIOLATION) {
        // A Page vanished after the caller's check. Retry one by one, so only the request naming it fails.
        if (group.length === 1) {
          this.options.onUnknownPage?.();
          group[0]?.reject(new IntakeError('unknown_page', 'an event names a page that is not registered; nothing was accepted', { cause: error }));
          return;
        }
        for (const submission of group) await this.flush([submission]);
        return;
      }
      // Anything but an outage may be one request's fault (a value Postgres refuses): retry one by one, so it
      // fails alone instead of failing every request merged with it.
      if (group.length > 1 && !outageOf(error)) {
        for (const submission of group) await this.flush([submission]);
        return;
      }
      const failure = isDataException(error)
        ? new IntakeError('invalid', 'an event holds a value that cannot be stored; nothing was accepted', { cause: error })
        : new IntakeError('storage', 'Events could not be stored; retry the same request', { cause: error });
      for (const submission of group) submission.reject(failure);
      return;
    }

    try {
      await this.enqueueFanout(stored.pendingFanout);
    } catch (error) {
      // The rows are kept: a retry re-enqueues them (duplicates still 'ACCEPTED'); the worker's sweeper
      // covers producers that never retry.
      for (const submission of group) {
        submission.reject(new IntakeError('queue', 'Events were stored but could not be queued; retry the same request', { cause: error }));
      }
      return;
    }

    const inserted = new Set(stored.accepted);
    for (const submission of group) {
      const result: IntakeResult = { accepted: [], duplicates: [] };
      for (const { id } of submission.events) {
        // delete(): only the first request carrying a newly inserted id reports it accepted.
        if (inserted.delete(id)) result.accepted.push(id);
        else result.duplicates.push(id);
      }
      submission.resolve(result);
    }
  }

  private async enqueueFanout(eventIds: string[]): Promise<void> {
    if (eventIds.length === 0) return;
    if (!(await whenRedisReady(this.options.redis, this.options.redisGraceMs ?? 500))) {
      throw new Error(`Redis is not connected (${this.options.redis.status})`);
    }
    const jobs = fanoutJobsFor(eventIds);
    const queue = this.options.eventsQueue;
    await withTimeout(
      // add() is one Lua call; addBulk() wraps even a single job in a MULTI.
      jobs.length === 1 ? queue.add(jobs[0]!.name, jobs[0]!.data, jobs[0]!.opts).then(() => undefined) : queue.addBulk(jobs).then(() => undefined),
      this.options.enqueueTimeoutMs ?? 3_000,
      'enqueueing fan-out jobs',
    );
  }
}
