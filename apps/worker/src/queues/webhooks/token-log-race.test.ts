import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '@renotify/config';
import { createLogger } from '@renotify/observability';
import { waitFor } from '@renotify/testing';
import { createWebhooksProcessorModule } from './module.js';
import { startWorker } from '../../server.js';
import { startWebhookStack, type WebhookStack } from '../../test-support/webhook-stack.js';

const PAGE = '330000000000001';
const RACES = 60;
const tokenOf = (i: number) => `race-token-${String(i).padStart(3, '0')}-${'x'.repeat(20)}`;

/**
 * Issue #10.4: two webhooks carrying the same new token race to INSERT it; the loser's unique violation carries
 * Postgres' detail "Key (token)=(…) already exists.". Whatever the worker logs about it must not hold the token.
 */
describe('tokens never reach the worker log', () => {
  let stack: WebhookStack;
  const log: string[] = [];

  beforeAll(async () => {
    stack = await startWebhookStack('tokenlog', { worker: false });
    await stack.createPage(PAGE, ['racer-0', 'racer-1', 'racer-2']);
    const destination = new Writable({
      write(chunk, _encoding, done) {
        log.push(String(chunk));
        done();
      },
    });
    const env = { ...stack.services.env, GRAPH_API_BASE_URL: stack.sandboxUrl, WORKER_CONCURRENCY: '16' };
    stack.worker = await startWorker(loadWorkerConfig(env), createLogger({ name: 'worker', level: 'debug', destination }), [
      createWebhooksProcessorModule({ reconcileCron: null, sweepEveryMs: 200, sweepOlderThanMs: 300 }),
    ]);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it(`races ${RACES} duplicate token inserts through signed webhooks; the captured log holds none of the tokens`, async () => {
    const page = stack.sandbox.state.getPage(PAGE);
    const base = Date.now();
    const webhook = (i: number, copy: number) => {
      const at = base + i * 10 + copy;
      return {
        object: 'page',
        entry: [{ id: PAGE, time: at, messaging: [{
          sender: { id: `racer-${copy}` }, recipient: { id: PAGE }, timestamp: at,
          optin: { type: 'notification_messages', payload: `race-${i}`, title: `Race ${i}`, notification_messages_token: tokenOf(i), notification_messages_frequency: 'DAILY' },
        }] }],
      };
    };
    // Every token in several distinct bodies at once: the worker applies them concurrently and the inserts collide.
    const deliveries = await Promise.all(
      Array.from({ length: RACES }, (_, i) => [0, 1, 2].map((copy) => stack.sandbox.dispatcher.send(page, webhook(i, copy)))).flat(),
    );
    expect(deliveries.every((delivery) => delivery.attempts.at(-1)!.status === 200)).toBe(true);

    const db = stack.ingest.deps.db;
    await waitFor(async () => (await db.pool.query(`SELECT count(*)::int AS n FROM "WebhookReceipt" WHERE "processedAt" IS NULL`)).rows[0].n === 0, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'every receipt processed',
    });
    const stored = await db.pool.query(`SELECT count(*)::int AS n FROM "OptIn" WHERE token LIKE 'race-token-%'`);
    expect(stored.rows[0].n).toBe(RACES);

    const text = log.join('');
    // The race really happened: losers were logged with Postgres' unique-violation error (its detail redacted).
    const collisions = log.filter((line) => line.includes('"23505"'));
    console.log(`token-log race: ${collisions.length} unique-violation log lines out of ${log.length}`);
    expect(collisions.length).toBeGreaterThan(0);
    const leaked = Array.from({ length: RACES }, (_, i) => tokenOf(i)).filter((token) => text.includes(token));
    expect(leaked).toEqual([]);
  }, 120_000);
});
