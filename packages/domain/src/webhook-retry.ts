/*
 * When an outbound webhook (#15) is tried again after a failed attempt. A rule of its own (pure, no I/O) so the
 * schedule is tested here and the sender only reads it.
 */

/**
 * Wait before each retry after a failed attempt (Standard Webhooks' suggested schedule, about 28 hours in all):
 * 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. After the last retry fails the message is DEAD (redrivable).
 */
export const DEFAULT_WEBHOOK_RETRY_DELAYS_MS: readonly number[] = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];

/** The wait before the retry that follows failed attempt number `attempt` (1-based); null: no retry left, DEAD. */
export function webhookRetryDelay(attempt: number, delaysMs: readonly number[] = DEFAULT_WEBHOOK_RETRY_DELAYS_MS): number | null {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a positive integer, got ${attempt}`);
  return delaysMs[attempt - 1] ?? null;
}
