import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const example = fileURLToPath(new URL('./publish-events.mjs', import.meta.url));

/** The README's `pnpm build && node examples/publish-events.mjs`, run as written against the built @renotify/queue. */
describe('examples/publish-events.mjs', () => {
  it('imports the published package name, not source files', async () => {
    const source = await readFile(example, 'utf8');
    expect(source).toMatch(/from '@renotify\/queue'/);
    expect(source).not.toMatch(/from '[^']*\.ts'/);
  });

  it('runs with plain node and queues its two events in Redis', async () => {
    const prefix = `example-${process.pid}-${Date.now()}`;
    const { stdout } = await run(process.execPath, [example], {
      env: { PATH: process.env.PATH, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', QUEUE_PREFIX: prefix, PAGE_ID: '100000000000001' },
      timeout: 30_000,
    });
    expect(stdout).toMatch(/queued \[\s*'restock-sku-123-42-\d{4}-\d{2}-\d{2}',\s*'price-sku-777-\d+'\s*\]/);
  }, 40_000);
});
