import type { AcceptedMessage, PageRecord, RecurringToken, ThreadItem, UserRecord } from './state.js';

const CTA_LABELS: Record<string, string> = {
  ALLOW: 'Allow messages',
  GET: 'Get messages',
  GET_UPDATES: 'Get updates',
  OPT_IN: 'Opt in to messages',
  SIGN_UP: 'Sign up for messages',
};

export interface RenderedCard {
  type: 'one_time' | 'recurring';
  title: string;
  payload?: string;
  buttonLabel: string;
  imageUrl?: string;
  imageAspectRatio?: string;
  frequency?: string;
  elements?: Array<{ title?: string; payload: string; frequency: string; imageUrl?: string }>;
  answered: boolean;
}

/** A page message as the user's phone would show it; used by the user page and the thread API. */
export function renderPageMessage(message: AcceptedMessage, user: UserRecord | undefined): Record<string, unknown> {
  const base: Record<string, unknown> = {
    from: 'page',
    seq: message.seq,
    at: message.at,
    mid: message.mid,
    recipientKind: message.recipientKind,
  };
  if (message.tokenKind) base.tokenKind = message.tokenKind;
  if (message.topic !== undefined) base.topic = message.topic;
  if (message.tag) base.tag = message.tag;
  const body = message.message;
  if (typeof body.text === 'string') return { ...base, kind: 'text', text: body.text };
  const attachment = body.attachment as { type?: string; payload?: Record<string, unknown> } | undefined;
  const template = attachment?.type === 'template' ? attachment.payload : undefined;
  const answered = user?.answered?.has(message.mid) ?? false;
  if (template?.template_type === 'one_time_notif_req') {
    const card: RenderedCard = { type: 'one_time', title: String(template.title), payload: String(template.payload), buttonLabel: 'Notify me', answered };
    return { ...base, kind: 'card', card };
  }
  if (template?.template_type === 'notification_messages') {
    const card: RenderedCard = {
      type: 'recurring',
      title: String(template.title ?? 'Updates and promotions'),
      buttonLabel: CTA_LABELS[String(template.notification_messages_cta_text ?? 'GET_UPDATES')] ?? 'Get updates',
      frequency: String(template.notification_messages_frequency ?? 'DAILY'),
      answered,
    };
    if (template.payload !== undefined) card.payload = String(template.payload);
    if (typeof template.image_url === 'string') card.imageUrl = template.image_url;
    if (typeof template.image_aspect_ratio === 'string') card.imageAspectRatio = template.image_aspect_ratio;
    if (Array.isArray(template.elements)) {
      card.elements = (template.elements as Array<Record<string, unknown>>).map((element) => ({
        ...(element.title !== undefined ? { title: String(element.title) } : {}),
        payload: String(element.payload),
        frequency: String(element.notification_messages_frequency),
        ...(typeof element.image_url === 'string' ? { imageUrl: element.image_url } : {}),
      }));
    }
    return { ...base, kind: 'card', card };
  }
  if (template) {
    const title =
      template.template_type === 'button'
        ? String(template.text)
        : Array.isArray(template.elements)
          ? String((template.elements[0] as Record<string, unknown> | undefined)?.title ?? '')
          : String(template.template_type);
    return { ...base, kind: 'template', templateType: template.template_type, text: title };
  }
  const attachments = (body.attachments as Array<{ type?: string }> | undefined) ?? (attachment ? [attachment] : []);
  return { ...base, kind: 'attachment', text: attachments.map((a) => `[${a.type ?? 'file'}]`).join(' ') };
}

export function renderThreadItem(item: ThreadItem, user: UserRecord): Record<string, unknown> {
  if (item.from === 'page') return renderPageMessage(item, user);
  return { ...item };
}

export function renderTopic(token: RecurringToken): Record<string, unknown> {
  return {
    token: token.token,
    title: token.title,
    payload: token.payload,
    frequency: token.frequency,
    timezone: token.timezone ?? null,
    stopped: token.stopped,
    expiresAt: token.expiresAt,
    lastSentAt: token.lastSentAt,
    nextEligibleAt: token.nextEligibleAt,
    userTokenStatus: token.userTokenStatus,
  };
}

/** The §2.4 item shape of GET /{page-id}/notification_message_tokens (Unix seconds). */
export function tokenListItem(page: PageRecord, token: RecurringToken, now: number): Record<string, unknown> {
  const item: Record<string, unknown> = {
    notification_messages_token: token.token,
    recipient_id: token.psid,
    notification_messages_reoptin: token.reoptin,
    creation_timestamp: Math.floor(token.createdAt / 1000),
    token_expiry_timestamp: Math.floor(token.expiresAt / 1000),
    user_token_status: token.userTokenStatus,
    topic_title: token.title,
    notification_messages_timezone: token.timezone ?? page.timezone,
    next_eligible_time: Math.ceil(Math.max(now, token.nextEligibleAt ?? 0) / 1000),
  };
  return item;
}

export function publicMessage(message: AcceptedMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {
    seq: message.seq,
    mid: message.mid,
    at: message.at,
    recipientKind: message.recipientKind,
    message: message.message,
  };
  if (message.psid !== undefined) out.psid = message.psid;
  if (message.userRef !== undefined) out.userRef = message.userRef;
  if (message.tokenKind) out.tokenKind = message.tokenKind;
  if (message.topic !== undefined) out.topic = message.topic;
  if (message.messagingType) out.messagingType = message.messagingType;
  if (message.tag) out.tag = message.tag;
  return out;
}
