import { randomBytes } from 'node:crypto';
import { createPrng, hashString } from './prng.js';
import { addMonths, startOfNextMonth, startOfNextWeek } from './zoned-time.js';

export const DAY_MS = 24 * 60 * 60 * 1000;
export const WINDOW_MS = DAY_MS;
export const HUMAN_AGENT_WINDOW_MS = 7 * DAY_MS;
export const OPT_IN_DEDUP_MS = 7 * DAY_MS;
export const ONE_TIME_TOKEN_LIFETIME_MS = 365 * DAY_MS;
/** Meta's default title for a recurring opt-in request without one (since Feb 21, 2023). */
export const DEFAULT_RECURRING_TITLE = 'Updates and promotions';
/** From this instant the CONFIRMED_EVENT_UPDATE / POST_PURCHASE_UPDATE / ACCOUNT_UPDATE tags return 100. */
export const DEAD_TAGS_FROM = Date.UTC(2026, 3, 27);
/** From this instant the DAILY cooldown is 48h under the `by-date` policy. */
export const COOLDOWN_48H_FROM = Date.UTC(2025, 8, 1);

export type Frequency = 'DAILY' | 'WEEKLY' | 'MONTHLY';
/** Token lifetimes from the 2022 doc: DAILY 6 months, WEEKLY 9, MONTHLY 12. */
const LIFETIME_MONTHS: Record<Frequency, number> = { DAILY: 6, WEEKLY: 9, MONTHLY: 12 };

/**
 * `meta-2022`: one message per token per 24h (the rules the product was specified with).
 * `meta-2025-09`: 48h, as from 2025-09-01. `by-date`: whichever applied at the sandbox clock's "now".
 * WEEKLY/MONTHLY tokens always use calendar weeks (Mon 00:00) and months in the Page's time zone.
 */
export type CooldownPolicy = 'meta-2022' | 'meta-2025-09' | 'by-date' | { dailyCooldownHours: number };

export interface ErrorFault {
  code: number;
  subcode?: number | null;
  /** Probability per send, 0..1. */
  rate: number;
  message?: string;
  httpStatus?: number;
}

export interface FaultSettings {
  latencyMs: number;
  /** Extra uniform random latency 0..latencyJitterMs (seeded). */
  latencyJitterMs: number;
  errors: ErrorFault[];
  /** With `probability` per send, the next `length` sends (this one included) are throttled with `code`. */
  throttleBursts: { probability: number; length: number; code: number } | null;
}

export interface RateLimit {
  /** Sends per second per Page; null lifts the limit. */
  perSecond: number | null;
  /** Code answered when exceeded: 613 (default), 4 or 32. */
  code: number;
  available: number;
  refilledAt: number;
}

export type RecipientKind = 'id' | 'user_ref' | 'one_time_notif_token' | 'notification_messages_token';

export interface AcceptedMessage {
  from: 'page';
  seq: number;
  mid: string;
  pageId: string;
  psid?: string;
  userRef?: string;
  recipientKind: RecipientKind;
  /** The token's fingerprint is not needed here: tests read which token kind and topic carried the message. */
  tokenKind?: 'ONE_TIME' | 'RECURRING';
  topic?: string;
  messagingType?: string;
  tag?: string;
  message: Record<string, unknown>;
  at: number;
}

export interface UserThreadEvent {
  from: 'user';
  seq: number;
  kind: 'text' | 'postback' | 'one_time_optin' | 'recurring_optin' | 'stop' | 'resume';
  text: string;
  mid?: string;
  inReplyTo?: string;
  at: number;
}

export type ThreadItem = AcceptedMessage | UserThreadEvent;

export interface UserRecord {
  psid: string;
  pageId: string;
  name: string;
  lastUserMessageAt: number | null;
  blocked: boolean;
  thread: ThreadItem[];
  /** `${template_type}\u0000${title}` → when that opt-in request was last accepted (7-day dedup). */
  optInRequests: Map<string, number> | null;
  /** mids of opt-in cards the user already answered. */
  answered: Set<string> | null;
  /** This user's recurring tokens, so the user page never scans the whole Page. */
  topics: RecurringToken[] | null;
  /** Watermarks (ms) of the last delivery and read receipts this user's Messenger sent (message_deliveries/_reads). */
  deliveredUpTo?: number;
  readUpTo?: number;
}

export interface UserRefRecord {
  userRef: string;
  pageId: string;
  ref?: string;
  optedInAt: number;
  messages: AcceptedMessage[];
}

export interface OneTimeToken {
  kind: 'ONE_TIME';
  token: string;
  pageId: string;
  psid: string;
  payload: string;
  title?: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

export interface RecurringToken {
  kind: 'RECURRING';
  seq: number;
  token: string;
  pageId: string;
  psid: string;
  payload: string;
  title: string;
  frequency: Frequency;
  timezone?: string;
  reoptin: 'ENABLED' | 'DISABLED';
  createdAt: number;
  expiresAt: number;
  userTokenStatus: 'REFRESHED' | 'NOT_REFRESHED';
  stopped: boolean;
  lastSentAt: number | null;
  nextEligibleAt: number | null;
}

export type IssuedToken = OneTimeToken | RecurringToken;

export interface PageRecord {
  id: string;
  name: string;
  accessToken: string;
  appSecret: string;
  timezone: string;
  cooldownPolicy: CooldownPolicy;
  /** NON_PROMOTIONAL_SUBSCRIPTION is only for News Page Index pages. */
  newsPage: boolean;
  /** The app's "Require App Secret" setting: every Graph call must carry a valid appsecret_proof. On by default. */
  requireAppSecretProof: boolean;
  /** The Page's subscription of its app (GET/POST /{page-id}/subscribed_apps); [] = not subscribed. */
  subscribedFields: string[];
  users: Map<string, UserRecord>;
  userRefs: Map<string, UserRefRecord>;
  messages: AcceptedMessage[];
  recurringTokens: RecurringToken[];
  recurringByKey: Map<string, RecurringToken>;
  faults: FaultSettings;
  random: () => number;
  throttleBurstRemaining: number;
  throttleBurstCode: number;
  rate: RateLimit;
  counters: { accepted: number; rejected: Record<string, number> };
}

export interface CreatePageInput {
  id?: string;
  name?: string;
  accessToken?: string;
  appSecret?: string;
  timezone?: string;
  cooldownPolicy?: CooldownPolicy;
  sendRatePerSecond?: number | null;
  newsPage?: boolean;
  requireAppSecretProof?: boolean;
  subscribedFields?: string[];
}

/** The app every sandbox Page belongs to, as GET /{page-id}/subscribed_apps names it. */
export const SANDBOX_APP = { id: '900000000000001', name: 'Renotify (sandbox app)', category: 'Business', link: 'https://example.com/renotify' } as const;
/** Webhook fields a sandbox Page's app is subscribed to unless told otherwise: the ones Renotify needs. */
export const DEFAULT_SUBSCRIBED_FIELDS = ['messages', 'messaging_optins', 'messaging_postbacks'] as const;
/** Fields POST /{page-id}/subscribed_apps accepts (a subset of Meta's Page webhook fields). */
export const PAGE_WEBHOOK_FIELDS = [
  'messages',
  'messaging_optins',
  'messaging_postbacks',
  'message_deliveries',
  'message_reads',
  'message_echoes',
  'messaging_referrals',
  'messaging_handovers',
  'messaging_policy_enforcement',
  'message_reactions',
  'feed',
] as const;

export interface CreateUserInput {
  psid?: string;
  name?: string;
  /** Default true: a user exists because they wrote to the Page, which opens the 24h window. */
  windowOpen?: boolean;
  lastUserMessageAt?: number | null;
}

export const DEMO_PAGE = {
  id: '100000000000001',
  name: 'Demo Shoe Shop',
  accessToken: 'demo-page-access-token',
  appSecret: 'demo-app-secret',
} as const;
export const DEMO_USER_PSID = 'demo-user-1';

export interface SandboxStateOptions {
  seed?: number;
  cooldownPolicy?: CooldownPolicy;
  /** Per-Page Send API rate for new Pages; Meta's documented figure is 300/s. null = unlimited. */
  defaultSendRatePerSecond?: number | null;
  seedDemo?: boolean;
  /** Monotonic ms clock for the rate limiter (real time by default; tests freeze it). */
  rateClock?: () => number;
  /** Keep every accepted message (Page log, user threads). Default true; see SandboxOptions.keepMessages. */
  keepMessages?: boolean;
}

const NO_FAULTS = (): FaultSettings => ({ latencyMs: 0, latencyJitterMs: 0, errors: [], throttleBursts: null });

export class SandboxState {
  readonly pages = new Map<string, PageRecord>();
  readonly pagesByAccessToken = new Map<string, PageRecord>();
  readonly tokens = new Map<string, IssuedToken>();
  private seq = 0;
  private clockOffsetMs = 0;
  readonly seed: number;
  readonly defaultCooldownPolicy: CooldownPolicy;
  readonly defaultSendRatePerSecond: number | null;
  readonly seedDemo: boolean;
  private readonly rateClock: () => number;
  readonly keepMessages: boolean;

  constructor(options: SandboxStateOptions = {}) {
    this.rateClock = options.rateClock ?? (() => performance.now());
    this.seed = options.seed ?? 1;
    this.defaultCooldownPolicy = options.cooldownPolicy ?? 'meta-2022';
    this.defaultSendRatePerSecond = options.defaultSendRatePerSecond === undefined ? 300 : options.defaultSendRatePerSecond;
    this.seedDemo = options.seedDemo ?? false;
    this.keepMessages = options.keepMessages ?? true;
    if (this.seedDemo) this.seedDemoData();
  }

  /** Sandbox clock: real time plus an offset that tests move forward to cross windows and cooldowns. */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  advanceClock(ms: number): number {
    this.clockOffsetMs += ms;
    return this.now();
  }

  setClock(epochMs: number): number {
    this.clockOffsetMs = epochMs - Date.now();
    return this.now();
  }

  nextSeq(): number {
    return ++this.seq;
  }

  /** Message ids look like Meta's (m_ + opaque), are unique and cheap. */
  nextMid(): string {
    return `m_${(++this.seq).toString(36)}${randomBytes(6).toString('base64url')}`;
  }

  reset(): void {
    this.pages.clear();
    this.pagesByAccessToken.clear();
    this.tokens.clear();
    this.seq = 0;
    this.clockOffsetMs = 0;
    if (this.seedDemo) this.seedDemoData();
  }

  private seedDemoData(): void {
    this.createPage({ ...DEMO_PAGE });
    this.createUser(DEMO_PAGE.id, { psid: DEMO_USER_PSID, name: 'Demo User' });
  }

  createPage(input: CreatePageInput): PageRecord {
    const id = input.id ?? String(100_000_000_000_000 + (randomBytes(6).readUIntBE(0, 6) % 899_999_999_999_999));
    if (this.pages.has(id)) throw new Conflict(`page ${id} already exists`);
    const accessToken = input.accessToken ?? `EAA${randomBytes(24).toString('base64url')}`;
    if (this.pagesByAccessToken.has(accessToken)) throw new Conflict('that access token belongs to another page');
    const page: PageRecord = {
      id,
      name: input.name ?? `Page ${id}`,
      accessToken,
      appSecret: input.appSecret ?? randomBytes(16).toString('hex'),
      timezone: input.timezone ?? 'UTC',
      cooldownPolicy: input.cooldownPolicy ?? this.defaultCooldownPolicy,
      newsPage: input.newsPage ?? false,
      requireAppSecretProof: input.requireAppSecretProof ?? true,
      subscribedFields: [...(input.subscribedFields ?? DEFAULT_SUBSCRIBED_FIELDS)],
      users: new Map(),
      userRefs: new Map(),
      messages: [],
      recurringTokens: [],
      recurringByKey: new Map(),
      faults: NO_FAULTS(),
      random: this.pageRandom(id),
      throttleBurstRemaining: 0,
      throttleBurstCode: 613,
      rate: this.newRateLimit(input.sendRatePerSecond === undefined ? this.defaultSendRatePerSecond : input.sendRatePerSecond, 613),
      counters: { accepted: 0, rejected: {} },
    };
    this.pages.set(id, page);
    this.pagesByAccessToken.set(accessToken, page);
    return page;
  }

  /** Each Page gets its own PRNG stream, so one Page's traffic never shifts another's injected faults. */
  pageRandom(pageId: string): () => number {
    return createPrng(hashString(pageId, this.seed >>> 0));
  }

  newRateLimit(perSecond: number | null, code: number): RateLimit {
    return { perSecond, code, available: perSecond ?? 0, refilledAt: this.rateClock() };
  }

  setFaults(page: PageRecord, faults: Partial<FaultSettings>): FaultSettings {
    page.faults = { ...NO_FAULTS(), ...faults };
    page.random = this.pageRandom(page.id);
    page.throttleBurstRemaining = 0;
    return page.faults;
  }

  getPage(pageId: string): PageRecord {
    const page = this.pages.get(pageId);
    if (!page) throw new NotFound(`page ${pageId} not found`);
    return page;
  }

  createUser(pageId: string, input: CreateUserInput = {}): UserRecord {
    const page = this.getPage(pageId);
    const psid = input.psid ?? this.newPsid(page);
    if (page.users.has(psid)) throw new Conflict(`user ${psid} already exists on page ${pageId}`);
    const open = input.windowOpen ?? true;
    const user: UserRecord = {
      psid,
      pageId,
      name: input.name ?? `User ${psid}`,
      lastUserMessageAt: input.lastUserMessageAt !== undefined ? input.lastUserMessageAt : open ? this.now() : null,
      blocked: false,
      thread: [],
      optInRequests: null,
      answered: null,
      topics: null,
    };
    page.users.set(psid, user);
    return user;
  }

  /** PSIDs are per Page, numeric, 16 digits, as Meta's. */
  private newPsid(page: PageRecord): string {
    for (;;) {
      const psid = String(1_000_000_000_000_000n + BigInt(randomBytes(6).readUIntBE(0, 6)) * 10n);
      if (!page.users.has(psid)) return psid;
    }
  }

  getUser(page: PageRecord, psid: string): UserRecord {
    const user = page.users.get(psid);
    if (!user) throw new NotFound(`user ${psid} not found on page ${page.id}`);
    return user;
  }

  getOrCreateUser(page: PageRecord, psid: string): UserRecord {
    return page.users.get(psid) ?? this.createUser(page.id, { psid, windowOpen: false });
  }

  newToken(): string {
    return randomBytes(27).toString('base64url');
  }

  issueOneTimeToken(page: PageRecord, user: UserRecord, payload: string, title?: string, expiresAt?: number): OneTimeToken {
    const now = this.now();
    const token: OneTimeToken = {
      kind: 'ONE_TIME',
      token: this.newToken(),
      pageId: page.id,
      psid: user.psid,
      payload,
      createdAt: now,
      expiresAt: expiresAt ?? now + ONE_TIME_TOKEN_LIFETIME_MS,
      usedAt: null,
    };
    if (title !== undefined) token.title = title;
    this.tokens.set(token.token, token);
    return token;
  }

  /**
   * One token per (user, title, frequency). Opting in again returns the same token; if it had expired it is
   * refreshed (new expiry, REFRESHED) and a stopped topic is resumed, as Meta's "Continue messages".
   */
  issueRecurringToken(
    page: PageRecord,
    user: UserRecord,
    input: { payload: string; title?: string; frequency?: Frequency; timezone?: string; reoptin?: 'ENABLED' | 'DISABLED'; expiresAt?: number },
  ): RecurringToken {
    const now = this.now();
    const title = input.title ?? DEFAULT_RECURRING_TITLE;
    const frequency = input.frequency ?? 'DAILY';
    const key = `${user.psid}\u0000${title}\u0000${frequency}`;
    const existing = page.recurringByKey.get(key);
    const expiresAt = input.expiresAt ?? addMonths(now, LIFETIME_MONTHS[frequency]);
    if (existing) {
      const wasExpired = existing.expiresAt <= now;
      existing.userTokenStatus = wasExpired ? 'REFRESHED' : 'NOT_REFRESHED';
      if (wasExpired || input.expiresAt !== undefined) existing.expiresAt = expiresAt;
      existing.payload = input.payload;
      existing.stopped = false;
      if (input.timezone !== undefined) existing.timezone = input.timezone;
      return existing;
    }
    const token: RecurringToken = {
      kind: 'RECURRING',
      seq: this.nextSeq(),
      token: this.newToken(),
      pageId: page.id,
      psid: user.psid,
      payload: input.payload,
      title,
      frequency,
      reoptin: input.reoptin ?? 'DISABLED',
      createdAt: now,
      expiresAt,
      userTokenStatus: 'NOT_REFRESHED',
      stopped: false,
      lastSentAt: null,
      nextEligibleAt: null,
    };
    if (input.timezone !== undefined) token.timezone = input.timezone;
    this.tokens.set(token.token, token);
    page.recurringTokens.push(token);
    page.recurringByKey.set(key, token);
    (user.topics ??= []).push(token);
    return token;
  }

  dailyCooldownMs(page: PageRecord, now: number): number {
    const policy = page.cooldownPolicy;
    if (typeof policy === 'object') return policy.dailyCooldownHours * 60 * 60 * 1000;
    if (policy === 'meta-2025-09') return 2 * DAY_MS;
    if (policy === 'by-date') return now >= COOLDOWN_48H_FROM ? 2 * DAY_MS : DAY_MS;
    return DAY_MS;
  }

  /** When a recurring token may carry its next message after one sent at `sentAt`. */
  nextEligibleAfter(page: PageRecord, token: RecurringToken, sentAt: number): number {
    if (token.frequency === 'WEEKLY') return startOfNextWeek(sentAt, page.timezone);
    if (token.frequency === 'MONTHLY') return startOfNextMonth(sentAt, page.timezone);
    return sentAt + this.dailyCooldownMs(page, sentAt);
  }

  /** Per-Page token bucket (real time, not the sandbox clock): true when a send may pass; consumes a slot. */
  takeRateSlot(page: PageRecord): boolean {
    const rate = page.rate;
    if (rate.perSecond === null) return true;
    const now = this.rateClock();
    const elapsed = now - rate.refilledAt;
    if (elapsed > 0) {
      rate.available = Math.min(rate.perSecond, rate.available + (elapsed * rate.perSecond) / 1000);
      rate.refilledAt = now;
    }
    if (rate.available < 1) return false;
    rate.available -= 1;
    return true;
  }
}

export class NotFound extends Error {}
export class Conflict extends Error {}
