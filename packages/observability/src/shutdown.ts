import type { Logger } from 'pino';

export interface ShutdownStep {
  name: string;
  run: () => Promise<unknown> | unknown;
}

export interface ShutdownOptions {
  logger: Logger;
  /** Whole-sequence budget; keep it below the container's grace period. */
  timeoutMs: number;
  steps: ShutdownStep[];
  signals?: NodeJS.Signals[];
  exit?: (code: number) => void;
}

/**
 * Runs `steps` in order on the first SIGTERM/SIGINT (stop taking work → drain in-flight → close clients),
 * then exits 0; exits 1 if the budget runs out or a step throws. A second signal exits at once.
 * Returns the function so tests and embedding code can trigger the same sequence.
 */
export function installGracefulShutdown({ logger, timeoutMs, steps, signals = ['SIGTERM', 'SIGINT'], exit = (code) => process.exit(code) }: ShutdownOptions) {
  let running: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    running ??= (async () => {
      logger.info({ reason, timeoutMs }, 'shutting down');
      const timer = setTimeout(() => {
        logger.error({ timeoutMs }, 'shutdown timed out; exiting');
        logger.flush?.();
        exit(1);
      }, timeoutMs);
      timer.unref();
      let failed = false;
      for (const step of steps) {
        try {
          await step.run();
          logger.info({ step: step.name }, 'shutdown step done');
        } catch (error) {
          failed = true;
          logger.error({ err: error, step: step.name }, 'shutdown step failed');
        }
      }
      clearTimeout(timer);
      logger.info('shutdown complete');
      logger.flush?.();
      exit(failed ? 1 : 0);
    })();
    return running;
  };
  for (const signal of signals) {
    process.once(signal, () => void shutdown(signal));
  }
  return shutdown;
}
