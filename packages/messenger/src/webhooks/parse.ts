import { z } from 'zod';
import type { RecurringFrequency } from '../builders.js';

interface EventBase {
  pageId: string;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

export interface MessageEvent extends EventBase {
  kind: 'message';
  psid: string;
  mid: string;
  text?: string;
  quickReplyPayload?: string;
}

export interface PostbackEvent extends EventBase {
  kind: 'postback';
  psid: string;
  payload: string;
  title: string;
  mid?: string;
}

export interface OneTimeOptInEvent extends EventBase {
  kind: 'one_time_optin';
  psid: string;
  token: string;
  payload: string;
  title?: string;
}

export interface RecurringOptInEvent extends EventBase {
  kind: 'recurring_optin';
  psid: string;
  token: string;
  payload: string;
  title?: string;
  frequency: RecurringFrequency;
  timezone?: string;
  expiresAt?: Date;
  userTokenStatus: 'REFRESHED' | 'NOT_REFRESHED';
}

export interface RecurringStatusEvent extends EventBase {
  kind: 'recurring_status';
  psid: string;
  token: string;
  payload?: string;
  title?: string;
  status: 'STOP' | 'RESUME';
}

/** Meta's message_deliveries: the person's device received every message the Page sent up to `watermark`. */
export interface MessageDeliveryEvent extends EventBase {
  kind: 'message_delivery';
  psid: string;
  /** Milliseconds since the epoch. */
  watermark: number;
  /** The delivered messages, when Meta names them. */
  mids: string[];
}

/** Meta's message_reads: the person read every message the Page sent up to `watermark`. */
export interface MessageReadEvent extends EventBase {
  kind: 'message_read';
  psid: string;
  /** Milliseconds since the epoch. */
  watermark: number;
}

export interface CheckboxOptInEvent extends EventBase {
  kind: 'checkbox_optin';
  userRef: string;
  ref?: string;
}

export type WebhookEvent =
  | MessageEvent
  | PostbackEvent
  | OneTimeOptInEvent
  | RecurringOptInEvent
  | RecurringStatusEvent
  | CheckboxOptInEvent
  | MessageDeliveryEvent
  | MessageReadEvent;

export interface WebhookReject {
  index: number;
  reason: string;
  raw: unknown;
}

export interface WebhookEntry {
  pageId: string;
  time?: number;
  events: WebhookEvent[];
  /** Items that look broken: kept (raw) so the caller can store them for inspection. */
  rejects: WebhookReject[];
  /** Well-formed items of kinds Renotify does not act on (echo, reaction, referral...). */
  ignored: Array<{ index: number; reason: string }>;
}

export type ParsedWebhook =
  | { ok: true; object: 'page'; entries: WebhookEntry[]; entryRejects: WebhookReject[] }
  | { ok: false; object?: string; error: string };

const id = z.union([z.string().min(1), z.number()]).transform(String);
/** Meta sends ms numbers; the recurring doc shows strings. Seconds (below 10^11) are scaled to ms. */
const timestamp = z
  .union([z.number().finite().nonnegative(), z.string().regex(/^\d+$/).transform(Number)])
  .transform((value) => (value < 1e11 ? value * 1000 : value));

const party = z.object({ id });

const messageItem = z.object({
  sender: party,
  recipient: party,
  timestamp,
  message: z.object({
    mid: z.string().min(1),
    text: z.string().optional(),
    is_echo: z.boolean().optional(),
    quick_reply: z.object({ payload: z.string() }).optional(),
  }),
});

const postbackItem = z.object({
  sender: party,
  recipient: party,
  timestamp,
  postback: z.object({ payload: z.string(), title: z.string().default(''), mid: z.string().optional() }),
});

const oneTimeOptInItem = z.object({
  sender: party,
  recipient: party,
  timestamp,
  optin: z.object({
    type: z.literal('one_time_notif_req'),
    payload: z.string(),
    one_time_notif_token: z.string().min(1),
    title: z.string().optional(),
  }),
});

const STATUS_VALUES = {
  'STOP NOTIFICATIONS': 'STOP',
  STOP_NOTIFICATIONS: 'STOP',
  'RESUME NOTIFICATIONS': 'RESUME',
  RESUME_NOTIFICATIONS: 'RESUME',
} as const;

const recurringOptInItem = z.object({
  sender: party,
  recipient: party,
  timestamp,
  optin: z.object({
    type: z.literal('notification_messages'),
    payload: z.string().optional(),
    title: z.string().optional(),
    notification_messages_token: z.string().min(1),
    notification_messages_frequency: z.enum(['DAILY', 'WEEKLY', 'MONTHLY']).optional(),
    notification_messages_timezone: z.string().optional(),
    token_expiry_timestamp: timestamp.optional(),
    user_token_status: z.enum(['REFRESHED', 'NOT_REFRESHED']).optional(),
    notification_messages_status: z
      .enum(['STOP NOTIFICATIONS', 'STOP_NOTIFICATIONS', 'RESUME NOTIFICATIONS', 'RESUME_NOTIFICATIONS'])
      .optional(),
  }),
});

const deliveryItem = z.object({
  sender: party,
  recipient: party,
  timestamp,
  delivery: z.object({ watermark: timestamp, mids: z.array(z.string().min(1)).optional() }),
});

const readItem = z.object({
  sender: party,
  recipient: party,
  timestamp,
  read: z.object({ watermark: timestamp }),
});

const checkboxOptInItem = z.object({
  recipient: party,
  timestamp,
  optin: z.object({ user_ref: z.string().min(1), ref: z.string().optional() }),
});

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid item';
  const where = issue.path.length > 0 ? issue.path.join('.') : '(item)';
  return `${where}: ${issue.message}`;
}

type ItemResult = { event: WebhookEvent } | { reject: string } | { ignore: string };

function parseItem(item: unknown): ItemResult {
  if (!item || typeof item !== 'object') return { reject: 'messaging item is not an object' };
  const record = item as Record<string, unknown>;

  if ('optin' in record) {
    const optin = record.optin as Record<string, unknown> | undefined;
    const type = optin && typeof optin === 'object' ? optin.type : undefined;
    if (type === 'one_time_notif_req') {
      const parsed = oneTimeOptInItem.safeParse(item);
      if (!parsed.success) return { reject: `one-time opt-in: ${firstIssue(parsed.error)}` };
      const { sender, recipient, timestamp: ts, optin: o } = parsed.data;
      const event: OneTimeOptInEvent = {
        kind: 'one_time_optin',
        pageId: recipient.id,
        timestamp: ts,
        psid: sender.id,
        token: o.one_time_notif_token,
        payload: o.payload,
      };
      if (o.title !== undefined) event.title = o.title;
      return { event };
    }
    if (type === 'notification_messages') {
      const parsed = recurringOptInItem.safeParse(item);
      if (!parsed.success) return { reject: `recurring opt-in: ${firstIssue(parsed.error)}` };
      const { sender, recipient, timestamp: ts, optin: o } = parsed.data;
      if (o.notification_messages_status !== undefined) {
        const event: RecurringStatusEvent = {
          kind: 'recurring_status',
          pageId: recipient.id,
          timestamp: ts,
          psid: sender.id,
          token: o.notification_messages_token,
          status: STATUS_VALUES[o.notification_messages_status],
        };
        if (o.payload !== undefined) event.payload = o.payload;
        if (o.title !== undefined) event.title = o.title;
        return { event };
      }
      if (o.payload === undefined) return { reject: 'recurring opt-in: optin.payload: missing' };
      const event: RecurringOptInEvent = {
        kind: 'recurring_optin',
        pageId: recipient.id,
        timestamp: ts,
        psid: sender.id,
        token: o.notification_messages_token,
        payload: o.payload,
        frequency: o.notification_messages_frequency ?? 'DAILY',
        userTokenStatus: o.user_token_status ?? 'NOT_REFRESHED',
      };
      if (o.title !== undefined) event.title = o.title;
      if (o.notification_messages_timezone !== undefined) event.timezone = o.notification_messages_timezone;
      if (o.token_expiry_timestamp !== undefined) event.expiresAt = new Date(o.token_expiry_timestamp);
      return { event };
    }
    if (optin && typeof optin === 'object' && 'user_ref' in optin) {
      const parsed = checkboxOptInItem.safeParse(item);
      if (!parsed.success) return { reject: `checkbox opt-in: ${firstIssue(parsed.error)}` };
      const { recipient, timestamp: ts, optin: o } = parsed.data;
      const event: CheckboxOptInEvent = { kind: 'checkbox_optin', pageId: recipient.id, timestamp: ts, userRef: o.user_ref };
      if (o.ref !== undefined) event.ref = o.ref;
      return { event };
    }
    if (optin && typeof optin === 'object' && 'ref' in optin) return { ignore: 'send-to-messenger opt-in without user_ref' };
    return { reject: `unsupported optin type ${JSON.stringify(type ?? null)}` };
  }

  if ('message' in record) {
    const parsed = messageItem.safeParse(item);
    if (!parsed.success) return { reject: `message: ${firstIssue(parsed.error)}` };
    const { sender, recipient, timestamp: ts, message } = parsed.data;
    if (message.is_echo) return { ignore: 'message echo' };
    const event: MessageEvent = { kind: 'message', pageId: recipient.id, timestamp: ts, psid: sender.id, mid: message.mid };
    if (message.text !== undefined) event.text = message.text;
    if (message.quick_reply) event.quickReplyPayload = message.quick_reply.payload;
    return { event };
  }

  if ('postback' in record) {
    const parsed = postbackItem.safeParse(item);
    if (!parsed.success) return { reject: `postback: ${firstIssue(parsed.error)}` };
    const { sender, recipient, timestamp: ts, postback } = parsed.data;
    const event: PostbackEvent = {
      kind: 'postback',
      pageId: recipient.id,
      timestamp: ts,
      psid: sender.id,
      payload: postback.payload,
      title: postback.title,
    };
    if (postback.mid !== undefined) event.mid = postback.mid;
    return { event };
  }

  if ('delivery' in record) {
    const parsed = deliveryItem.safeParse(item);
    if (!parsed.success) return { reject: `delivery: ${firstIssue(parsed.error)}` };
    const { sender, recipient, timestamp: ts, delivery } = parsed.data;
    return { event: { kind: 'message_delivery', pageId: recipient.id, timestamp: ts, psid: sender.id, watermark: delivery.watermark, mids: delivery.mids ?? [] } };
  }

  if ('read' in record) {
    const parsed = readItem.safeParse(item);
    if (!parsed.success) return { reject: `read: ${firstIssue(parsed.error)}` };
    const { sender, recipient, timestamp: ts, read } = parsed.data;
    return { event: { kind: 'message_read', pageId: recipient.id, timestamp: ts, psid: sender.id, watermark: read.watermark } };
  }

  for (const known of ['reaction', 'referral', 'pass_thread_control', 'take_thread_control', 'account_linking']) {
    if (known in record) return { ignore: known };
  }
  return { reject: 'unknown messaging item (no message, postback or optin)' };
}

/**
 * Parses a Messenger webhook POST body. One bad messaging item never throws or hides its siblings:
 * it lands in its entry's `rejects`. Only a body that is not a `page` webhook at all fails as a whole.
 */
export function parseWebhookPayload(json: unknown): ParsedWebhook {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return { ok: false, error: 'webhook body is not a JSON object' };
  const body = json as Record<string, unknown>;
  const object = typeof body.object === 'string' ? body.object : undefined;
  if (object !== 'page') {
    return object === undefined
      ? { ok: false, error: 'webhook body has no "object" field' }
      : { ok: false, object, error: `unsupported webhook object "${object}" (expected "page")` };
  }
  if (!Array.isArray(body.entry)) return { ok: false, object, error: 'webhook body has no "entry" array' };

  const entries: WebhookEntry[] = [];
  const entryRejects: WebhookReject[] = [];
  body.entry.forEach((rawEntry: unknown, entryIndex: number) => {
    const entry = rawEntry as Record<string, unknown> | null;
    if (!entry || typeof entry !== 'object' || (typeof entry.id !== 'string' && typeof entry.id !== 'number')) {
      entryRejects.push({ index: entryIndex, reason: 'entry without an id', raw: rawEntry });
      return;
    }
    const parsedEntry: WebhookEntry = { pageId: String(entry.id), events: [], rejects: [], ignored: [] };
    const time = timestamp.safeParse(entry.time);
    if (time.success) parsedEntry.time = time.data;
    const items = Array.isArray(entry.messaging) ? entry.messaging : [];
    items.forEach((item: unknown, index: number) => {
      const result = parseItem(item);
      if ('event' in result) parsedEntry.events.push(result.event);
      else if ('reject' in result) parsedEntry.rejects.push({ index, reason: result.reject, raw: item });
      else parsedEntry.ignored.push({ index, reason: result.ignore });
    });
    if (entry.messaging !== undefined && !Array.isArray(entry.messaging)) {
      parsedEntry.rejects.push({ index: -1, reason: '"messaging" is not an array', raw: entry.messaging });
    }
    entries.push(parsedEntry);
  });
  return { ok: true, object: 'page', entries, entryRejects };
}
