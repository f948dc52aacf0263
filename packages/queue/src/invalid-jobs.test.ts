import { describe, expect, it } from 'vitest';
import { FANOUT_JOB, eventJobId } from './catalog.js';
import { INVALID_JOB_DEAD_LETTER, invalidJobDeadLetter, jobOfDeadLetter } from './invalid-jobs.js';
import { QueueName } from './names.js';

const id = '0b0e5f0c-2d1e-4c55-9a3e-5f4d3c2b1a00';

describe('the dead letter of a job the worker could not read', () => {
  it('holds what the redrive needs to queue the job again as it was', () => {
    const job = { queueName: QueueName.events, name: FANOUT_JOB, id: eventJobId('e1'), data: { eventId: 'x'.repeat(201) } };
    const letter = invalidJobDeadLetter(job, 'eventId: too long');
    expect(letter).toMatchObject({ kind: INVALID_JOB_DEAD_LETTER, reason: 'invalid events/fanout job: eventId: too long' });
    expect(jobOfDeadLetter({ id, ...letter })).toEqual({ queue: QueueName.events, name: FANOUT_JOB, data: job.data, jobId: eventJobId('e1') });
  });

  it('reads the queue from the reason of rows written before the payload named it, and invents an id when the job had none', () => {
    const letter = { id, kind: INVALID_JOB_DEAD_LETTER, reason: 'invalid events/fanout job: bad', payload: { jobId: null, name: FANOUT_JOB, data: {} } };
    expect(jobOfDeadLetter(letter)).toEqual({ queue: QueueName.events, name: FANOUT_JOB, data: {}, jobId: `redrive_${id}` });
  });

  it('says why a dead letter cannot be redriven', () => {
    const skip = (letter: { kind: string; reason: string; payload: unknown }) => (jobOfDeadLetter({ id, ...letter }) as { skip: string }).skip;
    expect(skip({ kind: 'webhook_entry', reason: 'unparsable', payload: {} })).toMatch(/WEBHOOK_ENTRY dead letter cannot be redriven/);
    expect(skip({ kind: INVALID_JOB_DEAD_LETTER, reason: 'something else', payload: { name: FANOUT_JOB } })).toMatch(/does not name its queue/);
    expect(skip({ kind: INVALID_JOB_DEAD_LETTER, reason: 'x', payload: { queue: 'nowhere', name: FANOUT_JOB } })).toMatch(/does not name its queue/);
    expect(skip({ kind: INVALID_JOB_DEAD_LETTER, reason: 'x', payload: { queue: QueueName.events, name: 'mystery' } })).toMatch(/"mystery" is not a job of the events queue/);
  });
});
