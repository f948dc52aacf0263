import { z } from 'zod';
import type { DispatchJob } from '../catalog.js';

/**
 * Priority classes of sends (README "Delivery semantics"): a person who asked to be told ("notify me when
 * it is back") waits for a one-time notification; recurring updates can wait a little; campaign runs are bulk.
 * An event may override its class with `priority`.
 */
export const PriorityClass = { high: 'high', normal: 'normal', low: 'low' } as const;
export type PriorityClass = (typeof PriorityClass)[keyof typeof PriorityClass];
export const priorityClassSchema = z.enum(['high', 'normal', 'low']);

/** BullMQ priority per class (1 is served first). */
const BULLMQ_PRIORITY: Record<PriorityClass, number> = { high: 1, normal: 2, low: 3 };

/** The class of one batch: the event's override, else by the kind of token the batch holds; campaigns are low. */
export function batchPriorityClass(sourceType: DispatchJob['sourceType'], eventPriority: PriorityClass | null, kind: 'ONE_TIME' | 'RECURRING'): PriorityClass {
  if (sourceType === 'CAMPAIGN_RUN') return 'low';
  if (eventPriority) return eventPriority;
  return kind === 'ONE_TIME' ? 'high' : 'normal';
}

export function bullmqPriority(priorityClass: PriorityClass): number {
  return BULLMQ_PRIORITY[priorityClass];
}

/**
 * How many batches of one source may be in the queue or in flight at once (its window). Batches are
 * released progressively: batch b + window is queued when batch b is done for now, so no source ever holds
 * the queue with its whole fan-out. Within one Page the windows also share the Page's rate: each in-flight
 * batch holds one reservation in the Page's bucket, so a high-class source gets `base` shares for a low-class
 * source's `base / 4` (never zero: no class starves).
 */
export function sourceWindow(sourceType: DispatchJob['sourceType'], eventPriority: PriorityClass | null, base: number): number {
  const sourceClass = sourceType === 'CAMPAIGN_RUN' ? 'low' : (eventPriority ?? 'high');
  const divisor = sourceClass === 'high' ? 1 : sourceClass === 'normal' ? 2 : 4;
  return Math.max(1, Math.floor(base / divisor));
}
