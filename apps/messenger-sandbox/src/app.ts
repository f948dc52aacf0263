import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from '@renotify/observability';
import { registerControlApi, sendControlError, CONTROL_PREFIX } from './control-api.js';
import { registerReceiver } from './receiver.js';
import { errorBody, GraphError, unsupportedGet } from './graph-error.js';
import { tokenListItem } from './render.js';
import { authenticatePage, handleSend, resolvePage, type GraphCredentials } from './send-api.js';
import { DEMO_PAGE, DEMO_USER_PSID, PAGE_WEBHOOK_FIELDS, SANDBOX_APP, SandboxState, type CooldownPolicy } from './state.js';
import { userPageHtml, indexPageHtml } from './ui/user-page.js';
import { WebhookDispatcher } from './webhooks.js';

export interface SandboxOptions {
  /** Where webhooks go (Renotify's ingest). Settable later through PUT /__sandbox/webhook. */
  webhookUrl?: string;
  /** Seed for fault injection; each Page derives its own stream from it. */
  seed?: number;
  logger?: Logger;
  seedDemo?: boolean;
  /** Default recurring cooldown profile for new Pages: meta-2022 (24h, default), meta-2025-09 (48h), by-date. */
  cooldownPolicy?: CooldownPolicy;
  /** Send API rate per Page for new Pages; Meta documents 300/s. null lifts it. */
  sendRatePerSecond?: number | null;
  /** Verify token used by POST /__sandbox/webhooks/verify when none is given. */
  verifyToken?: string;
  /** Answer `recipient` (Meta's recurring doc) instead of `recipient_id` for notification_messages_token sends. Default true. */
  recurringAnswersRecipient?: boolean;
  webhookTimeoutMs?: number;
  /** Monotonic ms clock for the per-Page rate limiter; tests freeze it to make throttling deterministic. */
  rateClock?: () => number;
  /**
   * false: accepted messages are answered and counted (GET /__sandbox/stats) but not kept, so neither the Page's
   * message log nor the user page shows them. For benchmarks of millions of sends: keeping every message grows this
   * stand-in's heap by ~1 GB per million, and its garbage collection makes "Meta" slower as a run goes on, which
   * Meta is not. Default true.
   */
  keepMessages?: boolean;
}

export interface Sandbox {
  app: FastifyInstance;
  state: SandboxState;
  dispatcher: WebhookDispatcher;
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
  /** The user page URL for a Page and PSID (the demo ones by default), once listening. */
  userPageUrl(pageId?: string, psid?: string): string;
}

const VERSION = /^v\d+\.\d+$/;

type CredentialQuery = { access_token?: string; appsecret_proof?: string };

function bodyField(request: FastifyRequest, name: string): string | undefined {
  const value = (request.body as Record<string, unknown> | undefined | null)?.[name];
  return typeof value === 'string' ? value : undefined;
}

function accessTokenOf(request: FastifyRequest<{ Querystring: CredentialQuery }>): string | undefined {
  const fromQuery = request.query.access_token;
  if (fromQuery) return fromQuery;
  const header = request.headers.authorization;
  if (!header) return bodyField(request, 'access_token');
  const match = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(header);
  return match?.[1]?.trim();
}

/** Graph takes appsecret_proof as a query or body parameter, next to access_token. */
function credentialsOf(request: FastifyRequest<{ Querystring: CredentialQuery }>): GraphCredentials {
  return { accessToken: accessTokenOf(request), appSecretProof: request.query.appsecret_proof ?? bodyField(request, 'appsecret_proof') };
}

/** `fields=a,b` as a list; Graph answers `id` (and the node's default fields) without it. */
function fieldsOf(raw: string | undefined, defaults: readonly string[]): string[] {
  if (raw === undefined || raw.trim() === '') return [...defaults];
  return raw.split(',').map((field) => field.trim()).filter((field) => field.length > 0);
}

function pick(source: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) if (source[field] !== undefined) out[field] = source[field];
  // Graph always answers the id of the node it read.
  out.id = source.id;
  return out;
}

function requireVersion(version: string): void {
  if (!VERSION.test(version)) throw new GraphError(2500, null, `Unknown path components: /${version}`);
}

/** Meta's Send API also takes form posts whose recipient/message fields are JSON strings. */
function parseFormBody(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    if ((key === 'recipient' || key === 'message') && value.startsWith('{')) {
      try {
        out[key] = JSON.parse(value);
        continue;
      } catch {
        /* keep the raw string: validation reports it */
      }
    }
    out[key] = value;
  }
  return out;
}

export function buildSandbox(options: SandboxOptions = {}): Sandbox {
  const state = new SandboxState({
    seed: options.seed ?? 1,
    seedDemo: options.seedDemo ?? false,
    ...(options.cooldownPolicy !== undefined ? { cooldownPolicy: options.cooldownPolicy } : {}),
    ...(options.sendRatePerSecond !== undefined ? { defaultSendRatePerSecond: options.sendRatePerSecond } : {}),
    ...(options.rateClock ? { rateClock: options.rateClock } : {}),
    ...(options.keepMessages !== undefined ? { keepMessages: options.keepMessages } : {}),
  });
  const dispatcher = new WebhookDispatcher(state, options.webhookUrl, options.webhookTimeoutMs ?? 20_000);
  const verifyToken = { value: options.verifyToken ?? 'renotify-verify-token' };
  const sendOptions = { recurringAnswersRecipient: options.recurringAnswersRecipient ?? true };

  const app: FastifyInstance = Fastify({
    ...(options.logger ? { loggerInstance: options.logger as FastifyBaseLogger } : { logger: false }),
    // The Send API is the benchmark's hot path: no per-request log lines.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 10 * 1024 * 1024,
    forceCloseConnections: true,
  });

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, parseFormBody(String(body)));
  });

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof GraphError) return reply.code(error.httpStatus).send(errorBody(error));
    if (sendControlError(reply, error)) return reply;
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    const message = error instanceof Error ? error.message : String(error);
    if (!request.url.startsWith(CONTROL_PREFIX) && VERSION.test(request.url.split('/')[1] ?? '')) {
      // Graph routes: a body Fastify could not parse is a bad parameter in Meta's terms.
      const graph = status < 500 ? new GraphError(100, null, `(#100) ${message}`) : new GraphError(1, null, 'An unknown error occurred');
      return reply.code(graph.httpStatus).send(errorBody(graph));
    }
    if (status >= 500) request.log.error({ err: error }, 'sandbox route failed');
    return reply.code(status).send({ error: message });
  });

  app.setNotFoundHandler((request, reply) => {
    if (request.url.startsWith(CONTROL_PREFIX)) return reply.code(404).send({ error: `no route ${request.method} ${request.url}` });
    const graph = new GraphError(2500, null, `Unknown path components: ${request.url.split('?')[0]}`);
    return reply.code(400).send(errorBody(graph));
  });

  type GraphRoute = {
    Params: { version: string; pageId: string };
    Querystring: CredentialQuery & { after?: string; limit?: string; fields?: string; subscribed_fields?: string };
  };

  app.post<GraphRoute>('/:version/:pageId/messages', async (request, reply) => {
    requireVersion(request.params.version);
    const result = await handleSend(state, request.params.pageId, credentialsOf(request), request.body, sendOptions);
    return reply.code(result.status).send(result.body);
  });

  app.get<GraphRoute>('/:version/:pageId/notification_message_tokens', async (request) => {
    requireVersion(request.params.version);
    const page = resolvePage(state, request.params.pageId, credentialsOf(request));
    if (!state.takeRateSlot(page)) throw new GraphError(page.rate.code, null, '(#613) Calls to this api have exceeded the rate limit.');
    // Legacy doc: default 25, max 100 (the newer API's 100/1000 is for the paid successor). Larger limits are clamped.
    const rawLimit = request.query.limit === undefined ? 25 : Number(request.query.limit);
    if (!Number.isInteger(rawLimit) || rawLimit < 1) throw new GraphError(100, null, '(#100) Param limit must be a positive integer');
    const limit = Math.min(rawLimit, 100);
    let start = 0;
    if (request.query.after !== undefined) {
      const afterSeq = Number(Buffer.from(request.query.after, 'base64url').toString('utf8'));
      if (!Number.isInteger(afterSeq)) throw new GraphError(100, null, '(#100) Invalid cursor in param after');
      start = firstSeqAfter(page.recurringTokens, afterSeq);
    }
    const now = state.now();
    const slice = page.recurringTokens.slice(start, start + limit);
    const cursor = (seq: number) => Buffer.from(String(seq)).toString('base64url');
    const body: Record<string, unknown> = { data: slice.map((token) => tokenListItem(page, token, now)) };
    const first = slice[0];
    const last = slice.at(-1);
    if (first && last) {
      const paging: Record<string, unknown> = { cursors: { before: cursor(first.seq - 1), after: cursor(last.seq) } };
      if (start + limit < page.recurringTokens.length) {
        paging.next = `${request.protocol}://${request.host}/${request.params.version}/${page.id}/notification_message_tokens?limit=${limit}&after=${cursor(last.seq)}`;
      }
      body.paging = paging;
    }
    return body;
  });

  /** GET /{page-id}/subscribed_apps: the Page's app and its fields, as Graph lists them ([] when not subscribed). */
  app.get<GraphRoute>('/:version/:pageId/subscribed_apps', async (request) => {
    requireVersion(request.params.version);
    const page = resolvePage(state, request.params.pageId, credentialsOf(request));
    if (page.subscribedFields.length === 0) return { data: [] };
    return { data: [{ ...SANDBOX_APP, subscribed_fields: [...page.subscribedFields] }] };
  });

  /** POST /{page-id}/subscribed_apps?subscribed_fields=a,b: (re)subscribes the app with exactly those fields. */
  app.post<GraphRoute>('/:version/:pageId/subscribed_apps', async (request) => {
    requireVersion(request.params.version);
    const page = resolvePage(state, request.params.pageId, credentialsOf(request));
    const raw = request.query.subscribed_fields ?? bodyField(request, 'subscribed_fields');
    if (raw === undefined || raw.trim() === '') throw new GraphError(100, null, '(#100) The parameter subscribed_fields is required');
    const fields = fieldsOf(raw, []);
    const unknown = fields.find((field) => !(PAGE_WEBHOOK_FIELDS as readonly string[]).includes(field));
    if (unknown !== undefined) {
      throw new GraphError(100, null, `(#100) Param subscribed_fields[${fields.indexOf(unknown)}] must be one of {${PAGE_WEBHOOK_FIELDS.join(', ')}} - got "${unknown}".`);
    }
    page.subscribedFields = [...new Set(fields)];
    return { success: true };
  });

  /** DELETE /{page-id}/subscribed_apps: unsubscribes the app (what Meta does itself after an hour of failing webhooks). */
  app.delete<GraphRoute>('/:version/:pageId/subscribed_apps', async (request) => {
    requireVersion(request.params.version);
    const page = resolvePage(state, request.params.pageId, credentialsOf(request));
    page.subscribedFields = [];
    return { success: true };
  });

  /**
   * GET /{node}: `me` or the Page's id (the Page), a PSID of this Page (its profile), or
   * notification_messages_<TOKEN> (one recurring token). Anything the token cannot see is 100/33, never 190.
   */
  app.get<GraphRoute>('/:version/:pageId', async (request) => {
    requireVersion(request.params.version);
    const node = request.params.pageId;
    const page = authenticatePage(state, credentialsOf(request));
    if (node.startsWith('notification_messages_')) {
      const token = state.tokens.get(node.slice('notification_messages_'.length));
      if (!token || token.kind !== 'RECURRING' || token.pageId !== page.id) throw unsupportedGet(node);
      return tokenListItem(page, token, state.now());
    }
    if (node === 'me' || node === page.id) return pick({ id: page.id, name: page.name }, fieldsOf(request.query.fields, ['name']));
    const user = page.users.get(node);
    if (!user) throw unsupportedGet(node);
    const [firstName = user.name, ...rest] = user.name.split(' ');
    const profile = { id: user.psid, name: user.name, first_name: firstName, last_name: rest.join(' '), profile_pic: `https://example.com/sandbox/profile/${encodeURIComponent(user.psid)}.jpg` };
    return pick(profile, fieldsOf(request.query.fields, ['first_name', 'last_name', 'profile_pic']));
  });

  registerControlApi(app, { state, dispatcher, verifyToken });
  // A business's webhook endpoint for Renotify's outbound webhooks (tests and demos): records and answers as told.
  registerReceiver(app);

  /** Liveness for the demo script, the benchmark and containers (outside Graph's path space). */
  app.get('/healthz', async () => ({ status: 'ok', pages: state.pages.size }));

  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(indexPageHtml(state)));
  app.get('/user', async (_request, reply) => reply.type('text/html; charset=utf-8').send(userPageHtml()));

  let baseUrl = '';
  return {
    app,
    state,
    dispatcher,
    async listen(port = 3100, host = '127.0.0.1') {
      await app.listen({ port, host });
      const address = app.server.address();
      const actualPort = typeof address === 'object' && address ? address.port : port;
      const visibleHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
      baseUrl = `http://${visibleHost}:${actualPort}`;
      return baseUrl;
    },
    async close() {
      await app.close();
      await dispatcher.close();
    },
    userPageUrl(pageId = DEMO_PAGE.id, psid = DEMO_USER_PSID) {
      return `${baseUrl}/user?page=${encodeURIComponent(pageId)}&psid=${encodeURIComponent(psid)}`;
    },
  };
}

function firstSeqAfter(tokens: ReadonlyArray<{ seq: number }>, after: number): number {
  let low = 0;
  let high = tokens.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((tokens[mid]?.seq ?? Infinity) <= after) low = mid + 1;
    else high = mid;
  }
  return low;
}
