export interface RetryDelayOptions {
  /** Delay ceiling for the first retry; doubles each attempt. */
  baseMs: number;
  /** Cap on the exponential part. */
  maxMs: number;
  /** A server's suggestion (Retry-After, Meta's next_eligible_time): the delay is never below it. */
  retryAfterMs?: number | null;
}

/**
 * Exponential backoff with full jitter: uniform in [0, min(maxMs, baseMs·2^(attempt-1))), then raised to
 * retryAfterMs when that is larger. `attempt` is 1 for the first retry; values below 1 count as 1.
 * `random` returns [0, 1) like Math.random (injected so tests are deterministic).
 */
export function retryDelayMs(attempt: number, options: RetryDelayOptions, random: () => number): number {
  const { baseMs, maxMs } = options;
  if (!(Number.isFinite(baseMs) && baseMs >= 0)) throw new RangeError(`baseMs must be a non-negative number, got ${baseMs}`);
  if (!(Number.isFinite(maxMs) && maxMs >= 0)) throw new RangeError(`maxMs must be a non-negative number, got ${maxMs}`);
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  // 2^(n-1) overflows to Infinity for large n; Math.min then caps it, so no special case is needed beyond 1024.
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(n - 1, 1023));
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1 - Number.EPSILON) : 0;
  const jittered = Math.floor(unit * ceiling);
  const floor = options.retryAfterMs && Number.isFinite(options.retryAfterMs) ? Math.max(0, Math.ceil(options.retryAfterMs)) : 0;
  return Math.max(jittered, floor);
}
