import type { RecipientKind } from './errors.js';

/** Pure builders for Send API request bodies (messenger-platform.md §1, §2.1, §3). They validate Meta's documented limits. */

export const TEXT_MAX_CHARS = 2000;
export const OPT_IN_TITLE_MAX_CHARS = 65;
export const METADATA_MAX_CHARS = 1000;

export type MessagingType = 'RESPONSE' | 'UPDATE' | 'MESSAGE_TAG';
export type MessageTag =
  | 'HUMAN_AGENT'
  | 'CONFIRMED_EVENT_UPDATE'
  | 'POST_PURCHASE_UPDATE'
  | 'ACCOUNT_UPDATE'
  | 'NON_PROMOTIONAL_SUBSCRIPTION';
export type NotificationType = 'REGULAR' | 'SILENT_PUSH' | 'NO_PUSH';
export type RecurringFrequency = 'DAILY' | 'WEEKLY' | 'MONTHLY';
export type RecurringCtaText = 'ALLOW' | 'GET' | 'GET_UPDATES' | 'OPT_IN' | 'SIGN_UP';
export type ImageAspectRatio = 'HORIZONTAL' | 'SQUARE';
export type TokenKind = 'ONE_TIME' | 'RECURRING';

export type Recipient =
  | { id: string }
  | { user_ref: string }
  | { one_time_notif_token: string }
  | { notification_messages_token: string };

export interface TextMessage {
  text: string;
  metadata?: string;
}

export interface OneTimeNotifTemplate {
  template_type: 'one_time_notif_req';
  title: string;
  payload: string;
}

export interface RecurringOptInTemplate {
  template_type: 'notification_messages';
  payload: string;
  title?: string;
  image_url?: string;
  image_aspect_ratio?: ImageAspectRatio;
  notification_messages_frequency?: RecurringFrequency;
  notification_messages_reoptin?: 'ENABLED' | 'DISABLED';
  notification_messages_timezone?: string;
  notification_messages_cta_text?: RecurringCtaText;
}

export interface TemplateMessage {
  attachment: { type: 'template'; payload: OneTimeNotifTemplate | RecurringOptInTemplate | Record<string, unknown> };
  metadata?: string;
}

export type OutgoingMessage = TextMessage | TemplateMessage | { attachment: Record<string, unknown>; metadata?: string };

export interface SendRequestBody {
  recipient: Recipient;
  message: OutgoingMessage;
  messaging_type?: MessagingType;
  tag?: MessageTag;
  notification_type?: NotificationType;
}

/** Meta counts characters, not UTF-16 units: an emoji is one character. */
export function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function requireNonEmpty(value: string, field: string): void {
  if (typeof value !== 'string' || value.length === 0) throw new RangeError(`${field} must be a non-empty string`);
}

function requireMaxChars(value: string, max: number, field: string): void {
  if (characterCount(value) > max) throw new RangeError(`${field} must be at most ${max} characters (got ${characterCount(value)})`);
}

export function buildTextMessage(text: string, options: { metadata?: string } = {}): TextMessage {
  requireNonEmpty(text, 'text');
  requireMaxChars(text, TEXT_MAX_CHARS, 'text');
  if (options.metadata === undefined) return { text };
  requireMaxChars(options.metadata, METADATA_MAX_CHARS, 'metadata');
  return { text, metadata: options.metadata };
}

export interface PsidSendInput {
  psid: string;
  message: OutgoingMessage;
  messagingType?: MessagingType;
  tag?: MessageTag;
  notificationType?: NotificationType;
}

export function buildPsidSend({ psid, message, messagingType = 'RESPONSE', tag, notificationType }: PsidSendInput): SendRequestBody {
  requireNonEmpty(psid, 'psid');
  if (messagingType === 'MESSAGE_TAG' && !tag) throw new RangeError('messagingType MESSAGE_TAG needs a tag');
  if (tag && messagingType !== 'MESSAGE_TAG') throw new RangeError('a tag needs messagingType MESSAGE_TAG');
  const body: SendRequestBody = { recipient: { id: psid }, messaging_type: messagingType, message };
  if (tag) body.tag = tag;
  if (notificationType) body.notification_type = notificationType;
  return body;
}

export interface OneTimeNotifRequestInput {
  psid: string;
  title: string;
  payload: string;
}

/** The "Notify me" opt-in card. Must be sent inside the 24h window (Meta's FAQ), hence messaging_type RESPONSE. */
export function buildOneTimeNotifRequest({ psid, title, payload }: OneTimeNotifRequestInput): SendRequestBody {
  requireNonEmpty(psid, 'psid');
  requireNonEmpty(title, 'title');
  requireMaxChars(title, OPT_IN_TITLE_MAX_CHARS, 'title');
  requireNonEmpty(payload, 'payload');
  return {
    recipient: { id: psid },
    messaging_type: 'RESPONSE',
    message: { attachment: { type: 'template', payload: { template_type: 'one_time_notif_req', title, payload } } },
  };
}

export interface RecurringOptInRequestInput {
  psid: string;
  payload: string;
  title?: string;
  frequency?: RecurringFrequency;
  timezone?: string;
  imageUrl?: string;
  imageAspectRatio?: ImageAspectRatio;
  ctaText?: RecurringCtaText;
  reoptin?: boolean;
}

const FREQUENCIES = new Set<string>(['DAILY', 'WEEKLY', 'MONTHLY']);
const CTA_TEXTS = new Set<string>(['ALLOW', 'GET', 'GET_UPDATES', 'OPT_IN', 'SIGN_UP']);
const ASPECT_RATIOS = new Set<string>(['HORIZONTAL', 'SQUARE']);

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The recurring ("Marketing Messages") opt-in card; optional fields are left out rather than sent empty. */
export function buildRecurringOptInRequest(input: RecurringOptInRequestInput): SendRequestBody {
  const { psid, payload, title, frequency, timezone, imageUrl, imageAspectRatio, ctaText, reoptin } = input;
  requireNonEmpty(psid, 'psid');
  requireNonEmpty(payload, 'payload');
  const template: RecurringOptInTemplate = { template_type: 'notification_messages', payload };
  if (title !== undefined) {
    requireNonEmpty(title, 'title');
    requireMaxChars(title, OPT_IN_TITLE_MAX_CHARS, 'title');
    template.title = title;
  }
  if (imageUrl !== undefined) {
    if (!URL.canParse(imageUrl)) throw new RangeError('imageUrl must be an absolute URL');
    template.image_url = imageUrl;
  }
  if (imageAspectRatio !== undefined) {
    if (!ASPECT_RATIOS.has(imageAspectRatio)) throw new RangeError('imageAspectRatio must be HORIZONTAL or SQUARE');
    template.image_aspect_ratio = imageAspectRatio;
  }
  if (frequency !== undefined) {
    if (!FREQUENCIES.has(frequency)) throw new RangeError('frequency must be DAILY, WEEKLY or MONTHLY');
    template.notification_messages_frequency = frequency;
  }
  if (reoptin !== undefined) template.notification_messages_reoptin = reoptin ? 'ENABLED' : 'DISABLED';
  if (timezone !== undefined) {
    if (!isTimeZone(timezone)) throw new RangeError(`timezone ${timezone} is not an IANA time zone`);
    template.notification_messages_timezone = timezone;
  }
  if (ctaText !== undefined) {
    if (!CTA_TEXTS.has(ctaText)) throw new RangeError('ctaText must be ALLOW, GET, GET_UPDATES, OPT_IN or SIGN_UP');
    template.notification_messages_cta_text = ctaText;
  }
  return {
    recipient: { id: psid },
    messaging_type: 'RESPONSE',
    message: { attachment: { type: 'template', payload: template } },
  };
}

export interface TokenSendInput {
  kind: TokenKind;
  token: string;
  message: OutgoingMessage;
}

/** A notification sent with an opt-in token. Meta's examples carry no messaging_type, so none is sent. */
export function buildTokenSend({ kind, token, message }: TokenSendInput): SendRequestBody {
  requireNonEmpty(token, 'token');
  const recipient: Recipient =
    kind === 'ONE_TIME' ? { one_time_notif_token: token } : { notification_messages_token: token };
  if (kind !== 'ONE_TIME' && kind !== 'RECURRING') throw new RangeError(`unknown token kind ${String(kind)}`);
  return { recipient, message };
}

/** The recipient kind of a request body, used to classify code-100 errors. */
export function recipientKindOf(body: { recipient?: unknown }): RecipientKind {
  const recipient = body.recipient as Record<string, unknown> | undefined;
  if (!recipient || typeof recipient !== 'object') return 'unknown';
  if ('one_time_notif_token' in recipient) return 'one_time_notif_token';
  if ('notification_messages_token' in recipient) return 'notification_messages_token';
  if ('user_ref' in recipient) return 'user_ref';
  if ('id' in recipient) return 'id';
  return 'unknown';
}
