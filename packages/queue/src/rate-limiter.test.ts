import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRedis, type TestRedis } from '@renotify/testing';
import { PageRateLimiter } from './rate-limiter.js';

describe('PageRateLimiter (Redis token bucket)', () => {
  let testRedis: TestRedis;
  let clients: Redis[];

  beforeAll(async () => {
    testRedis = await createTestRedis('ratelimit');
    clients = [new Redis(testRedis.url), new Redis(testRedis.url)];
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await testRedis.cleanup();
  });

  it('grants at most the burst at once, then asks to wait', async () => {
    const limiter = new PageRateLimiter(clients[0]!, testRedis.prefix);
    const first = await limiter.take('page-burst', 80, 50);
    expect(first.granted).toBe(50);
    const second = await limiter.take('page-burst', 10, 50);
    expect(second.granted).toBe(0);
    expect(second.waitMs).toBeGreaterThan(0);
    expect(second.waitMs).toBeLessThanOrEqual(20);
  });

  it('is shared by processes: two limiters on one page never exceed rate × time + burst', async () => {
    const rate = 200;
    const limiters = clients.map((client) => new PageRateLimiter(client, testRedis.prefix));
    const started = Date.now();
    let sent = 0;
    await Promise.all(
      limiters.map(async (limiter) => {
        while (Date.now() - started < 500) sent += await limiter.acquire('page-shared', 5, rate);
      }),
    );
    const elapsed = (Date.now() - started) / 1000;
    // Upper bound is the invariant; the lower bound shows the limiter does hand tokens out.
    expect(sent).toBeLessThanOrEqual(Math.ceil(rate * elapsed) + rate + 10);
    expect(sent).toBeGreaterThanOrEqual(rate * 0.5);
  });

  it('keeps pages independent', async () => {
    const limiter = new PageRateLimiter(clients[0]!, testRedis.prefix);
    expect((await limiter.take('page-a', 5, 5)).granted).toBe(5);
    expect((await limiter.take('page-a', 1, 5)).granted).toBe(0);
    expect((await limiter.take('page-b', 5, 5)).granted).toBe(5);
  });
});
