import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent, fetch, type Response } from 'undici';

/*
 * Server-side request forgery guard for requests to addresses a customer chose (outbound webhooks). The API key
 * holder picks the URL, and the worker posts to it from inside the deployment's network: without a guard, an
 * endpoint at http://169.254.169.254/ (cloud metadata), http://127.0.0.1:6379/ or a service on the private
 * network would be reached with our identity. Checked twice: at create (literal addresses and `localhost`, for
 * a clear 400) and on every connection (the address DNS answered then, so a name that later resolves inward —
 * DNS rebinding — is refused too). Written here because no maintained library does the connect-time check with
 * undici; the ranges are the IANA special-purpose registries.
 */

const blocked = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) blocked.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['64:ff9b::', 96], // NAT64 (may reach IPv4 inside)
] as const) blocked.addSubnet(network, prefix, 'ipv6');

/** True for loopback, private, link-local, multicast and other non-public addresses (IPv4, IPv6, IPv4-mapped). */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1]!, 'ipv4');
  return blocked.check(address, 'ipv6');
}

/**
 * Why a customer-chosen URL may not be used, or null: its host is `localhost` (or a name under it) or a literal
 * non-public address. A host name is checked again when it is resolved (see createOutboundFetch).
 */
export function outboundUrlProblem(url: string): string | null {
  // A trailing dot is the same name ("localhost."), brackets wrap IPv6 literals.
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return 'points at this machine (localhost)';
  if (isPrivateAddress(host)) return `points at a non-public address (${host})`;
  return null;
}

export class OutboundAddressError extends Error {
  readonly code = 'EOUTBOUNDADDRESS';
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** dns.lookup that fails when any address the name resolves to is not public (undici's connect `lookup`). */
export function lookupPublicOnly(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const inward = addresses.find((entry) => isPrivateAddress(entry.address));
    if (inward) return callback(new OutboundAddressError(`${hostname} resolves to a non-public address (${inward.address})`), []);
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first) return callback(new OutboundAddressError(`${hostname} has no address`), []);
    callback(null, first.address, first.family);
  });
}

export interface OutboundFetchOptions {
  /** Allow loopback/private targets (tests, a receiver on the same network). */
  allowPrivate: boolean;
}

export type OutboundPost = (url: string, init: { headers: Record<string, string>; body: string; timeoutMs: number }) => Promise<Response>;

/** A POST for customer-chosen URLs: redirects not followed, and (unless allowed) no connection to a non-public address. */
export function createOutboundPost({ allowPrivate }: OutboundFetchOptions): OutboundPost {
  const dispatcher = new Agent(allowPrivate ? {} : { connect: { lookup: lookupPublicOnly as never } });
  return async (url, { headers, body, timeoutMs }) => {
    if (!allowPrivate) {
      const problem = outboundUrlProblem(url);
      if (problem) throw new OutboundAddressError(`endpoint URL ${problem}`);
    }
    return fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), dispatcher });
  };
}
