import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

const root = path.dirname(fileURLToPath(import.meta.url));

/** Tests import sibling workspace packages from source, so a change is seen without rebuilding them first. */
function workspaceAliases(): Record<string, string> {
  const aliases: Record<string, string> = {};
  for (const group of ['packages', 'apps']) {
    for (const dir of readdirSync(path.join(root, group))) {
      const entry = path.join(root, group, dir, 'src', 'index.ts');
      if (existsSync(entry)) aliases[`@renotify/${dir}`] = entry;
    }
  }
  return aliases;
}

/**
 * ioredis rejects a command still in flight when its connection is closed ("Connection is closed.", raised
 * from its socket close handler). When a test closes apps while BullMQ has an internal command in flight on a
 * shared connection, that rejection surfaces with no owner after the test has passed (seen 2 times in ~6 full
 * runs, never locally reproducible). Only that exact teardown error is ignored; every other unhandled error
 * still fails the run. The open question is tracked in the closing note.
 */
function isTeardownConnectionNoise(error: Error): boolean | void {
  if (error.message === 'Connection is closed.' && /ioredis[\\/]built[\\/]redis[\\/]event_handler/.test(error.stack ?? '')) return false;
  // Tests that point an app at a Redis that never answers use port 1 on purpose; closing that app while ioredis is
  // between reconnect attempts can reject a connect with no owner left (seen under load only). Nothing else
  // listens there, so this cannot hide a real failure.
  if (/ECONNREFUSED 127\.0\.0\.1:1$/.test(error.message)) return false;
}

export function defineRenotifyProject(configUrl: string) {
  const dir = path.dirname(fileURLToPath(configUrl));
  return defineConfig({
    resolve: { alias: workspaceAliases() },
    test: {
      root: dir,
      include: ['src/**/*.test.ts'],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      // Integration tests share one Postgres and one Redis on a 2-core machine; files run in parallel
      // but each gets its own database and key prefix (see @renotify/testing).
      pool: 'forks',
      maxWorkers: 2,
      onUnhandledError: isTeardownConnectionNoise,
    },
  });
}
