import type { Redis } from 'ioredis';

/**
 * When each send source (event or campaign run) last moved: a batch queued, or a dispatch pass ended. One sorted
 * set in Redis (member = source id, score = epoch ms), written by every worker.
 *
 * The sweeper asks it which sources with old PENDING rows are still alive (a slow, rate-limited send has old
 * PENDING rows for as long as it lasts) instead of scanning their deliveries for recent claims: that scan grows
 * with the table, this costs one command per sweep. Losing it (Redis data loss) is safe: a source with no record
 * is treated as stalled, and the sweeper's repair (ensureChainHeads) leaves live jobs alone.
 */
export class SourceProgress {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    keyPrefix: string,
  ) {
    this.key = `${keyPrefix}:source-progress`;
  }

  async touch(sourceId: string, at = Date.now()): Promise<void> {
    await this.redis.zadd(this.key, at, sourceId);
  }

  /** The sources among `sourceIds` that moved at or after `since`. */
  async movedSince(sourceIds: readonly string[], since: number): Promise<Set<string>> {
    if (sourceIds.length === 0) return new Set();
    const scores = await this.redis.zmscore(this.key, ...sourceIds);
    return new Set(sourceIds.filter((_, index) => scores[index] !== null && Number(scores[index]) >= since));
  }

  /** Forgets sources that have not moved since `before` (finished long ago); keeps the set small. */
  async forgetBefore(before: number): Promise<number> {
    return this.redis.zremrangebyscore(this.key, '-inf', `(${before}`);
  }
}
