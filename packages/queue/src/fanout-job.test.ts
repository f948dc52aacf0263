import { describe, expect, it } from 'vitest';
import { eventJobId, fanoutEventIds, fanoutJobId, fanoutJobSchema, fanoutJobsFor, MAX_EVENTS_PER_FANOUT_JOB } from './catalog.js';

describe('fanout job contract', () => {
  it('reads both shapes: event ids of this release, one event id of earlier ones', () => {
    expect(fanoutEventIds(fanoutJobSchema.parse({ eventIds: ['a', 'b'] }))).toEqual(['a', 'b']);
    expect(fanoutEventIds(fanoutJobSchema.parse({ eventId: 'a' }))).toEqual(['a']);
    for (const bad of [{}, { eventIds: [] }, { eventIds: [''] }, { eventId: 'x'.repeat(201) }, { eventIds: Array.from({ length: MAX_EVENTS_PER_FANOUT_JOB + 1 }, (_, i) => `e${i}`) }]) {
      expect(fanoutJobSchema.safeParse(bad).success).toBe(false);
    }
  });

  it('one id keeps the per-event job id (the sweeper’s); several get a deterministic id without ":"', () => {
    expect(fanoutJobId(['a:1'])).toBe(eventJobId('a:1'));
    expect(fanoutJobId(['a', 'b'])).toBe(fanoutJobId(['a', 'b']));
    expect(fanoutJobId(['a', 'b'])).not.toBe(fanoutJobId(['b', 'a']));
    expect(fanoutJobId(['a:1', 'b:2'])).not.toContain(':');
  });

  it('carries every id exactly once, in order, in as few valid jobs as the limit allows', () => {
    const limit = MAX_EVENTS_PER_FANOUT_JOB;
    for (const count of [1, 2, limit - 1, limit, limit + 1, 2 * limit, 2 * limit + 7, 5 * limit]) {
      const ids = Array.from({ length: count }, (_, i) => `event-${i}`);
      const jobs = fanoutJobsFor(ids);
      expect(jobs).toHaveLength(Math.ceil(count / limit));
      expect(jobs.flatMap((job) => fanoutEventIds(fanoutJobSchema.parse(job.data)))).toEqual(ids);
      expect(new Set(jobs.map((job) => job.opts.jobId)).size).toBe(jobs.length);
    }
    expect(fanoutJobsFor([])).toEqual([]);
  });
});
