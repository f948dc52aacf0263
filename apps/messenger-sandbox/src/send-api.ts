import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { GraphError, messageFor, PROOF_INVALID_MESSAGE, PROOF_REQUIRED_MESSAGE, proofError } from './graph-error.js';
import {
  DEAD_TAGS_FROM,
  DEFAULT_RECURRING_TITLE,
  HUMAN_AGENT_WINDOW_MS,
  OPT_IN_DEDUP_MS,
  WINDOW_MS,
  type AcceptedMessage,
  type PageRecord,
  type RecipientKind,
  type SandboxState,
  type UserRecord,
} from './state.js';
import { isValidTimeZone } from './zoned-time.js';

const MESSAGING_TYPES = ['RESPONSE', 'UPDATE', 'MESSAGE_TAG'] as const;
const TAGS = ['HUMAN_AGENT', 'CONFIRMED_EVENT_UPDATE', 'POST_PURCHASE_UPDATE', 'ACCOUNT_UPDATE', 'NON_PROMOTIONAL_SUBSCRIPTION'] as const;
const DEAD_TAGS = new Set<string>(['CONFIRMED_EVENT_UPDATE', 'POST_PURCHASE_UPDATE', 'ACCOUNT_UPDATE']);
const RECIPIENT_KINDS: RecipientKind[] = ['id', 'user_ref', 'one_time_notif_token', 'notification_messages_token'];

export function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

const maxChars = (max: number) =>
  z.string().refine((value) => characterCount(value) <= max, { message: `must be at most ${max} characters` });

const bodySchema = z.object({
  recipient: z.record(z.string(), z.unknown(), { error: 'The parameter recipient is required' }),
  messaging_type: z.string().optional(),
  tag: z.string().optional(),
  notification_type: z.enum(['REGULAR', 'SILENT_PUSH', 'NO_PUSH']).optional(),
  persona_id: z.string().optional(),
  sender_action: z.enum(['typing_on', 'typing_off', 'mark_seen']).optional(),
  message: z.record(z.string(), z.unknown()).optional(),
});

const attachmentSchema = z.object({
  type: z.enum(['image', 'audio', 'video', 'file', 'template']),
  payload: z.record(z.string(), z.unknown()),
});

const messageSchema = z.object({
  text: z.string().optional(),
  attachment: attachmentSchema.optional(),
  attachments: z.array(attachmentSchema).min(1).max(30).optional(),
  quick_replies: z
    .array(
      z.object({
        content_type: z.enum(['text', 'user_phone_number', 'user_email']),
        title: maxChars(20).optional(),
        payload: z.union([z.string(), z.number()]).optional(),
        image_url: z.string().optional(),
      }),
    )
    .max(13)
    .optional(),
  metadata: maxChars(1000).optional(),
});

const optInTitle = maxChars(65).pipe(z.string().min(1));

export const oneTimeNotifTemplateSchema = z.object({
  template_type: z.literal('one_time_notif_req'),
  title: optInTitle,
  payload: z.string().min(1),
});

const frequencySchema = z.enum(['DAILY', 'WEEKLY', 'MONTHLY']);

export const recurringTemplateSchema = z
  .object({
    template_type: z.literal('notification_messages'),
    payload: z.string().min(1).optional(),
    title: optInTitle.optional(),
    image_url: z.url().optional(),
    image_aspect_ratio: z.enum(['HORIZONTAL', 'SQUARE']).optional(),
    notification_messages_frequency: frequencySchema.optional(),
    notification_messages_reoptin: z.enum(['ENABLED', 'DISABLED']).optional(),
    notification_messages_timezone: z.string().refine(isValidTimeZone, { message: 'must be a valid time zone ID' }).optional(),
    notification_messages_cta_text: z.enum(['ALLOW', 'GET', 'GET_UPDATES', 'OPT_IN', 'SIGN_UP']).optional(),
    elements: z
      .array(
        z.object({
          title: optInTitle.optional(),
          subtitle: z.string().optional(),
          image_url: z.url().optional(),
          payload: z.string().min(1),
          notification_messages_frequency: frequencySchema,
        }),
      )
      .min(1)
      .max(5)
      .optional(),
  })
  .superRefine((value, ctx) => {
    if (value.elements && value.title === undefined) ctx.addIssue({ code: 'custom', path: ['title'], message: 'is required with elements' });
    if (!value.elements && value.payload === undefined) ctx.addIssue({ code: 'custom', path: ['payload'], message: 'is required' });
  });

const genericTemplateSchema = z.object({
  template_type: z.literal('generic'),
  elements: z
    .array(
      z.object({
        title: maxChars(80).pipe(z.string().min(1)),
        subtitle: maxChars(80).optional(),
        image_url: z.string().optional(),
        buttons: z.array(z.record(z.string(), z.unknown())).max(3).optional(),
      }),
    )
    .min(1)
    .max(10),
});

const buttonTemplateSchema = z.object({
  template_type: z.literal('button'),
  text: maxChars(640).pipe(z.string().min(1)),
  buttons: z.array(z.record(z.string(), z.unknown())).min(1).max(3),
});

function paramPath(prefix: string, path: ReadonlyArray<PropertyKey>): string {
  return prefix + path.map((part) => `[${String(part)}]`).join('');
}

function invalid(prefix: string, error: z.ZodError): GraphError {
  const issue = error.issues[0];
  const where = issue ? paramPath(prefix, issue.path) : prefix;
  return new GraphError(100, null, `(#100) Invalid parameter ${where}: ${issue?.message ?? 'invalid'}`);
}

type OptInTemplateKind = 'one_time_notif_req' | 'notification_messages';

interface ValidatedMessage {
  message: Record<string, unknown>;
  optInRequest: { kind: OptInTemplateKind; title: string } | null;
  textLength: number;
}

function validateMessage(raw: Record<string, unknown>): ValidatedMessage {
  const parsed = messageSchema.safeParse(raw);
  if (!parsed.success) throw invalid('message', parsed.error);
  const message = parsed.data;
  const parts = (message.text !== undefined ? 1 : 0) + (message.attachment ? 1 : 0) + (message.attachments ? 1 : 0);
  if (parts === 0) throw new GraphError(100, null, '(#100) Message cannot be empty, must provide valid attachment or text');
  if (parts > 1) throw new GraphError(100, null, '(#100) Only one of text, attachment or attachments may be set');
  let textLength = 0;
  if (message.text !== undefined) {
    textLength = characterCount(message.text);
    if (textLength === 0) throw new GraphError(100, null, '(#100) Message cannot be empty, must provide valid attachment or text');
    if (textLength > 2000) throw new GraphError(100, null, '(#100) Length of param message[text] must be less than or equal to 2000');
  }
  let optInRequest: ValidatedMessage['optInRequest'] = null;
  const attachment = message.attachment;
  if (attachment?.type === 'template') {
    const templateType = attachment.payload.template_type;
    const where = 'message[attachment][payload]';
    if (templateType === 'one_time_notif_req') {
      const template = oneTimeNotifTemplateSchema.safeParse(attachment.payload);
      if (!template.success) throw invalid(where, template.error);
      optInRequest = { kind: 'one_time_notif_req', title: template.data.title };
    } else if (templateType === 'notification_messages') {
      const template = recurringTemplateSchema.safeParse(attachment.payload);
      if (!template.success) throw invalid(where, template.error);
      optInRequest = { kind: 'notification_messages', title: template.data.title ?? DEFAULT_RECURRING_TITLE };
    } else if (templateType === 'generic') {
      const template = genericTemplateSchema.safeParse(attachment.payload);
      if (!template.success) throw invalid(where, template.error);
    } else if (templateType === 'button') {
      const template = buttonTemplateSchema.safeParse(attachment.payload);
      if (!template.success) throw invalid(where, template.error);
    } else if (typeof templateType !== 'string') {
      throw new GraphError(100, null, '(#100) param message[attachment][payload][template_type] is required');
    }
  } else if (attachment) {
    const { url, attachment_id: attachmentId } = attachment.payload;
    if (typeof url !== 'string' && typeof attachmentId !== 'string') {
      throw new GraphError(100, null, '(#100) Attachment payload requires a url or attachment_id');
    }
  }
  return { message: raw, optInRequest, textLength };
}

interface ParsedSend {
  recipientKind: RecipientKind;
  recipientValue: string;
  messagingType: (typeof MESSAGING_TYPES)[number] | undefined;
  tag: (typeof TAGS)[number] | undefined;
  validated: ValidatedMessage | null;
}

function parseSend(rawBody: unknown, now: number): ParsedSend {
  if (!rawBody || typeof rawBody !== 'object') throw new GraphError(100, null, '(#100) The parameter recipient is required');
  const parsed = bodySchema.safeParse(rawBody);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue?.path[0] === 'recipient') throw new GraphError(100, null, '(#100) The parameter recipient is required');
    throw invalid('', parsed.error);
  }
  const body = parsed.data;
  const kinds = RECIPIENT_KINDS.filter((kind) => body.recipient[kind] !== undefined);
  const recipientKind = kinds[0];
  if (kinds.length !== 1 || !recipientKind) {
    throw new GraphError(100, null, '(#100) recipient must have exactly one of id, user_ref, one_time_notif_token, notification_messages_token');
  }
  const recipientValue = body.recipient[recipientKind];
  if ((typeof recipientValue !== 'string' && typeof recipientValue !== 'number') || String(recipientValue).length === 0) {
    throw new GraphError(100, null, `(#100) Param recipient[${recipientKind}] must be a non-empty string`);
  }

  let messagingType = body.messaging_type as ParsedSend['messagingType'];
  if (messagingType !== undefined && !MESSAGING_TYPES.includes(messagingType)) {
    throw new GraphError(100, null, '(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}');
  }
  const tag = body.tag as ParsedSend['tag'];
  if (tag !== undefined) {
    if (!TAGS.includes(tag)) throw new GraphError(100, null, `(#100) Param tag must be one of {${TAGS.join(', ')}}`);
    // Before messaging_type existed, a tag alone meant a tagged message; Meta still reads it that way.
    if (messagingType === undefined) messagingType = 'MESSAGE_TAG';
    if (messagingType !== 'MESSAGE_TAG') throw new GraphError(100, null, '(#100) Param tag can only be used with messaging_type MESSAGE_TAG');
    if (DEAD_TAGS.has(tag) && now >= DEAD_TAGS_FROM) {
      throw new GraphError(100, null, `(#100) The message tag ${tag} is no longer supported. Use Utility Templates or the Marketing Messages API.`);
    }
  } else if (messagingType === 'MESSAGE_TAG') {
    throw new GraphError(100, null, '(#100) Param tag is required when messaging_type is MESSAGE_TAG');
  }

  if (body.message === undefined) {
    if (body.sender_action === undefined) throw new GraphError(100, null, '(#100) Must send either message or sender_action');
    return { recipientKind, recipientValue: String(recipientValue), messagingType, tag, validated: null };
  }
  if (body.sender_action !== undefined) throw new GraphError(100, null, '(#100) Cannot send message and sender_action together');
  const validated = validateMessage(body.message);
  if (validated.optInRequest && messagingType === 'MESSAGE_TAG') {
    throw new GraphError(100, null, '(#100) Opt-in requests cannot be sent with a message tag');
  }
  return { recipientKind, recipientValue: String(recipientValue), messagingType, tag, validated };
}

export interface SendResult {
  status: number;
  body: Record<string, unknown>;
}

export interface SendOptions {
  /** Meta's recurring doc answers `recipient` instead of `recipient_id`; true mimics that for token sends. */
  recurringAnswersRecipient: boolean;
}

function requireWindow(page: PageRecord, user: UserRecord, send: ParsedSend, now: number): void {
  const since = user.lastUserMessageAt === null ? Infinity : now - user.lastUserMessageAt;
  if (send.messagingType === 'MESSAGE_TAG') {
    if (send.tag === 'HUMAN_AGENT') {
      if (since > HUMAN_AGENT_WINDOW_MS) throw new GraphError(10, 2018278, messageFor(10, 2018278));
      return;
    }
    if (send.tag === 'NON_PROMOTIONAL_SUBSCRIPTION') {
      if (!page.newsPage) {
        throw new GraphError(10, 2018065, '(#10) This message is sent outside of allowed window. You need the News Messaging permission.');
      }
      return;
    }
    return; // the three legacy tags, still alive before DEAD_TAGS_FROM
  }
  if (since > WINDOW_MS) throw new GraphError(10, 2018278, messageFor(10, 2018278));
}

function randomLatency(page: PageRecord): number {
  const { latencyMs, latencyJitterMs } = page.faults;
  return latencyMs + (latencyJitterMs > 0 ? page.random() * latencyJitterMs : 0);
}

/** Injected faults, drawn from the Page's seeded stream in a fixed order so a run is reproducible. */
function injectedFault(page: PageRecord): GraphError | null {
  const { throttleBursts, errors } = page.faults;
  if (page.throttleBurstRemaining > 0) {
    page.throttleBurstRemaining--;
    return new GraphError(page.throttleBurstCode, null, messageFor(page.throttleBurstCode, null));
  }
  if (throttleBursts && page.random() < throttleBursts.probability) {
    page.throttleBurstRemaining = throttleBursts.length - 1;
    page.throttleBurstCode = throttleBursts.code;
    return new GraphError(throttleBursts.code, null, messageFor(throttleBursts.code, null));
  }
  if (errors.length > 0) {
    const draw = page.random();
    let cumulative = 0;
    for (const fault of errors) {
      cumulative += fault.rate;
      if (draw < cumulative) {
        const subcode = fault.subcode ?? null;
        return new GraphError(fault.code, subcode, fault.message ?? messageFor(fault.code, subcode), fault.httpStatus);
      }
    }
  }
  return null;
}

/** The caller's credentials: the Page token and the appsecret_proof, wherever they came (query, body, header). */
export interface GraphCredentials {
  accessToken: string | undefined;
  appSecretProof: string | undefined;
}

/**
 * "Require App Secret" (messenger-platform.md §3.3): a proof that is present must be right, whatever the setting;
 * a missing one is refused only when the Page's app requires it.
 */
export function checkAppSecretProof(page: PageRecord, proof: string | undefined): void {
  if (proof === undefined || proof === '') {
    if (page.requireAppSecretProof) throw proofError(PROOF_REQUIRED_MESSAGE);
    return;
  }
  const expected = createHmac('sha256', page.appSecret).update(page.accessToken).digest();
  const given = /^[0-9a-f]{64}$/i.test(proof) ? Buffer.from(proof, 'hex') : null;
  if (!given || !timingSafeEqual(given, expected)) throw proofError(PROOF_INVALID_MESSAGE);
}

/** The Page a token belongs to; checks the token (190) and then the proof (100 GraphMethodException). */
export function authenticatePage(state: SandboxState, credentials: GraphCredentials): PageRecord {
  const { accessToken } = credentials;
  if (!accessToken) throw new GraphError(190, null, 'An active access token must be used to query information about the current user.');
  const page = state.pagesByAccessToken.get(accessToken);
  if (!page) throw new GraphError(190, null, 'Invalid OAuth access token - Cannot parse access token');
  checkAppSecretProof(page, credentials.appSecretProof);
  return page;
}

export function resolvePage(state: SandboxState, pageIdParam: string, credentials: GraphCredentials): PageRecord {
  const page = authenticatePage(state, credentials);
  if (pageIdParam !== 'me' && pageIdParam !== page.id) {
    throw new GraphError(190, null, `Invalid OAuth access token for Page ${pageIdParam}: the token belongs to another Page`);
  }
  return page;
}

function countRejection(page: PageRecord, error: GraphError): void {
  const key = error.subcode === null ? String(error.code) : `${error.code}/${error.subcode}`;
  page.counters.rejected[key] = (page.counters.rejected[key] ?? 0) + 1;
}

/** POST /{version}/{page-id|me}/messages. Throws GraphError for every Meta-shaped failure. */
export async function handleSend(
  state: SandboxState,
  pageIdParam: string,
  credentials: GraphCredentials,
  rawBody: unknown,
  options: SendOptions,
): Promise<SendResult> {
  const page = resolvePage(state, pageIdParam, credentials);
  try {
    if (!state.takeRateSlot(page)) throw new GraphError(page.rate.code, null, messageFor(page.rate.code, null));
    const latency = page.faults.latencyMs > 0 || page.faults.latencyJitterMs > 0 ? randomLatency(page) : 0;
    const fault = injectedFault(page);
    if (latency > 0) await sleep(latency);
    if (fault) throw fault;
    return accept(state, page, rawBody, options);
  } catch (error) {
    if (error instanceof GraphError) countRejection(page, error);
    throw error;
  }
}

function accept(state: SandboxState, page: PageRecord, rawBody: unknown, options: SendOptions): SendResult {
  const now = state.now();
  const send = parseSend(rawBody, now);
  const { recipientKind, recipientValue, validated } = send;

  /** The accepted message, kept in the Page's log and `thread` (its recipient's) unless the sandbox keeps none. */
  const record = (psid: string | undefined, extra: Partial<AcceptedMessage>, thread?: { push(message: AcceptedMessage): unknown }): AcceptedMessage | null => {
    if (!validated) return null;
    const accepted: AcceptedMessage = {
      from: 'page',
      seq: state.nextSeq(),
      mid: state.nextMid(),
      pageId: page.id,
      recipientKind,
      message: validated.message,
      at: now,
      ...extra,
    };
    if (psid !== undefined) accepted.psid = psid;
    if (send.messagingType) accepted.messagingType = send.messagingType;
    if (send.tag) accepted.tag = send.tag;
    if (state.keepMessages) {
      page.messages.push(accepted);
      thread?.push(accepted);
    }
    page.counters.accepted++;
    return accepted;
  };

  if (recipientKind === 'id') {
    const user = page.users.get(recipientValue);
    if (!user) throw new GraphError(100, 2018001, '(#100) No matching user found');
    if (user.blocked) throw new GraphError(551, 1545041, messageFor(551, null));
    requireWindow(page, user, send, now);
    const optIn = validated?.optInRequest;
    if (optIn) {
      const key = `${optIn.kind}\u0000${optIn.title}`;
      const lastAt = user.optInRequests?.get(key);
      if (lastAt !== undefined && now - lastAt < OPT_IN_DEDUP_MS) {
        throw new GraphError(613, 1893016, '(#613) Duplicate opt-in request: the same title was sent to this person within 7 days');
      }
      (user.optInRequests ??= new Map()).set(key, now);
    }
    const accepted = record(user.psid, {}, user.thread);
    return { status: 200, body: accepted ? { recipient_id: user.psid, message_id: accepted.mid } : { recipient_id: user.psid } };
  }

  if (recipientKind === 'user_ref') {
    const ref = page.userRefs.get(recipientValue);
    if (!ref) throw new GraphError(100, 2018001, '(#100) No matching user found');
    if (now - ref.optedInAt > WINDOW_MS) throw new GraphError(10, 2018278, messageFor(10, 2018278));
    if (validated?.optInRequest) throw new GraphError(100, null, '(#100) Opt-in requests can only be sent to a PSID');
    const accepted = record(undefined, { userRef: ref.userRef }, ref.messages);
    // Meta omits recipient_id for user_ref sends.
    return { status: 200, body: accepted ? { message_id: accepted.mid } : {} };
  }

  if (!validated) throw new GraphError(100, null, '(#100) sender_action cannot be sent with a notification token');
  if (validated.optInRequest) throw new GraphError(100, null, '(#100) Opt-in requests can only be sent to a PSID');

  if (recipientKind === 'one_time_notif_token') {
    const token = state.tokens.get(recipientValue);
    if (!token || token.kind !== 'ONE_TIME' || token.pageId !== page.id) {
      throw new GraphError(100, null, '(#100) Invalid one_time_notif_token: the token is unknown for this Page');
    }
    if (token.usedAt !== null) throw new GraphError(100, null, '(#100) The one_time_notif_token has already been used');
    if (now >= token.expiresAt) throw new GraphError(100, null, '(#100) The one_time_notif_token has expired');
    const user = page.users.get(token.psid);
    if (user?.blocked) throw new GraphError(551, 1545041, messageFor(551, null));
    token.usedAt = now;
    const accepted = record(token.psid, { tokenKind: 'ONE_TIME', topic: token.payload }, user?.thread);
    return { status: 200, body: { recipient_id: token.psid, message_id: accepted?.mid } };
  }

  const token = state.tokens.get(recipientValue);
  if (!token || token.kind !== 'RECURRING' || token.pageId !== page.id) {
    throw new GraphError(100, null, '(#100) Invalid notification_messages_token: the token is unknown for this Page');
  }
  if (now >= token.expiresAt) throw new GraphError(100, null, '(#100) notification_messages_token has expired');
  if (token.stopped) throw new GraphError(10, 1893015, '(#10) The user has currently stopped notification messages for this topic');
  const user = page.users.get(token.psid);
  if (user?.blocked) throw new GraphError(551, 1545041, messageFor(551, null));
  if (token.nextEligibleAt !== null && now < token.nextEligibleAt) {
    throw new GraphError(4, 2018354, `(#4) Minimum delay between 2 notifications not met. Next eligible time: ${Math.ceil(token.nextEligibleAt / 1000)}`);
  }
  token.lastSentAt = now;
  token.nextEligibleAt = state.nextEligibleAfter(page, token, now);
  const accepted = record(token.psid, { tokenKind: 'RECURRING', topic: token.payload }, user?.thread);
  const recipientKey = options.recurringAnswersRecipient ? 'recipient' : 'recipient_id';
  return { status: 200, body: { [recipientKey]: token.psid, message_id: accepted?.mid } };
}
