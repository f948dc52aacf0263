import { Pool } from 'undici';
import { z } from 'zod';
import { AppSecretProofs } from './appsecret-proof.js';
import { recipientKindOf, type SendRequestBody } from './builders.js';
import { classifyGraphError, GraphRequestError, type FailureClass, type GraphApiError, type RecipientKind } from './errors.js';

export interface GraphClientOptions {
  /** e.g. https://graph.facebook.com or the sandbox http://127.0.0.1:3100; a path prefix is kept. */
  baseUrl: string;
  /** Keep-alive sockets to the Graph host. */
  connections?: number;
  /** Per-request budget for headers and for body silence, in ms. */
  timeoutMs?: number;
  pipelining?: number;
  keepAliveTimeoutMs?: number;
}

/**
 * How a call authenticates as a Page. With `appSecret` (the secret of the Meta app the Page token belongs to)
 * the client adds `appsecret_proof` (messenger-platform.md §3.3), computed once per token and cached. A
 * precomputed `appSecretProof` wins over `appSecret`. Without either, no proof is sent: Meta then refuses the
 * call if the app has "Require App Secret" on.
 */
export interface PageAuth {
  accessToken: string;
  appSecret?: string;
  appSecretProof?: string;
}

export interface SendMessageInput extends PageAuth {
  pageId: string;
  /** "v24.0" (a missing leading "v" is added). */
  graphVersion: string;
  /** A built request, or its JSON text when the caller serialises once and reuses it. */
  body: SendRequestBody | string;
  /** Needed only when `body` is a string: classifies code 100 as token_invalid for token sends. */
  recipientKind?: RecipientKind;
}

export type SendOutcome =
  | { ok: true; messageId: string; recipientId?: string; httpStatus: number }
  | { ok: false; error: GraphApiError; failure: FailureClass; httpStatus: number | null };

export interface ListTokensInput extends PageAuth {
  pageId: string;
  graphVersion: string;
  after?: string;
  limit?: number;
}

/** One item of GET /{page-id}/notification_message_tokens (messenger-platform.md §2.4), camel-cased. */
export interface NotificationMessageTokenInfo {
  token: string;
  recipientId: string;
  reoptin?: 'ENABLED' | 'DISABLED';
  createdAt?: Date;
  expiresAt?: Date;
  userTokenStatus?: 'REFRESHED' | 'NOT_REFRESHED';
  topicTitle?: string;
  timezone?: string;
  nextEligibleAt?: Date;
}

export interface TokenPage {
  tokens: NotificationMessageTokenInfo[];
  nextCursor?: string;
}

export interface PageCallInput extends PageAuth {
  graphVersion: string;
}

/** The answer of a read or settings call: the parsed value, or Meta's error classified like a send failure. */
export type GraphResult<T> =
  | { ok: true; value: T; httpStatus: number }
  | { ok: false; error: GraphApiError; failure: FailureClass; httpStatus: number | null };

export interface SubscribedApp {
  id?: string;
  name?: string;
  subscribedFields: string[];
}

export interface GraphClient {
  sendMessage(input: SendMessageInput): Promise<SendOutcome>;
  listNotificationMessageTokens(input: ListTokensInput): Promise<TokenPage>;
  /** GET /me?fields=id,name with the Page token: which Page the token belongs to (the doctor's token check). */
  getPageIdentity(input: PageCallInput): Promise<GraphResult<{ id: string; name?: string }>>;
  /** GET /{page-id}/subscribed_apps: the apps subscribed to the Page's webhooks and their fields. */
  getSubscribedApps(input: PageCallInput & { pageId: string }): Promise<GraphResult<SubscribedApp[]>>;
  /** POST /{page-id}/subscribed_apps?subscribed_fields=…: subscribes the token's app to the Page's webhooks. */
  subscribeApp(input: PageCallInput & { pageId: string; fields: readonly string[] }): Promise<GraphResult<{ success: boolean }>>;
  /** GET /{psid}?fields=…: a user's profile as this Page sees it (100/33 for a PSID the Page cannot see). */
  getUserProfile(input: PageCallInput & { psid: string; fields?: readonly string[] }): Promise<GraphResult<Record<string, unknown>>>;
  close(): Promise<void>;
}

const successSchema = z.object({
  message_id: z.string().min(1),
  recipient_id: z.string().optional(),
  recipient: z.string().optional(),
});

const errorSchema = z.object({
  error: z.object({
    message: z.string().default('Unknown Graph API error'),
    type: z.string().optional(),
    code: z.coerce.number().int().optional(),
    error_subcode: z.coerce.number().int().optional(),
    fbtrace_id: z.string().optional(),
  }),
});

const identitySchema = z.object({ id: z.union([z.string(), z.number()]).transform(String), name: z.string().optional() });
const subscribedAppsSchema = z.object({
  data: z.array(
    z.object({
      id: z.union([z.string(), z.number()]).transform(String).optional(),
      name: z.string().optional(),
      subscribed_fields: z.array(z.string()).default([]),
    }),
  ),
});
const successFlagSchema = z.object({ success: z.boolean() });
const profileSchema = z.record(z.string(), z.unknown());

const timestampish = z.union([z.number(), z.string().regex(/^\d+$/)]).optional();

const tokenListSchema = z.object({
  data: z.array(
    z.object({
      notification_messages_token: z.string(),
      recipient_id: z.union([z.string(), z.number()]).transform(String),
      notification_messages_reoptin: z.enum(['ENABLED', 'DISABLED']).optional(),
      creation_timestamp: timestampish,
      token_expiry_timestamp: timestampish,
      user_token_status: z.enum(['REFRESHED', 'NOT_REFRESHED']).optional(),
      topic_title: z.string().optional(),
      notification_messages_timezone: z.string().optional(),
      next_eligible_time: timestampish,
    }),
  ),
  paging: z
    .object({ cursors: z.object({ after: z.string().optional() }).partial().optional(), next: z.string().optional() })
    .optional(),
});

/** Graph sends Unix seconds; some payloads carry milliseconds. Anything below 10^11 is read as seconds. */
export function toDate(value: number | string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const numeric = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(numeric)) return undefined;
  return new Date(numeric < 1e11 ? numeric * 1000 : numeric);
}

function normaliseVersion(version: string): string {
  return version.startsWith('v') ? version : `v${version}`;
}

function parseRetryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

function syntheticError(message: string): GraphApiError {
  return { message, code: null, subcode: null };
}

function parseGraphError(json: unknown, httpStatus: number): GraphApiError {
  const parsed = errorSchema.safeParse(json);
  if (!parsed.success) return syntheticError(`HTTP ${httpStatus} without a Graph error body`);
  const { message, type, code, error_subcode, fbtrace_id } = parsed.data.error;
  const error: GraphApiError = { message, code: code ?? null, subcode: error_subcode ?? null };
  if (type !== undefined) error.type = type;
  if (fbtrace_id !== undefined) error.fbtraceId = fbtrace_id;
  return error;
}

function classifyError(error: GraphApiError, httpStatus: number, extra: { recipientKind?: RecipientKind; retryAfterMs?: number | undefined } = {}): FailureClass {
  const input: Parameters<typeof classifyGraphError>[0] = { code: error.code, subcode: error.subcode, httpStatus, message: error.message };
  if (error.type !== undefined) input.type = error.type;
  if (extra.recipientKind !== undefined) input.recipientKind = extra.recipientKind;
  if (extra.retryAfterMs !== undefined) input.retryAfterMs = extra.retryAfterMs;
  return classifyGraphError(input);
}

function describeNetworkError(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${cause.message}` : cause.message;
  }
  return String(cause);
}

/**
 * A Graph API client over one keep-alive undici Pool. The access token travels in the Authorization header,
 * never in the URL, so it cannot leak into access logs or error messages.
 */
export function createGraphClient({
  baseUrl,
  connections = 128,
  timeoutMs = 10_000,
  pipelining = 1,
  keepAliveTimeoutMs = 30_000,
}: GraphClientOptions): GraphClient {
  const url = new URL(baseUrl);
  const prefix = url.pathname.replace(/\/+$/, '');
  const pool = new Pool(url.origin, {
    connections,
    pipelining,
    keepAliveTimeout: keepAliveTimeoutMs,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });

  const proofs = new AppSecretProofs();

  /** `?appsecret_proof=…` (or `&` after an existing query) when the call carries an app secret or a proof. */
  function withProof(path: string, auth: PageAuth): string {
    const proof = auth.appSecretProof ?? (auth.appSecret ? proofs.of(auth.accessToken, auth.appSecret) : undefined);
    if (proof === undefined) return path;
    return `${path}${path.includes('?') ? '&' : '?'}appsecret_proof=${proof}`;
  }

  function graphPath(version: string, node: string, query?: URLSearchParams): string {
    const search = query && query.size > 0 ? `?${query.toString()}` : '';
    return `${prefix}/${normaliseVersion(version)}/${node}${search}`;
  }

  /** One GET/POST returning the parsed JSON as T, or Meta's error classified. */
  async function call<T>(
    method: 'GET' | 'POST',
    path: string,
    auth: PageAuth,
    schema: z.ZodType<T>,
    what: string,
  ): Promise<GraphResult<T>> {
    let httpStatus: number;
    let json: unknown;
    try {
      const response = await pool.request({ method, path: withProof(path, auth), headers: ['authorization', `Bearer ${auth.accessToken}`] });
      httpStatus = response.statusCode;
      json = await response.body.json().catch(() => undefined);
    } catch (cause) {
      return { ok: false, error: syntheticError(`${what} failed: ${describeNetworkError(cause)}`), failure: classifyGraphError({ code: null }), httpStatus: null };
    }
    if (httpStatus >= 300) {
      const error = parseGraphError(json, httpStatus);
      return { ok: false, error, failure: classifyError(error, httpStatus), httpStatus };
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const error = syntheticError(`${what} answered an unexpected shape: ${parsed.error.issues[0]?.message ?? ''}`);
      return { ok: false, error, failure: classifyGraphError({ code: null, httpStatus }), httpStatus };
    }
    return { ok: true, value: parsed.data, httpStatus };
  }

  async function sendMessage(input: SendMessageInput): Promise<SendOutcome> {
    const { pageId, accessToken, graphVersion, body } = input;
    const payload = typeof body === 'string' ? body : JSON.stringify(body);
    let httpStatus: number;
    let json: unknown;
    let retryAfterMs: number | undefined;
    try {
      const response = await pool.request({
        method: 'POST',
        path: withProof(graphPath(graphVersion, `${encodeURIComponent(pageId)}/messages`), input),
        headers: ['content-type', 'application/json', 'authorization', `Bearer ${accessToken}`],
        body: payload,
      });
      httpStatus = response.statusCode;
      if (httpStatus >= 400) retryAfterMs = parseRetryAfter(response.headers['retry-after']);
      const text = await response.body.text();
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    } catch (cause) {
      const error = syntheticError(`Send API request failed: ${describeNetworkError(cause)}`);
      return { ok: false, error, failure: classifyGraphError({ code: null }), httpStatus: null };
    }

    if (httpStatus < 300) {
      const parsed = successSchema.safeParse(json);
      if (parsed.success) {
        const recipientId = parsed.data.recipient_id ?? parsed.data.recipient;
        return recipientId === undefined
          ? { ok: true, messageId: parsed.data.message_id, httpStatus }
          : { ok: true, messageId: parsed.data.message_id, recipientId, httpStatus };
      }
      const error = syntheticError(`HTTP ${httpStatus} without message_id in the response`);
      return { ok: false, error, failure: classifyGraphError({ code: null, httpStatus }), httpStatus };
    }

    const error = parseGraphError(json, httpStatus);
    const recipientKind = input.recipientKind ?? (typeof body === 'string' ? 'unknown' : recipientKindOf(body));
    const failure = classifyError(error, httpStatus, { recipientKind, retryAfterMs });
    return { ok: false, error, failure, httpStatus };
  }

  async function listNotificationMessageTokens(input: ListTokensInput): Promise<TokenPage> {
    const query = new URLSearchParams();
    if (input.after !== undefined) query.set('after', input.after);
    if (input.limit !== undefined) query.set('limit', String(input.limit));
    const search = query.size > 0 ? `?${query.toString()}` : '';
    let httpStatus: number;
    let json: unknown;
    try {
      const response = await pool.request({
        method: 'GET',
        path: withProof(`${prefix}/${normaliseVersion(input.graphVersion)}/${encodeURIComponent(input.pageId)}/notification_message_tokens${search}`, input),
        headers: ['authorization', `Bearer ${input.accessToken}`],
      });
      httpStatus = response.statusCode;
      json = await response.body.json().catch(() => undefined);
    } catch (cause) {
      const error = syntheticError(`Token listing failed: ${describeNetworkError(cause)}`);
      throw new GraphRequestError(error, classifyGraphError({ code: null }), null);
    }
    if (httpStatus >= 300) {
      const error = parseGraphError(json, httpStatus);
      throw new GraphRequestError(error, classifyError(error, httpStatus), httpStatus);
    }
    const parsed = tokenListSchema.safeParse(json);
    if (!parsed.success) {
      const error = syntheticError(`Token listing answered an unexpected shape: ${parsed.error.issues[0]?.message ?? ''}`);
      throw new GraphRequestError(error, classifyGraphError({ code: null, httpStatus }), httpStatus);
    }
    const tokens = parsed.data.data.map((item): NotificationMessageTokenInfo => {
      const info: NotificationMessageTokenInfo = { token: item.notification_messages_token, recipientId: item.recipient_id };
      if (item.notification_messages_reoptin) info.reoptin = item.notification_messages_reoptin;
      const createdAt = toDate(item.creation_timestamp);
      if (createdAt) info.createdAt = createdAt;
      const expiresAt = toDate(item.token_expiry_timestamp);
      if (expiresAt) info.expiresAt = expiresAt;
      if (item.user_token_status) info.userTokenStatus = item.user_token_status;
      if (item.topic_title !== undefined) info.topicTitle = item.topic_title;
      if (item.notification_messages_timezone !== undefined) info.timezone = item.notification_messages_timezone;
      const nextEligibleAt = toDate(item.next_eligible_time);
      if (nextEligibleAt) info.nextEligibleAt = nextEligibleAt;
      return info;
    });
    const nextCursor = parsed.data.paging?.next ? parsed.data.paging.cursors?.after : undefined;
    return nextCursor ? { tokens, nextCursor } : { tokens };
  }

  return {
    sendMessage,
    listNotificationMessageTokens,
    getPageIdentity: (input) => call('GET', graphPath(input.graphVersion, 'me', new URLSearchParams({ fields: 'id,name' })), input, identitySchema, 'GET /me'),
    async getSubscribedApps(input) {
      const result = await call('GET', graphPath(input.graphVersion, `${encodeURIComponent(input.pageId)}/subscribed_apps`), input, subscribedAppsSchema, 'GET subscribed_apps');
      if (!result.ok) return result;
      const apps = result.value.data.map((app): SubscribedApp => {
        const view: SubscribedApp = { subscribedFields: app.subscribed_fields };
        if (app.id !== undefined) view.id = app.id;
        if (app.name !== undefined) view.name = app.name;
        return view;
      });
      return { ok: true, value: apps, httpStatus: result.httpStatus };
    },
    subscribeApp: (input) =>
      call(
        'POST',
        graphPath(input.graphVersion, `${encodeURIComponent(input.pageId)}/subscribed_apps`, new URLSearchParams({ subscribed_fields: input.fields.join(',') })),
        input,
        successFlagSchema,
        'POST subscribed_apps',
      ),
    getUserProfile: (input) =>
      call(
        'GET',
        graphPath(input.graphVersion, encodeURIComponent(input.psid), new URLSearchParams({ fields: (input.fields ?? ['first_name', 'last_name', 'profile_pic']).join(',') })),
        input,
        profileSchema,
        'GET profile',
      ),
    close: () => pool.close(),
  };
}
