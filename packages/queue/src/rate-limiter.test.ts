import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRedis, type TestRedis } from '@renotify/testing';
import { PageRateLimiter } from './rate-limiter.js';

describe('PageRateLimiter (Redis token bucket with reservations)', () => {
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

  it('grants the burst at once, then reserves ahead with the wait the rate implies', async () => {
    const limiter = new PageRateLimiter(clients[0]!, testRedis.prefix);
    expect(await limiter.reserve('page-burst', 50, 50)).toBe(0);
    const second = await limiter.reserve('page-burst', 10, 50);
    // 10 permits at 50/s: about 200 ms from now.
    expect(second).toBeGreaterThan(150);
    expect(second).toBeLessThanOrEqual(200);
    // The next caller queues behind the first reservation.
    const third = await limiter.reserve('page-burst', 10, 50);
    expect(third).toBeGreaterThan(second);
    expect(third).toBeLessThanOrEqual(400);
  });

  it('is shared by processes: sends started by two limiters never exceed rate × time + burst', async () => {
    const rate = 200;
    const limiters = clients.map((client) => new PageRateLimiter(client, testRedis.prefix));
    const started = Date.now();
    const startTimes: number[] = [];
    await Promise.all(
      limiters.map(async (limiter) => {
        while (Date.now() - started < 500) {
          const wait = await limiter.reserve('page-shared', 5, rate);
          await new Promise((resolve) => setTimeout(resolve, wait));
          for (let i = 0; i < 5; i++) startTimes.push(Date.now());
        }
      }),
    );
    const elapsed = (Math.max(...startTimes) - started) / 1000;
    // Upper bound is the invariant; the lower bound shows the limiter does hand permits out.
    expect(startTimes.length).toBeLessThanOrEqual(Math.ceil(rate * elapsed) + rate + 10);
    expect(startTimes.length).toBeGreaterThanOrEqual(rate * 0.5);
  });

  it('keeps pages independent', async () => {
    const limiter = new PageRateLimiter(clients[0]!, testRedis.prefix);
    expect(await limiter.reserve('page-a', 5, 5)).toBe(0);
    expect(await limiter.reserve('page-a', 1, 5)).toBeGreaterThan(0);
    expect(await limiter.reserve('page-b', 5, 5)).toBe(0);
  });
});
