import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';

// BullMQ types its clients as a minimal interface; at run time they are ioredis clients.
const ping = (client: unknown): Promise<string> => (client as Redis).ping();

/** One heartbeat round: resolves true when the worker's path to Redis demonstrably works. */
export type HeartbeatProbe = () => Promise<boolean>;

/**
 * "Alive" means the worker recently fetched a job or completed a heartbeat round-trip through the
 * connections its BullMQ workers actually use. A Redis ping on some other client is not enough: BullMQ
 * workers can stop fetching after a failover while pings and `queue.add` still succeed (bullmq#648, #2964).
 */
export class Liveness {
  private lastSignalAt: number;
  private timer: NodeJS.Timeout | undefined;
  private beating = false;

  constructor(
    private readonly staleAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lastSignalAt = now();
  }

  /** Called when a job is fetched or finished. */
  touch(): void {
    this.lastSignalAt = this.now();
  }

  /**
   * Runs `probe` every `everyMs`, one round at a time; a round that does not answer within the stale window
   * counts as failed (a dead socket can leave a command pending forever).
   */
  startHeartbeat(probe: HeartbeatProbe, everyMs: number): void {
    const beat = async () => {
      if (this.beating) return;
      this.beating = true;
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), this.staleAfterMs);
        });
        if (await Promise.race([probe(), timeout])) this.touch();
      } catch {
        // Missing heartbeats are the signal; nothing to do here.
      } finally {
        clearTimeout(timer);
        this.beating = false;
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

/**
 * Heartbeat through BullMQ's own connections: every worker must still be running its fetch loop
 * (`isRunning()`), and a PING must come back on both its command client and its *blocking* client
 * (`waitUntilReady()` returns the blocking client). Redis answers a connection's commands in order, so a
 * PING on the blocking client is answered only after the BZPOPMIN in progress returns (≤ drainDelay, or
 * BullMQ's 10 s cap): a reply proves the fetch loop's own socket is cycling, which a ping on a separate
 * client cannot. A half-open socket never answers, the round times out, and /healthz goes stale.
 */
export function bullmqHeartbeatProbe(workers: readonly Worker[]): HeartbeatProbe {
  return async () => {
    if (!workers.every((worker) => worker.isRunning())) return false;
    const replies = await Promise.all(
      workers.flatMap((worker) => [worker.client.then(ping), worker.waitUntilReady().then(ping)]),
    );
    return replies.every((reply) => reply === 'PONG');
  };
}
