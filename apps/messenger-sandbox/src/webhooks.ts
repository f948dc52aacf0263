import { Agent, request } from 'undici';
import { z } from 'zod';
import { signBody, signBodySha1, toMetaJson } from './meta-json.js';
import {
  Conflict,
  NotFound,
  type Frequency,
  type IssuedToken,
  type PageRecord,
  type SandboxState,
  type UserRecord,
  type UserThreadEvent,
} from './state.js';
import { isValidTimeZone } from './zoned-time.js';

/** What the sandbox, playing a Messenger user, can do. Each becomes one `messaging` item of a webhook. */
const pageAndUser = { pageId: z.string().min(1), psid: z.string().min(1) };

export const userActionSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('message'), ...pageAndUser, text: z.string().min(1).max(2000) }),
  z.object({ type: z.literal('postback'), ...pageAndUser, payload: z.string().min(1), title: z.string().default('Get Started') }),
  z.object({
    type: z.literal('one_time_optin'),
    ...pageAndUser,
    /** mid of the "Notify me" card being answered; payload and title then come from that card. */
    inReplyTo: z.string().optional(),
    payload: z.string().min(1).optional(),
    title: z.string().optional(),
    expiresAt: z.number().int().optional(),
  }),
  z.object({
    type: z.literal('recurring_optin'),
    ...pageAndUser,
    inReplyTo: z.string().optional(),
    /** For a carousel card: which element the user chose. */
    elementIndex: z.number().int().min(0).max(4).default(0),
    payload: z.string().min(1).optional(),
    title: z.string().max(65).optional(),
    frequency: z.enum(['DAILY', 'WEEKLY', 'MONTHLY']).optional(),
    timezone: z.string().refine(isValidTimeZone, 'must be an IANA time zone').optional(),
    reoptin: z.enum(['ENABLED', 'DISABLED']).optional(),
    expiresAt: z.number().int().optional(),
  }),
  z.object({
    type: z.literal('recurring_status'),
    pageId: z.string().min(1),
    /** The topic's token; the PSID is taken from it. */
    token: z.string().min(1),
    status: z.enum(['STOP', 'RESUME']),
    /** Meta's docs write "STOP NOTIFICATIONS"; many integrations expect "STOP_NOTIFICATIONS". */
    spelling: z.enum(['space', 'underscore']).default('space'),
  }),
  z.object({ type: z.literal('checkbox_optin'), pageId: z.string().min(1), userRef: z.string().min(1).optional(), ref: z.string().optional() }),
  /**
   * Meta's message_deliveries: the person's Messenger shows the Page's messages up to `watermark` (default now);
   * `mids` default to those messages not reported delivered before.
   */
  z.object({ type: z.literal('delivery'), ...pageAndUser, watermark: z.number().int().nonnegative().optional(), mids: z.array(z.string().min(1)).max(100).optional() }),
  /** Meta's message_reads: the person read every message of the Page up to `watermark` (default now). */
  z.object({ type: z.literal('read'), ...pageAndUser, watermark: z.number().int().nonnegative().optional() }),
]);

export type UserAction = z.input<typeof userActionSchema>;
type ParsedAction = z.output<typeof userActionSchema>;

export interface PerformedAction {
  pageId: string;
  psid?: string;
  userRef?: string;
  item: Record<string, unknown>;
  token?: IssuedToken;
}

function templateOf(message: Record<string, unknown>): Record<string, unknown> | null {
  const attachment = message.attachment as { type?: string; payload?: Record<string, unknown> } | undefined;
  return attachment?.type === 'template' && attachment.payload ? attachment.payload : null;
}

function cardFor(user: UserRecord, mid: string, templateType: string): Record<string, unknown> {
  const card = user.thread.find((item) => item.from === 'page' && item.mid === mid);
  const template = card && card.from === 'page' ? templateOf(card.message) : null;
  if (!template || template.template_type !== templateType) throw new NotFound(`no ${templateType} card ${mid} in this thread`);
  if (user.answered?.has(mid)) throw new Conflict(`card ${mid} was already answered`);
  return template;
}

function pushUserEvent(state: SandboxState, user: UserRecord, event: Omit<UserThreadEvent, 'from' | 'seq' | 'at'>): UserThreadEvent {
  const full: UserThreadEvent = { from: 'user', seq: state.nextSeq(), at: state.now(), ...event };
  user.thread.push(full);
  return full;
}

/** Applies the user's action to the sandbox state (window, tokens, stop state) and returns the webhook item. */
export function performUserAction(state: SandboxState, action: ParsedAction): PerformedAction {
  const page = state.getPage(action.pageId);
  const now = state.now();
  const base = (psid: string) => ({ sender: { id: psid }, recipient: { id: page.id }, timestamp: now });

  switch (action.type) {
    case 'message': {
      const user = state.getOrCreateUser(page, action.psid);
      user.lastUserMessageAt = now;
      const mid = state.nextMid();
      pushUserEvent(state, user, { kind: 'text', text: action.text, mid });
      return { pageId: page.id, psid: user.psid, item: { ...base(user.psid), message: { mid, text: action.text } } };
    }
    case 'postback': {
      const user = state.getOrCreateUser(page, action.psid);
      user.lastUserMessageAt = now; // a CTA tap opens the standard window
      const mid = state.nextMid();
      pushUserEvent(state, user, { kind: 'postback', text: action.title, mid });
      return {
        pageId: page.id,
        psid: user.psid,
        item: { ...base(user.psid), postback: { title: action.title, payload: action.payload, mid } },
      };
    }
    case 'one_time_optin': {
      const user = state.getUser(page, action.psid);
      let payload = action.payload;
      let title = action.title;
      if (action.inReplyTo) {
        const card = cardFor(user, action.inReplyTo, 'one_time_notif_req');
        payload ??= String(card.payload);
        title ??= String(card.title);
      }
      if (payload === undefined) throw new BadAction('one_time_optin needs payload or inReplyTo');
      const token = state.issueOneTimeToken(page, user, payload, title, action.expiresAt);
      if (action.inReplyTo) (user.answered ??= new Set()).add(action.inReplyTo);
      pushUserEvent(state, user, { kind: 'one_time_optin', text: title ?? payload, ...(action.inReplyTo ? { inReplyTo: action.inReplyTo } : {}) });
      return {
        pageId: page.id,
        psid: user.psid,
        token,
        item: { ...base(user.psid), optin: { type: 'one_time_notif_req', payload, one_time_notif_token: token.token } },
      };
    }
    case 'recurring_optin': {
      const user = state.getUser(page, action.psid);
      let { payload, title, frequency, timezone, reoptin } = action;
      if (action.inReplyTo) {
        const card = cardFor(user, action.inReplyTo, 'notification_messages');
        const element = Array.isArray(card.elements) ? (card.elements[action.elementIndex] as Record<string, unknown> | undefined) : undefined;
        if (Array.isArray(card.elements) && !element) throw new BadAction(`card has no element ${action.elementIndex}`);
        const source = element ?? card;
        payload ??= String(source.payload);
        title ??= card.title === undefined ? undefined : String(card.title);
        frequency ??= (source.notification_messages_frequency as Frequency | undefined) ?? undefined;
        timezone ??= card.notification_messages_timezone as string | undefined;
        reoptin ??= card.notification_messages_reoptin as 'ENABLED' | 'DISABLED' | undefined;
      }
      if (payload === undefined) throw new BadAction('recurring_optin needs payload or inReplyTo');
      const input: Parameters<SandboxState['issueRecurringToken']>[2] = { payload };
      if (title !== undefined) input.title = title;
      if (frequency !== undefined) input.frequency = frequency;
      if (timezone !== undefined) input.timezone = timezone;
      if (reoptin !== undefined) input.reoptin = reoptin;
      if (action.expiresAt !== undefined) input.expiresAt = action.expiresAt;
      const token = state.issueRecurringToken(page, user, input);
      if (action.inReplyTo) (user.answered ??= new Set()).add(action.inReplyTo);
      pushUserEvent(state, user, { kind: 'recurring_optin', text: token.title, ...(action.inReplyTo ? { inReplyTo: action.inReplyTo } : {}) });
      const optin: Record<string, unknown> = {
        type: 'notification_messages',
        payload: token.payload,
        title: token.title,
        notification_messages_token: token.token,
        notification_messages_frequency: token.frequency,
        // Meta documents a Unix timestamp; seconds, as a string, as in its sample.
        token_expiry_timestamp: String(Math.floor(token.expiresAt / 1000)),
        user_token_status: token.userTokenStatus,
      };
      if (token.timezone !== undefined) optin.notification_messages_timezone = token.timezone;
      return { pageId: page.id, psid: user.psid, token, item: { ...base(user.psid), optin } };
    }
    case 'recurring_status': {
      const token = state.tokens.get(action.token);
      if (!token || token.kind !== 'RECURRING' || token.pageId !== page.id) throw new NotFound('no recurring token like that on this page');
      token.stopped = action.status === 'STOP';
      const user = page.users.get(token.psid);
      if (user) pushUserEvent(state, user, { kind: action.status === 'STOP' ? 'stop' : 'resume', text: token.title });
      const wire = `${action.status}${action.spelling === 'space' ? ' ' : '_'}NOTIFICATIONS`;
      return {
        pageId: page.id,
        psid: token.psid,
        token,
        item: {
          ...base(token.psid),
          optin: {
            type: 'notification_messages',
            payload: token.payload,
            title: token.title,
            notification_messages_token: token.token,
            notification_messages_status: wire,
          },
        },
      };
    }
    case 'delivery': {
      const user = state.getUser(page, action.psid);
      const watermark = action.watermark ?? now;
      const since = user.deliveredUpTo ?? -1;
      const mids =
        action.mids ?? user.thread.filter((item) => item.from === 'page' && item.at > since && item.at <= watermark).map((item) => item.mid as string);
      user.deliveredUpTo = Math.max(since, watermark);
      return { pageId: page.id, psid: user.psid, item: { ...base(user.psid), delivery: { mids, watermark } } };
    }
    case 'read': {
      const user = state.getUser(page, action.psid);
      const watermark = action.watermark ?? now;
      user.readUpTo = Math.max(user.readUpTo ?? -1, watermark);
      user.deliveredUpTo = Math.max(user.deliveredUpTo ?? -1, watermark);
      return { pageId: page.id, psid: user.psid, item: { ...base(user.psid), read: { watermark } } };
    }
    case 'checkbox_optin': {
      const userRef = action.userRef ?? state.newToken().slice(0, 20);
      const record = { userRef, pageId: page.id, optedInAt: now, messages: [], ...(action.ref !== undefined ? { ref: action.ref } : {}) };
      page.userRefs.set(userRef, record);
      const optin: Record<string, unknown> = { user_ref: userRef };
      if (action.ref !== undefined) optin.ref = action.ref;
      // Checkbox opt-ins carry no sender: the PSID is unknown until the person replies.
      return { pageId: page.id, userRef, item: { recipient: { id: page.id }, timestamp: now, optin } };
    }
  }
}

export class BadAction extends Error {}

export interface DeliveryAttempt {
  at: number;
  status: number | null;
  body?: string;
  error?: string;
}

export interface WebhookDelivery {
  id: number;
  url: string;
  body: string;
  signature: string;
  /** Legacy X-Hub-Signature (sha1=…), sent next to X-Hub-Signature-256 as Meta does. */
  legacySignature: string;
  attempts: DeliveryAttempt[];
}

const KEEP_DELIVERIES = 500;
const RESPONSE_PREVIEW = 2_000;

/** Builds, signs and POSTs webhook bodies; keeps the last deliveries so they can be redelivered byte for byte. */
export class WebhookDispatcher {
  private readonly agent: Agent;
  private readonly deliveries = new Map<number, WebhookDelivery>();
  private nextId = 0;

  constructor(
    private readonly state: SandboxState,
    public url: string | undefined,
    timeoutMs: number,
  ) {
    this.agent = new Agent({ headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 10_000 });
  }

  /** Groups items into a Meta body: one entry per item, or one entry per Page holding all its items. */
  buildBody(actions: PerformedAction[], layout: 'entries' | 'messaging'): Record<string, unknown> {
    const time = this.state.now();
    if (layout === 'entries') {
      return { object: 'page', entry: actions.map((a) => ({ id: a.pageId, time, messaging: [a.item] })) };
    }
    const byPage = new Map<string, Record<string, unknown>[]>();
    for (const action of actions) {
      const items = byPage.get(action.pageId) ?? [];
      items.push(action.item);
      byPage.set(action.pageId, items);
    }
    return { object: 'page', entry: [...byPage].map(([id, messaging]) => ({ id, time, messaging })) };
  }

  async send(page: PageRecord, body: Record<string, unknown>, options: { retries?: number; url?: string } = {}): Promise<WebhookDelivery> {
    const text = toMetaJson(body);
    const delivery: WebhookDelivery = {
      id: ++this.nextId,
      url: options.url ?? this.url ?? '',
      body: text,
      signature: signBody(text, page.appSecret),
      legacySignature: signBodySha1(text, page.appSecret),
      attempts: [],
    };
    this.deliveries.set(delivery.id, delivery);
    if (this.deliveries.size > KEEP_DELIVERIES) {
      const oldest = this.deliveries.keys().next().value;
      if (oldest !== undefined) this.deliveries.delete(oldest);
    }
    await this.attempt(delivery);
    // Meta retries a failed delivery immediately "a few more times" with the same bytes.
    for (let i = 0; i < (options.retries ?? 0) && !isSuccess(delivery); i++) await this.attempt(delivery);
    return delivery;
  }

  async redeliver(id: number): Promise<WebhookDelivery> {
    const delivery = this.deliveries.get(id);
    if (!delivery) throw new NotFound(`delivery ${id} is not kept (only the last ${KEEP_DELIVERIES} are)`);
    await this.attempt(delivery);
    return delivery;
  }

  list(): WebhookDelivery[] {
    return [...this.deliveries.values()];
  }

  clear(): void {
    this.deliveries.clear();
  }

  private async attempt(delivery: WebhookDelivery): Promise<void> {
    const attempt: DeliveryAttempt = { at: this.state.now(), status: null };
    delivery.attempts.push(attempt);
    if (!delivery.url) {
      attempt.error = 'no webhook URL configured';
      return;
    }
    try {
      const response = await request(delivery.url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': delivery.signature,
          'x-hub-signature': delivery.legacySignature,
          'user-agent': 'facebookexternalua',
        },
        body: delivery.body,
      });
      attempt.status = response.statusCode;
      attempt.body = (await response.body.text()).slice(0, RESPONSE_PREVIEW);
    } catch (error) {
      attempt.error = describe(error);
    }
  }

  /** Meta's subscription handshake against the callback: 200 with the challenge echoed means verified. */
  async verify(verifyToken: string, challenge: string, url = this.url): Promise<{ url: string; status: number | null; body?: string; error?: string; verified: boolean; challenge: string }> {
    if (!url) return { url: '', status: null, error: 'no webhook URL configured', verified: false, challenge };
    const target = new URL(url);
    target.searchParams.set('hub.mode', 'subscribe');
    target.searchParams.set('hub.verify_token', verifyToken);
    target.searchParams.set('hub.challenge', challenge);
    try {
      const response = await request(target, { method: 'GET', dispatcher: this.agent });
      const body = (await response.body.text()).slice(0, RESPONSE_PREVIEW);
      return { url, status: response.statusCode, body, verified: response.statusCode === 200 && body === challenge, challenge };
    } catch (error) {
      return { url, status: null, error: describe(error), verified: false, challenge };
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

function isSuccess(delivery: WebhookDelivery): boolean {
  const last = delivery.attempts.at(-1);
  return last?.status !== undefined && last.status !== null && last.status >= 200 && last.status < 300;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
