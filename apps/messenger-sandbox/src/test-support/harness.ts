import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSandbox, type Sandbox, type SandboxOptions } from '../app.js';

/** Response JSON in tests: loosely typed on purpose, the assertions check its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export const PAGE_ID = '200000000000001';
export const ACCESS_TOKEN = 'test-page-access-token';
export const APP_SECRET = 'test-app-secret';

/** appsecret_proof for a token and app secret (the test Page's by default), computed here independently of the client. */
export function proofFor(token = ACCESS_TOKEN, appSecret = APP_SECRET): string {
  return createHmac('sha256', appSecret).update(token).digest('hex');
}

export interface Harness {
  sandbox: Sandbox;
  baseUrl: string;
  /** POST/GET/PUT/PATCH JSON to the sandbox; returns status and parsed JSON. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: Json }>;
  /**
   * POST /v24.0/{page}/messages with the page token in the Bearer header and its appsecret_proof (made with
   * `appSecret`, the test Page's by default; `proof: null` sends none, a string sends that one).
   */
  send(
    body: unknown,
    options?: { pageId?: string; token?: string; viaQuery?: boolean; appSecret?: string; proof?: string | null },
  ): Promise<{ status: number; json: Json }>;
  trigger(action: Record<string, unknown>): Promise<Json>;
  close(): Promise<void>;
}

export async function startHarness(options: SandboxOptions = {}): Promise<Harness> {
  const sandbox = buildSandbox({ seed: 42, sendRatePerSecond: null, ...options });
  const baseUrl = await sandbox.listen(0, '127.0.0.1');

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${baseUrl}${path}`, init);
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: response.status, json: json as Json };
  }

  return {
    sandbox,
    baseUrl,
    call,
    send(body, { pageId = PAGE_ID, token = ACCESS_TOKEN, viaQuery = false, appSecret = APP_SECRET, proof } = {}) {
      const query = new URLSearchParams();
      if (viaQuery) query.set('access_token', token);
      const appSecretProof = proof === undefined ? proofFor(token, appSecret) : proof;
      if (appSecretProof !== null) query.set('appsecret_proof', appSecretProof);
      const path = `/v24.0/${pageId}/messages${query.size > 0 ? `?${query.toString()}` : ''}`;
      return viaQuery ? call('POST', path, body) : call('POST', path, body, { authorization: `Bearer ${token}` });
    },
    async trigger(action) {
      const result = await call('POST', '/__sandbox/webhooks/trigger', action);
      if (result.status !== 200) throw new Error(`trigger failed: ${result.status} ${JSON.stringify(result.json)}`);
      return result.json;
    },
    close: () => sandbox.close(),
  };
}

export async function createPageWithUser(h: Harness, psid = 'user-1', page: Record<string, unknown> = {}) {
  const created = await h.call('POST', '/__sandbox/pages', {
    id: PAGE_ID,
    name: 'Test Page',
    accessToken: ACCESS_TOKEN,
    appSecret: APP_SECRET,
    ...page,
  });
  if (created.status !== 201) throw new Error(JSON.stringify(created.json));
  const user = await h.call('POST', `/__sandbox/pages/${page.id ?? PAGE_ID}/users`, { psid });
  if (user.status !== 201) throw new Error(JSON.stringify(user.json));
  return { page: created.json, user: user.json };
}

export interface ReceivedWebhook {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  raw: Buffer;
}

/** A tiny webhook receiver: records raw bytes and answers with `status` (changeable) or the GET challenge. */
export interface Receiver {
  url: string;
  received: ReceivedWebhook[];
  status: number;
  verifyToken: string;
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: ReceivedWebhook[] = [];
  const waiters: Array<() => void> = [];
  const receiver: Receiver = {
    url: '',
    received,
    status: 200,
    verifyToken: 'receiver-verify-token',
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} webhooks, got ${received.length}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
      return received;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET') {
        const ok = url.searchParams.get('hub.mode') === 'subscribe' && url.searchParams.get('hub.verify_token') === receiver.verifyToken;
        res.writeHead(ok ? 200 : 403, { 'content-type': 'text/plain' });
        res.end(ok ? (url.searchParams.get('hub.challenge') ?? '') : 'forbidden');
        return;
      }
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw: Buffer.concat(chunks) });
      res.writeHead(receiver.status, { 'content-type': 'text/plain' });
      res.end(receiver.status < 300 ? 'EVENT_RECEIVED' : 'failing');
      for (const wake of waiters.splice(0)) wake();
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/messenger`;
  const close = receiver.close;
  receiver.close = async () => {
    server.closeAllConnections();
    await close();
  };
  return receiver;
}

export const HOUR = 60 * 60 * 1000;
export const DAY = 24 * HOUR;
