import type { Redis } from 'ioredis';

/**
 * A token bucket per key (one per Facebook Page), in Redis so every worker process shares it.
 * Open-source BullMQ has no per-group limiter, hence this. Time comes from Redis (TIME) so that
 * clock skew between worker hosts cannot hand out extra sends.
 *
 * Permits are *reserved*, never waited for: a caller always gets the permits it asked for, plus the time
 * from which it may use them (0 when they are available now). The bucket may go negative by what is
 * reserved ahead; later callers queue behind, in order. A dispatch job that gets a wait moves itself to
 * BullMQ's delayed set until then, so no worker slot is held while a Page's bucket refills, and every
 * wake-up is a send (no polling, no thundering herd of jobs retrying the bucket).
 *
 * KEYS[1] bucket hash; ARGV: ratePerSec, burst, wanted.
 * Returns waitMs: how long until the reserved permits may be used.
 */
const RESERVE_SCRIPT = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then tokens = burst; at = now end
tokens = math.min(burst, tokens + (now - at) * rate / 1000) - wanted
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
local waitMs = 0
if tokens < 0 then waitMs = math.ceil(-tokens * 1000 / rate) end
redis.call('PEXPIRE', KEYS[1], waitMs + math.ceil(burst / rate * 1000) + 1000)
return waitMs
`;

export class PageRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {
    redis.defineCommand('renotifyReservePermits', { numberOfKeys: 1, lua: RESERVE_SCRIPT });
  }

  /**
   * Reserves `wanted` sends for `pageId` at `ratePerSec` (burst = one second's worth, at least 1) and
   * returns how many milliseconds from now they may start (0: now).
   */
  async reserve(pageId: string, wanted: number, ratePerSec: number): Promise<number> {
    const burst = Math.max(1, Math.ceil(ratePerSec));
    return (this.redis as unknown as Record<string, (...args: unknown[]) => Promise<number>>).renotifyReservePermits!(
      `${this.keyPrefix}:ratelimit:${pageId}`,
      ratePerSec,
      burst,
      wanted,
    );
  }
}
