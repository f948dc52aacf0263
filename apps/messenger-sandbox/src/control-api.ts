import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { publicMessage, renderThreadItem, renderTopic } from './render.js';
import { Conflict, NotFound, PAGE_WEBHOOK_FIELDS, type CooldownPolicy, type PageRecord, type SandboxState } from './state.js';
import { BadAction, performUserAction, userActionSchema, type PerformedAction, type WebhookDelivery, type WebhookDispatcher } from './webhooks.js';
import { isValidTimeZone } from './zoned-time.js';

export const CONTROL_PREFIX = '/__sandbox';

const cooldownPolicySchema: z.ZodType<CooldownPolicy> = z.union([
  z.enum(['meta-2022', 'meta-2025-09', 'by-date']),
  z.object({ dailyCooldownHours: z.number().positive().max(24 * 366) }),
]);

const throttleCode = z.union([z.literal(613), z.literal(4), z.literal(17), z.literal(32)]);

const createPageSchema = z.object({
  id: z.string().regex(/^\d+$/, 'Page ids are numeric').optional(),
  name: z.string().min(1).optional(),
  accessToken: z.string().min(8).optional(),
  appSecret: z.string().min(8).optional(),
  timezone: z.string().refine(isValidTimeZone, 'must be an IANA time zone').optional(),
  cooldownPolicy: cooldownPolicySchema.optional(),
  sendRatePerSecond: z.number().positive().nullable().optional(),
  newsPage: z.boolean().optional(),
  /** The app's "Require App Secret" switch (default on, as Meta recommends). */
  requireAppSecretProof: z.boolean().optional(),
  /** The app's webhook subscription on this Page; [] = not subscribed. Default: messages, messaging_optins, messaging_postbacks. */
  subscribedFields: z.array(z.enum(PAGE_WEBHOOK_FIELDS)).optional(),
});

const updatePageSchema = createPageSchema
  .pick({ name: true, timezone: true, cooldownPolicy: true, newsPage: true, requireAppSecretProof: true, subscribedFields: true, appSecret: true })
  .strict();

const createUserSchema = z.object({
  psid: z.string().min(1).max(64).optional(),
  name: z.string().min(1).optional(),
  windowOpen: z.boolean().optional(),
  lastUserMessageAt: z.number().int().nullable().optional(),
});

const updateUserSchema = z
  .object({ name: z.string().min(1), blocked: z.boolean(), lastUserMessageAt: z.number().int().nullable() })
  .partial()
  .strict();

const faultsSchema = z
  .object({
    latencyMs: z.number().min(0).max(60_000).default(0),
    latencyJitterMs: z.number().min(0).max(60_000).default(0),
    errors: z
      .array(
        z.object({
          code: z.number().int(),
          subcode: z.number().int().nullable().optional(),
          rate: z.number().min(0).max(1),
          message: z.string().optional(),
          httpStatus: z.number().int().min(400).max(599).optional(),
        }),
      )
      .default([])
      .refine((errors) => errors.reduce((sum, e) => sum + e.rate, 0) <= 1, 'error rates must add up to at most 1'),
    throttleBursts: z
      .object({ probability: z.number().min(0).max(1), length: z.number().int().min(1).max(1_000_000), code: throttleCode.default(613) })
      .nullable()
      .default(null),
  })
  .strict();

const rateLimitSchema = z.object({ perSecond: z.number().positive().nullable(), code: throttleCode.default(613) }).strict();
const burstSchema = z.object({ requests: z.number().int().min(1).max(1_000_000), code: throttleCode.default(613) }).strict();

const triggerOptions = {
  /** Extra immediate attempts when the callback does not answer 2xx, as Meta does. */
  retries: z.number().int().min(0).max(10).default(0),
  /** Send the same bytes this many times in total (duplicate delivery). */
  repeat: z.number().int().min(1).max(10).default(1),
};
const batchSchema = z.object({
  actions: z.array(userActionSchema).min(1).max(1000),
  layout: z.enum(['entries', 'messaging']).default('entries'),
  ...triggerOptions,
});

const bulkTokensSchema = z.object({
  count: z.number().int().min(1).max(500_000),
  kind: z.enum(['ONE_TIME', 'RECURRING']),
  payload: z.string().min(1),
  title: z.string().min(1).max(65).optional(),
  frequency: z.enum(['DAILY', 'WEEKLY', 'MONTHLY']).optional(),
  psidPrefix: z.string().min(1).max(40).optional(),
  /** Also emit the opt-in webhooks, this many events per POST (0 = none). */
  webhookBatchSize: z.number().int().min(0).max(1000).default(0),
});

const messagesQuery = z.object({
  psid: z.string().optional(),
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(200_000).default(1000),
});

export interface ControlContext {
  state: SandboxState;
  dispatcher: WebhookDispatcher;
  verifyToken: { value: string };
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new BadRequest(`${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}

export class BadRequest extends Error {}

export function sendControlError(reply: FastifyReply, error: unknown): boolean {
  const status =
    error instanceof NotFound ? 404 : error instanceof Conflict ? 409 : error instanceof BadRequest || error instanceof BadAction ? 400 : 0;
  if (status === 0) return false;
  void reply.code(status).send({ error: (error as Error).message });
  return true;
}

function pageView(page: PageRecord): Record<string, unknown> {
  return {
    id: page.id,
    name: page.name,
    accessToken: page.accessToken,
    appSecret: page.appSecret,
    timezone: page.timezone,
    cooldownPolicy: page.cooldownPolicy,
    newsPage: page.newsPage,
    requireAppSecretProof: page.requireAppSecretProof,
    subscribedFields: page.subscribedFields,
    sendRate: { perSecond: page.rate.perSecond, code: page.rate.code },
    faults: page.faults,
    users: page.users.size,
    messages: page.messages.length,
    recurringTokens: page.recurringTokens.length,
  };
}

function deliveryView(delivery: WebhookDelivery) {
  const last = delivery.attempts.at(-1);
  return {
    deliveryId: delivery.id,
    url: delivery.url,
    body: delivery.body,
    signature: delivery.signature,
    callback: { status: last?.status ?? null, body: last?.body, error: last?.error, attempts: delivery.attempts.length },
    attempts: delivery.attempts,
  };
}

function tokenView(action: PerformedAction): Record<string, unknown> | undefined {
  const token = action.token;
  if (!token) return undefined;
  if (token.kind === 'ONE_TIME') {
    return { kind: 'ONE_TIME', token: token.token, psid: token.psid, payload: token.payload, expiresAt: token.expiresAt };
  }
  return { kind: 'RECURRING', ...renderTopic(token), psid: token.psid };
}

export function registerControlApi(app: FastifyInstance, ctx: ControlContext): void {
  const { state, dispatcher } = ctx;

  async function emit(actions: PerformedAction[], layout: 'entries' | 'messaging', retries: number, repeat: number) {
    const first = actions[0];
    if (!first) throw new BadRequest('no actions');
    const page = state.getPage(first.pageId);
    for (const action of actions) {
      if (state.getPage(action.pageId).appSecret !== page.appSecret) {
        throw new BadRequest('a batch can only hold Pages that share one app secret (one app)');
      }
    }
    const body = dispatcher.buildBody(actions, layout);
    const delivery = await dispatcher.send(page, body, { retries });
    for (let i = 1; i < repeat; i++) await dispatcher.redeliver(delivery.id);
    return { ...deliveryView(delivery), payload: body };
  }

  app.get(`${CONTROL_PREFIX}`, async () => ({
    webhookUrl: dispatcher.url ?? null,
    now: state.now(),
    seed: state.seed,
    pages: [...state.pages.values()].map((page) => ({ id: page.id, name: page.name, users: page.users.size })),
  }));

  app.post(`${CONTROL_PREFIX}/reset`, async () => {
    state.reset();
    dispatcher.clear();
    return { ok: true, pages: state.pages.size };
  });

  app.get(`${CONTROL_PREFIX}/clock`, async () => ({ now: state.now() }));
  app.post(`${CONTROL_PREFIX}/clock`, async (request) => {
    const body = parse(z.object({ advanceMs: z.number().int().optional(), now: z.number().int().optional() }).strict(), request.body);
    if (body.now !== undefined) state.setClock(body.now);
    if (body.advanceMs !== undefined) state.advanceClock(body.advanceMs);
    return { now: state.now() };
  });

  app.put(`${CONTROL_PREFIX}/webhook`, async (request) => {
    const body = parse(z.object({ url: z.url().nullable(), verifyToken: z.string().min(1).optional() }).strict(), request.body);
    dispatcher.url = body.url ?? undefined;
    if (body.verifyToken) ctx.verifyToken.value = body.verifyToken;
    return { url: dispatcher.url ?? null };
  });

  app.get(`${CONTROL_PREFIX}/stats`, async () => ({
    pages: Object.fromEntries(
      [...state.pages.values()].map((page) => [page.id, { accepted: page.counters.accepted, rejected: page.counters.rejected }]),
    ),
  }));

  app.post(`${CONTROL_PREFIX}/pages`, async (request, reply) => {
    const body = parse(createPageSchema, request.body);
    const page = state.createPage(body);
    return reply.code(201).send(pageView(page));
  });
  app.get(`${CONTROL_PREFIX}/pages`, async () => ({ pages: [...state.pages.values()].map(pageView) }));
  app.get<{ Params: { pageId: string } }>(`${CONTROL_PREFIX}/pages/:pageId`, async (request) => pageView(state.getPage(request.params.pageId)));
  app.patch<{ Params: { pageId: string } }>(`${CONTROL_PREFIX}/pages/:pageId`, async (request) => {
    const page = state.getPage(request.params.pageId);
    const body = parse(updatePageSchema, request.body);
    if (body.name !== undefined) page.name = body.name;
    if (body.timezone !== undefined) page.timezone = body.timezone;
    if (body.cooldownPolicy !== undefined) page.cooldownPolicy = body.cooldownPolicy;
    if (body.newsPage !== undefined) page.newsPage = body.newsPage;
    if (body.requireAppSecretProof !== undefined) page.requireAppSecretProof = body.requireAppSecretProof;
    if (body.subscribedFields !== undefined) page.subscribedFields = [...new Set(body.subscribedFields)];
    // Rotating the app secret in the App Dashboard: proofs made with the old one are refused from now on.
    if (body.appSecret !== undefined) page.appSecret = body.appSecret;
    return pageView(page);
  });

  app.put<{ Params: { pageId: string } }>(`${CONTROL_PREFIX}/pages/:pageId/faults`, async (request) => {
    const page = state.getPage(request.params.pageId);
    return { faults: state.setFaults(page, parse(faultsSchema, request.body)) };
  });
  app.put<{ Params: { pageId: string } }>(`${CONTROL_PREFIX}/pages/:pageId/rate-limit`, async (request) => {
    const page = state.getPage(request.params.pageId);
    const body = parse(rateLimitSchema, request.body);
    page.rate = state.newRateLimit(body.perSecond, body.code);
    return { perSecond: page.rate.perSecond, code: page.rate.code };
  });
  app.post<{ Params: { pageId: string } }>(`${CONTROL_PREFIX}/pages/:pageId/throttle-burst`, async (request) => {
    const page = state.getPage(request.params.pageId);
    const body = parse(burstSchema, request.body);
    page.throttleBurstRemaining = body.requests;
    page.throttleBurstCode = body.code;
    return { remaining: page.throttleBurstRemaining, code: page.throttleBurstCode };
  });

  app.post<{ Params: { pageId: string } }>(`${CONTROL_PREFIX}/pages/:pageId/users`, async (request, reply) => {
    const body = parse(createUserSchema, request.body);
    const user = state.createUser(request.params.pageId, body);
    return reply.code(201).send(userView(user));
  });
  app.get<{ Params: { pageId: string; psid: string } }>(`${CONTROL_PREFIX}/pages/:pageId/users/:psid`, async (request) => {
    const page = state.getPage(request.params.pageId);
    const user = state.getUser(page, request.params.psid);
    return { ...userView(user), ...tokensOf(page, user.psid) };
  });
  app.patch<{ Params: { pageId: string; psid: string } }>(`${CONTROL_PREFIX}/pages/:pageId/users/:psid`, async (request) => {
    const page = state.getPage(request.params.pageId);
    const user = state.getUser(page, request.params.psid);
    const body = parse(updateUserSchema, request.body);
    if (body.name !== undefined) user.name = body.name;
    if (body.blocked !== undefined) user.blocked = body.blocked;
    if (body.lastUserMessageAt !== undefined) user.lastUserMessageAt = body.lastUserMessageAt;
    return userView(user);
  });

  function userView(user: { psid: string; pageId: string; name: string; lastUserMessageAt: number | null; blocked: boolean }) {
    return {
      psid: user.psid,
      pageId: user.pageId,
      name: user.name,
      blocked: user.blocked,
      lastUserMessageAt: user.lastUserMessageAt,
      windowOpenUntil: user.lastUserMessageAt === null ? null : user.lastUserMessageAt + 24 * 60 * 60 * 1000,
    };
  }

  function tokensOf(page: PageRecord, psid: string) {
    const oneTime = [];
    for (const token of state.tokens.values()) {
      if (token.kind === 'ONE_TIME' && token.pageId === page.id && token.psid === psid) {
        oneTime.push({ token: token.token, payload: token.payload, title: token.title ?? null, usedAt: token.usedAt, expiresAt: token.expiresAt });
      }
    }
    const recurring = (page.users.get(psid)?.topics ?? []).map(renderTopic);
    return { oneTimeTokens: oneTime, recurringTokens: recurring };
  }

  /** The user page polls this: everything after `after` in the thread, plus the recurring topics with Stop/Resume state. */
  app.get<{ Params: { pageId: string; psid: string }; Querystring: { after?: string } }>(
    `${CONTROL_PREFIX}/pages/:pageId/users/:psid/thread`,
    async (request) => {
      const page = state.getPage(request.params.pageId);
      const user = state.getUser(page, request.params.psid);
      const after = Number(request.query.after ?? 0) || 0;
      const items = user.thread.filter((item) => item.seq > after).map((item) => renderThreadItem(item, user));
      return {
        page: { id: page.id, name: page.name },
        webhookUrl: dispatcher.url ?? null,
        user: userView(user),
        now: state.now(),
        items,
        // Answered state can change on old cards, so the page re-reads it each poll.
        answered: [...(user.answered ?? [])],
        topics: (user.topics ?? []).map(renderTopic),
        lastSeq: user.thread.at(-1)?.seq ?? 0,
      };
    },
  );

  app.get<{ Params: { pageId: string } }>(`${CONTROL_PREFIX}/pages/:pageId/messages`, async (request) => {
    const page = state.getPage(request.params.pageId);
    const query = parse(messagesQuery, request.query);
    let source = page.messages;
    if (query.psid !== undefined) {
      const user = page.users.get(query.psid);
      source = user ? (user.thread.filter((item) => item.from === 'page') as typeof page.messages) : [];
    }
    const start = query.after === 0 ? 0 : firstAfter(source, query.after);
    const slice = source.slice(start, start + query.limit);
    return {
      total: source.length,
      messages: slice.map(publicMessage),
      nextAfter: start + query.limit < source.length ? slice.at(-1)?.seq : undefined,
    };
  });

  app.post<{ Params: { pageId: string } }>(`${CONTROL_PREFIX}/pages/:pageId/tokens/bulk`, async (request) => {
    const page = state.getPage(request.params.pageId);
    const body = parse(bulkTokensSchema, request.body);
    const prefix = body.psidPrefix ?? `bulk-${state.nextSeq()}-`;
    const tokens: Array<{ psid: string; token: string }> = [];
    const pending: PerformedAction[] = [];
    const deliveries: number[] = [];
    for (let i = 0; i < body.count; i++) {
      const psid = `${prefix}${i}`;
      const action =
        body.kind === 'ONE_TIME'
          ? performUserAction(state, { type: 'one_time_optin', pageId: page.id, psid: ensureUser(page, psid), payload: body.payload, ...(body.title ? { title: body.title } : {}) })
          : performUserAction(state, {
              type: 'recurring_optin',
              pageId: page.id,
              psid: ensureUser(page, psid),
              payload: body.payload,
              elementIndex: 0,
              ...(body.title ? { title: body.title } : {}),
              ...(body.frequency ? { frequency: body.frequency } : {}),
            });
      tokens.push({ psid, token: action.token?.token ?? '' });
      if (body.webhookBatchSize > 0) {
        pending.push(action);
        if (pending.length === body.webhookBatchSize) {
          deliveries.push((await dispatcher.send(page, dispatcher.buildBody(pending.splice(0), 'entries'))).id);
        }
      }
    }
    if (pending.length > 0) deliveries.push((await dispatcher.send(page, dispatcher.buildBody(pending, 'entries'))).id);
    return { count: tokens.length, tokens, webhookDeliveries: deliveries.length };
  });

  function ensureUser(page: PageRecord, psid: string): string {
    if (!page.users.has(psid)) state.createUser(page.id, { psid, windowOpen: false });
    return psid;
  }

  app.post(`${CONTROL_PREFIX}/webhooks/trigger`, async (request) => {
    const raw = (request.body ?? {}) as Record<string, unknown>;
    const action = parse(userActionSchema, raw);
    const options = parse(z.object(triggerOptions), { retries: raw.retries, repeat: raw.repeat });
    const performed = performUserAction(state, action);
    const result = await emit([performed], 'entries', options.retries, options.repeat);
    return { ...result, token: tokenView(performed), psid: performed.psid, userRef: performed.userRef };
  });

  app.post(`${CONTROL_PREFIX}/webhooks/batch`, async (request) => {
    const body = parse(batchSchema, request.body);
    const performed = body.actions.map((action) => performUserAction(state, action));
    const result = await emit(performed, body.layout, body.retries, body.repeat);
    return { ...result, tokens: performed.map(tokenView) };
  });

  app.post(`${CONTROL_PREFIX}/webhooks/redeliver`, async (request) => {
    const body = parse(z.object({ deliveryId: z.number().int() }).strict(), request.body);
    return deliveryView(await dispatcher.redeliver(body.deliveryId));
  });

  app.get(`${CONTROL_PREFIX}/webhooks/deliveries`, async () => ({ deliveries: dispatcher.list().map(deliveryView) }));

  app.post(`${CONTROL_PREFIX}/webhooks/verify`, async (request) => {
    const body = parse(
      z.object({ verifyToken: z.string().min(1).optional(), challenge: z.string().min(1).optional(), url: z.url().optional() }).strict(),
      request.body,
    );
    const challenge = body.challenge ?? String(Math.floor(state.pageRandom(`challenge-${state.nextSeq()}`)() * 1e9));
    return dispatcher.verify(body.verifyToken ?? ctx.verifyToken.value, challenge, body.url ?? dispatcher.url);
  });
}

/** Binary search: index of the first message with seq > after (messages are appended in seq order). */
function firstAfter(messages: ReadonlyArray<{ seq: number }>, after: number): number {
  let low = 0;
  let high = messages.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((messages[mid]?.seq ?? Infinity) <= after) low = mid + 1;
    else high = mid;
  }
  return low;
}
