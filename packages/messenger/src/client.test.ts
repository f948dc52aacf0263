import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTokenSend } from './builders.js';
import { createGraphClient } from './client.js';

/**
 * Transport faults only (a dead port, a peer that never answers). Everything Meta-shaped is tested against the
 * sandbox in apps/messenger-sandbox's contract test.
 */
describe('graph client transport failures', () => {
  let silent: Server;
  let silentPort: number;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    // Accepts and never answers.
    silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  const body = buildTokenSend({ kind: 'ONE_TIME', token: 'secret-token', message: { text: 'x' } });

  it('turns a refused connection into a retryable synthetic error without the access token', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const deadPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const client = createGraphClient({ baseUrl: `http://127.0.0.1:${deadPort}` });
    const outcome = await client.sendMessage({ pageId: '1', accessToken: 'page-secret', graphVersion: 'v24.0', body });
    await client.close();
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBeNull();
    expect(outcome.failure).toMatchObject({ kind: 'retryable', retry: true });
    expect(outcome.httpStatus).toBeNull();
    expect(outcome.error.message).toMatch(/ECONNREFUSED/);
    expect(JSON.stringify(outcome)).not.toContain('page-secret');
  });

  it('times out a peer that never answers and classifies it retryable', async () => {
    const client = createGraphClient({ baseUrl: `http://127.0.0.1:${silentPort}`, timeoutMs: 200 });
    const started = Date.now();
    const outcome = await client.sendMessage({ pageId: '1', accessToken: 'page-secret', graphVersion: 'v24.0', body });
    await client.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'retryable' }, error: { code: null } });
  });
});
