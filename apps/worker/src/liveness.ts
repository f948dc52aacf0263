import type { Redis } from 'ioredis';

/**
 * "Alive" means the worker recently fetched a job or completed a heartbeat round-trip to Redis.
 * A Redis ping alone is not enough: BullMQ workers can stop fetching after a failover while pings succeed,
 * so the heartbeat runs on the same connection the workers block on.
 */
export class Liveness {
  private lastSignalAt = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly staleAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Called when a job is fetched or finished. */
  touch(): void {
    this.lastSignalAt = this.now();
  }

  startHeartbeat(redis: Redis, everyMs: number): void {
    const beat = async () => {
      try {
        if ((await redis.ping()) === 'PONG') this.touch();
      } catch {
        // Missing heartbeats are the signal; nothing to do here.
      }
    };
    this.timer = setInterval(() => void beat(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  status(): { alive: boolean; lastSignalAgoMs: number } {
    const ago = this.now() - this.lastSignalAt;
    return { alive: ago <= this.staleAfterMs, lastSignalAgoMs: ago };
  }
}
