import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOutboundPost, isPrivateAddress, lookupPublicOnly, OutboundAddressError, outboundUrlProblem } from './outbound-address.js';

describe('SSRF guard for customer-chosen URLs', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['224.0.0.1', true],
    ['255.255.255.255', true],
    ['::1', true],
    ['::', true],
    ['fd00::1', true],
    ['fe80::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:10.0.0.1', true],
    ['8.8.8.8', false],
    ['2606:4700:4700::1111', false],
    ['::ffff:8.8.8.8', false],
    ['example.com', false],
  ])('%s is private: %s', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });

  it.each([
    ['http://localhost:3000/hook', 'points at this machine (localhost)'],
    ['http://LOCALHOST./hook', 'points at this machine (localhost)'],
    ['http://api.localhost/hook', 'points at this machine (localhost)'],
    ['http://127.0.0.1:6379/', 'points at a non-public address (127.0.0.1)'],
    ['http://2130706433/', 'points at a non-public address (127.0.0.1)'], // decimal spelling, normalised by the URL parser
    ['http://0x7f.1/', 'points at a non-public address (127.0.0.1)'],
    ['http://[::1]:8080/', 'points at a non-public address (::1)'],
    ['http://[::ffff:a9fe:a9fe]/latest/meta-data', 'points at a non-public address (::ffff:a9fe:a9fe)'],
    ['http://169.254.169.254/latest/meta-data', 'points at a non-public address (169.254.169.254)'],
    ['https://hooks.example.com/renotify', null],
  ])('%s → %s', (url, expected) => {
    expect(outboundUrlProblem(url)).toBe(expected);
  });

  it('refuses, when resolving, a name whose address is not public (DNS rebinding)', async () => {
    const error = await new Promise<Error | null>((resolve) => lookupPublicOnly('localhost', {}, (failure) => resolve(failure)));
    expect(error).toBeInstanceOf(OutboundAddressError);
    expect(error?.message).toMatch(/localhost resolves to a non-public address/);
  });

  describe('createOutboundPost', () => {
    let server: Server;
    let port: number;
    let received = 0;
    beforeAll(async () => {
      server = createServer((_request, response) => {
        received++;
        response.writeHead(204).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('never reaches a loopback receiver when private targets are not allowed, and does when they are', async () => {
      const guarded = createOutboundPost({ allowPrivate: false });
      const init = { headers: { 'content-type': 'application/json' }, body: '{}', timeoutMs: 2_000 };
      await expect(guarded(`http://127.0.0.1:${port}/hook`, init)).rejects.toBeInstanceOf(OutboundAddressError);
      await expect(guarded(`http://localhost:${port}/hook`, init)).rejects.toBeInstanceOf(OutboundAddressError);
      expect(received).toBe(0);
      const open = createOutboundPost({ allowPrivate: true });
      expect((await open(`http://127.0.0.1:${port}/hook`, init)).status).toBe(204);
      expect(received).toBe(1);
    });
  });
});
