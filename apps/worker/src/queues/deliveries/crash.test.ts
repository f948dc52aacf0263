import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@renotify/testing';
import { allFinal, deliveryCounts, messagesByPsid, seedTokens, startStack, TEST_PAGE, type Stack } from '../../test-support/stack.js';

const TOKENS = 10_000;
const workerMain = fileURLToPath(new URL('../../main.ts', import.meta.url));

/** A real worker process (the same entry point production runs), so SIGKILL kills it mid-instruction. */
function spawnWorker(stack: Stack): ChildProcess {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', workerMain], {
    env: { ...process.env, ...stack.env, LOG_LEVEL: 'warn', STALE_SENDING_MS: '3000', SWEEP_INTERVAL_MS: '500', SEND_CONCURRENCY: '32' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

async function sentSoFar(stack: Stack, sourceId: string): Promise<number> {
  const { rows } = await stack.db.pool.query(`SELECT count(*)::int AS n FROM "Delivery" WHERE "sourceId" = $1 AND status = 'SENT'`, [sourceId]);
  return rows[0].n;
}

describe('crash safety', () => {
  let stack: Stack;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    stack = await startStack('crash', {}, { withWorker: false });
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await stack?.close();
  });

  it(`SIGKILL of a worker in the middle of a ${TOKENS}-token fan-out loses nothing and sends no one-time token twice`, async () => {
    const tokens = await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:crash', count: TOKENS, psidPrefix: 'crash-' });
    // Slow Meta down a little so the kill lands while sends are in flight.
    await stack.control('PUT', `/pages/${TEST_PAGE.id}/faults`, { latencyMs: 5, latencyJitterMs: 5 });

    const first = spawnWorker(stack);
    children.push(first);
    const posted = await stack.api('POST', '/v1/events', { id: 'crash-1', type: 'back_in_stock', pageId: TEST_PAGE.id, productId: 'crash' });
    expect(posted.status).toBe(202);
    await waitFor(async () => (await sentSoFar(stack, 'crash-1')) >= 1_500, { timeoutMs: 60_000, intervalMs: 5, what: 'the first sends' });
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const atKill = await deliveryCounts(stack.db, 'crash-1');
    expect(atKill.SENT ?? 0).toBeLessThan(TOKENS); // the kill really happened mid-run

    children.push(spawnWorker(stack));
    await waitFor(() => allFinal(stack.db, 'crash-1'), { timeoutMs: 120_000, intervalMs: 200, what: 'every delivery to be final after restart' });

    const counts = await deliveryCounts(stack.db, 'crash-1');
    const { rows } = await stack.db.pool.query(`SELECT count(*)::int AS n FROM "Delivery" WHERE "sourceId" = 'crash-1' AND "ambiguousAttempt"`);
    console.log(`crash test: at kill ${JSON.stringify(atKill)}; after restart ${JSON.stringify(counts)}; ambiguous attempts resolved: ${rows[0].n}`);
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    expect(total).toBe(TOKENS); // none lost: one final row per token
    expect(counts.SENT).toBe(TOKENS);
    const received = await messagesByPsid(stack);
    const duplicates = tokens.filter((token) => (received.get(token.psid) ?? 0) > 1);
    expect(duplicates).toEqual([]); // Meta's record: no one-time token used twice
    expect(tokens.filter((token) => received.get(token.psid) === 1)).toHaveLength(TOKENS);
  }, 240_000);
});
