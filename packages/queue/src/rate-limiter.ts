import type { Redis } from 'ioredis';

/**
 * A token bucket per key (one per Facebook Page), in Redis so every worker process shares it.
 * Open-source BullMQ has no per-group limiter, hence this. Time comes from Redis (TIME) so that
 * clock skew between worker hosts cannot hand out extra sends.
 *
 * KEYS[1] bucket hash; ARGV: ratePerSec, burst, wanted.
 * Returns { granted, waitMs }: waitMs is how long until the next token when nothing was granted.
 */
const TAKE_SCRIPT = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then tokens = burst; at = now end
tokens = math.min(burst, tokens + (now - at) * rate / 1000)
local granted = math.min(wanted, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
local waitMs = 0
if granted == 0 then waitMs = math.ceil((1 - tokens) * 1000 / rate) end
return { granted, waitMs }
`;

export interface RateLimitGrant {
  granted: number;
  waitMs: number;
}

export class PageRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {
    redis.defineCommand('renotifyTakeTokens', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  }

  /** Takes up to `wanted` sends for `pageId` at `ratePerSec` (burst = one second's worth, at least 1). */
  async take(pageId: string, wanted: number, ratePerSec: number): Promise<RateLimitGrant> {
    const burst = Math.max(1, Math.ceil(ratePerSec));
    const [granted, waitMs] = (await (this.redis as unknown as Record<string, (...args: unknown[]) => Promise<[number, number]>>).renotifyTakeTokens!(
      `${this.keyPrefix}:ratelimit:${pageId}`,
      ratePerSec,
      burst,
      wanted,
    ));
    return { granted, waitMs };
  }

  /** Resolves with how many sends may go now (≥1), waiting as long as the bucket requires. */
  async acquire(pageId: string, wanted: number, ratePerSec: number, onWait?: (ms: number) => void): Promise<number> {
    for (;;) {
      const { granted, waitMs } = await this.take(pageId, wanted, ratePerSec);
      if (granted > 0) return granted;
      onWait?.(waitMs);
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, waitMs)));
    }
  }
}
