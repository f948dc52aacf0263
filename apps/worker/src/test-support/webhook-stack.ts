import { DEMO_API_KEY, loadIngestConfig, loadWorkerConfig } from '@renotify/config';
import { startIngest, type RunningIngest } from '@renotify/ingest';
import { buildSandbox, type Sandbox } from '@renotify/messenger-sandbox';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startWorker, type RunningWorker } from '../server.js';
import { createWebhooksProcessorModule, type WebhooksProcessorOptions } from '../queues/webhooks/module.js';

export interface HttpResult {
  status: number;
  // Tests read arbitrary JSON shapes.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  text: string;
  headers: Headers;
}

export async function http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' || body instanceof Uint8Array ? (body as string) : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, headers: response.headers };
}

export interface TestPage {
  id: string;
  accessToken: string;
  appSecret: string;
}

/** Real Postgres + Redis, the sandbox playing Meta, ingest receiving its webhooks, and a worker applying them. */
export interface WebhookStack {
  services: TestServices;
  sandbox: Sandbox;
  sandboxUrl: string;
  ingest: RunningIngest;
  worker: RunningWorker | undefined;
  /** Renotify's API with the demo API key. */
  api(method: string, path: string, body?: unknown): Promise<HttpResult>;
  /** The sandbox (its control API lives under /__sandbox). */
  sb(method: string, path: string, body?: unknown): Promise<HttpResult>;
  /** A user action through the sandbox, which signs and POSTs the webhook to the ingest. */
  trigger(action: Record<string, unknown>): Promise<HttpResult>;
  /** The same Page in the sandbox and registered in Renotify, with a user whose 24h window is open. */
  createPage(id: string, users?: string[], settings?: Record<string, unknown>): Promise<TestPage>;
  startWorker(options?: WebhooksProcessorOptions): Promise<RunningWorker>;
  close(): Promise<void>;
}

export async function startWebhookStack(
  label: string,
  { worker = true, workerOptions = {} }: { worker?: boolean; workerOptions?: WebhooksProcessorOptions } = {},
): Promise<WebhookStack> {
  const services = await createTestServices(label);
  const sandbox = buildSandbox({ seed: 7, sendRatePerSecond: null });
  const sandboxUrl = await sandbox.listen(0, '127.0.0.1');
  const env = { ...services.env, GRAPH_API_BASE_URL: sandboxUrl };
  const ingest = await startIngest(loadIngestConfig(env));
  sandbox.dispatcher.url = `${ingest.url}/webhooks/messenger`;

  const stack: WebhookStack = {
    services,
    sandbox,
    sandboxUrl,
    ingest,
    worker: undefined,
    api: (method, path, body) => http(method, `${ingest.url}${path}`, body, { authorization: `Bearer ${DEMO_API_KEY}` }),
    sb: (method, path, body) => http(method, `${sandboxUrl}${path}`, body),
    async trigger(action) {
      const result = await http('POST', `${sandboxUrl}/__sandbox/webhooks/trigger`, action);
      if (result.status !== 200) throw new Error(`sandbox trigger failed: ${result.status} ${result.text}`);
      return result;
    },
    async createPage(id, users = [], settings = {}) {
      const page = { id, accessToken: `page-token-${id}`, appSecret: `app-secret-${id}` };
      const created = await stack.sb('POST', '/__sandbox/pages', { ...page, name: `Page ${id}` });
      if (created.status !== 201) throw new Error(`sandbox page: ${created.text}`);
      const registered = await stack.api('POST', '/v1/pages', { ...page, name: `Page ${id}`, ...settings });
      if (registered.status !== 201) throw new Error(`register page: ${registered.text}`);
      for (const psid of users) {
        const user = await stack.sb('POST', `/__sandbox/pages/${id}/users`, { psid, windowOpen: true });
        if (user.status !== 201) throw new Error(`sandbox user: ${user.text}`);
      }
      return page;
    },
    async startWorker(options = workerOptions) {
      const module = createWebhooksProcessorModule({ reconcileCron: null, ...options });
      stack.worker = await startWorker(loadWorkerConfig(env), undefined, [module]);
      return stack.worker;
    },
    async close() {
      await stack.worker?.close();
      await ingest.close();
      await sandbox.close();
      await services.cleanup();
    },
  };
  if (worker) await stack.startWorker();
  return stack;
}
