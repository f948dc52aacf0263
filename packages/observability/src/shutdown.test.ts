import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, installGracefulShutdown } from './index.js';

const silentLogger = () =>
  createLogger({ name: 'shutdown-test', level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });

describe('installGracefulShutdown', () => {
  it('runs the steps in order once and exits 0', async () => {
    const order: string[] = [];
    const codes: number[] = [];
    const shutdown = installGracefulShutdown({
      logger: silentLogger(),
      timeoutMs: 1_000,
      signals: [],
      exit: (code) => codes.push(code),
      steps: [
        { name: 'stop accepting', run: () => void order.push('stop') },
        { name: 'drain', run: async () => { await new Promise((r) => setTimeout(r, 20)); order.push('drain'); } },
        { name: 'close', run: () => void order.push('close') },
      ],
    });
    await Promise.all([shutdown('test'), shutdown('again')]);
    expect(order).toEqual(['stop', 'drain', 'close']);
    expect(codes).toEqual([0]);
  });

  it('keeps going past a failing step and exits 1', async () => {
    const order: string[] = [];
    const codes: number[] = [];
    await installGracefulShutdown({
      logger: silentLogger(),
      timeoutMs: 1_000,
      signals: [],
      exit: (code) => codes.push(code),
      steps: [
        { name: 'broken', run: () => { throw new Error('boom'); } },
        { name: 'close', run: () => void order.push('close') },
      ],
    })('test');
    expect(order).toEqual(['close']);
    expect(codes).toEqual([1]);
  });

  it('exits 1 when a step outlives the budget', async () => {
    const codes: number[] = [];
    void installGracefulShutdown({
      logger: silentLogger(),
      timeoutMs: 50,
      signals: [],
      exit: (code) => codes.push(code),
      steps: [{ name: 'hangs', run: () => new Promise(() => undefined) }],
    })('test');
    await new Promise((r) => setTimeout(r, 120));
    expect(codes).toEqual([1]);
  });
});
