import { z } from 'zod';
import { MESSAGE_TEXT_MAX_LENGTH, defaultMessageFor, fitMessageText, formatMoney, renderTemplate, type MessageContent, type NotificationEvent } from './messages.js';
import { TOPIC_MAX_LENGTH, matchingTopics, type TopicSubject } from './topics.js';

/**
 * The event contract: the business events producers send (HTTP `POST /v1/events` and the Redis SDK share this
 * schema), and how a stored event is rendered (topic, payload, message text). Pure: no I/O, so every layer
 * (db stores events, queue carries them, apps validate them) imports it from here.
 * Objects are strict: a misspelt field ("newprice") is reported instead of silently ignored.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Postgres text and jsonb cannot hold NUL (U+0000), and a lone UTF-16 surrogate is not UTF-8: the driver would
 * store U+FFFD instead (or jsonb refuses it). Such strings are refused at the boundary, naming the field.
 */
export function pgUnsafeReason(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain NUL (\\u0000) characters';
  if (LONE_SURROGATE.test(text)) return 'must not contain lone UTF-16 surrogates';
  return undefined;
}

/** The key as text that can be stored and shown: NUL and lone surrogates as \\uXXXX escapes. */
function escapeUnsafe(key: string): string {
  return key.replace(new RegExp(`\u0000|${LONE_SURROGATE.source}`, 'g'), (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export interface PgUnsafeString {
  path: Array<string | number>;
  message: string;
}

/** Any UTF-16 unit that may make a string unstorable: most strings have none, and then one test settles them. */
// eslint-disable-next-line no-control-regex -- NUL is exactly what it looks for
const MAYBE_UNSAFE = /[\u0000\uD800-\uDFFF]/;

/**
 * Whether any string (object keys included) may be unstorable. Every request body is checked, so this walk
 * allocates nothing (no paths, no entry arrays); only when it finds a candidate does findPgUnsafeStrings build
 * the precise report.
 */
function mayHoldPgUnsafeString(node: unknown, depth: number): boolean {
  if (typeof node === 'string') return MAYBE_UNSAFE.test(node);
  if (node === null || typeof node !== 'object' || depth > 64) return false;
  if (Array.isArray(node)) {
    for (const item of node) if (mayHoldPgUnsafeString(item, depth + 1)) return true;
    return false;
  }
  for (const key in node) {
    if (!Object.hasOwn(node, key)) continue;
    if (MAYBE_UNSAFE.test(key) || mayHoldPgUnsafeString((node as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

/** Every string (object keys included) in a JSON-like value that Postgres cannot store as is. */
export function findPgUnsafeStrings(value: unknown, limit = 20): PgUnsafeString[] {
  const found: PgUnsafeString[] = [];
  if (!mayHoldPgUnsafeString(value, 0)) return found;
  const visit = (node: unknown, path: Array<string | number>, depth: number): void => {
    if (found.length >= limit || depth > 64) return;
    if (typeof node === 'string') {
      const reason = pgUnsafeReason(node);
      if (reason) found.push({ path, message: reason });
    } else if (Array.isArray(node)) {
      node.forEach((item, index) => visit(item, [...path, index], depth + 1));
    } else if (node && typeof node === 'object') {
      for (const [key, inner] of Object.entries(node)) {
        const keyReason = pgUnsafeReason(key);
        if (keyReason) found.push({ path: [...path, escapeUnsafe(key)], message: `field name ${keyReason}` });
        else visit(inner, [...path, key], depth + 1);
      }
    }
  };
  visit(value, [], 0);
  return found;
}

/** A zod check for any schema: adds one issue per string Postgres cannot store (see findPgUnsafeStrings). */
export function refinePgSafe(value: unknown, ctx: z.RefinementCtx): void {
  for (const unsafe of findPgUnsafeStrings(value)) ctx.addIssue({ code: 'custom', path: unsafe.path, message: unsafe.message });
}

/** A string that Postgres stores exactly as given. */
export const pgSafeString = z.string().superRefine((text, ctx) => {
  const reason = pgUnsafeReason(text);
  if (reason) ctx.addIssue({ code: 'custom', message: reason });
});

export const EVENT_TYPES = ['back_in_stock', 'price_drop', 'custom'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EVENT_PRIORITIES = ['high', 'normal', 'low'] as const;
export type EventPriority = (typeof EVENT_PRIORITIES)[number];

/** Largest batch accepted in one request or one `publish` call. */
export const MAX_EVENTS_PER_BATCH = 1_000;
export const EVENT_ID_MAX_LENGTH = 200;

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));
const TEMPLATE_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

const text = (max: number) => z.string().trim().min(1).max(max);
/** Shops use numeric and string product ids; both become the same string (and the same topic). */
const idLike = (what: string) =>
  z
    .union([z.string().min(1).max(200), z.number().finite()], { error: `${what} must be a non-empty string (at most 200 characters) or a number` })
    .transform(String);
const productId = idLike('productId');

const commonFields = {
  /** The producer's idempotency key: the same id twice is one event. */
  id: z.string().min(1).max(EVENT_ID_MAX_LENGTH),
  pageId: z
    .string({ error: 'pageId must be a string (Facebook Page ids exceed safe JSON integers: send them as strings)' })
    .min(1)
    .max(100),
  occurredAt: z.iso.datetime({ offset: true }).optional(),
  /** Overrides the dispatch priority class of this event's deliveries (by token kind when absent). */
  priority: z.enum(EVENT_PRIORITIES).optional(),
  /** Replaces the default text for this event. */
  message: z.strictObject({ text: text(MESSAGE_TEXT_MAX_LENGTH) }).optional(),
  /** `{{name}}` placeholders, filled from the event's own fields and `vars` (vars win). */
  template: text(MESSAGE_TEXT_MAX_LENGTH).optional(),
  vars: z
    .record(z.string().regex(TEMPLATE_VAR_NAME, 'template variable names are letters, digits, "_", "." or "-"'), z.union([z.string().max(1_000), z.number().finite()]))
    .optional(),
};

const backInStockSchema = z.strictObject({
  ...commonFields,
  type: z.literal('back_in_stock'),
  productId,
  variant: idLike('variant').optional(),
  productName: text(500).optional(),
  url: z.url({ protocol: /^https?$/ }).max(2_000).optional(),
});

const priceDropSchema = z.strictObject({
  ...commonFields,
  type: z.literal('price_drop'),
  productId,
  oldPrice: z.number().finite().positive(),
  newPrice: z.number().finite().nonnegative(),
  currency: z.string().refine((code) => CURRENCIES.has(code), 'currency must be an ISO 4217 code in upper case, such as "EUR"'),
  productName: text(500).optional(),
  url: z.url({ protocol: /^https?$/ }).max(2_000).optional(),
});

const customSchema = z.strictObject({
  ...commonFields,
  type: z.literal('custom'),
  /** The topic people opted in to, verbatim (e.g. "weekly_deals"). */
  topic: text(TOPIC_MAX_LENGTH),
  text: text(MESSAGE_TEXT_MAX_LENGTH),
});

export const eventInputSchema = z
  .discriminatedUnion('type', [backInStockSchema, priceDropSchema, customSchema], {
    error: (issue) =>
      issue.code === 'invalid_union' ? `type must be one of ${EVENT_TYPES.map((type) => `"${type}"`).join(', ')}` : undefined,
  })
  .superRefine((event, ctx) => {
    // Every string of the event reaches Postgres (columns, payload and message jsonb).
    refinePgSafe(event, ctx);
    // zod runs this even when fields failed; cross-field checks skip the fields already reported.
    const invalid = new Set(ctx.issues.map((issue) => String(issue.path?.[0])));
    const fieldsValid = (...fields: string[]) => fields.every((field) => !invalid.has(field));
    if (event.type === 'price_drop' && fieldsValid('oldPrice', 'newPrice') && event.newPrice >= event.oldPrice) {
      ctx.addIssue({ code: 'custom', path: ['newPrice'], message: `a price drop needs newPrice (${event.newPrice}) below oldPrice (${event.oldPrice})` });
    }
    if (fieldsValid('type', 'productId', 'variant', 'topic')) {
      try {
        eventTopic(event);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: [event.type === 'custom' ? 'topic' : 'productId'], message: (error as Error).message });
      }
    }
    if (event.message && event.template !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['template'], message: 'give either message or template, not both' });
    } else if (event.template !== undefined) {
      // Rendering needs every field valid (formatted prices, ids).
      if (ctx.issues.length > 0) return;
      try {
        renderTemplate(event.template, templateVars(event));
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['template'], message: `${(error as Error).message}: add it to vars` });
      }
    } else if (event.vars !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['vars'], message: 'vars are only used with a template' });
    }
  });

/** A validated event (ids normalised to strings). */
export type EventInput = z.output<typeof eventInputSchema>;
/** What a producer may send (numeric product ids allowed). */
export type EventInputDraft = z.input<typeof eventInputSchema>;

export interface EventProblem {
  /** Position in the submitted array (0 for a single object); -1 for the body as a whole. */
  index: number;
  /** Dotted path inside the event, e.g. "message.text"; "(event)" for the event itself, "(body)" for the body. */
  path: string;
  message: string;
}

export type ParseEventsResult = { ok: true; events: EventInput[] } | { ok: false; problems: EventProblem[] };

/** Validates one event or an array of up to 1,000 and reports every problem of every event by index. */
export function parseEvents(input: unknown): ParseEventsResult {
  const items = Array.isArray(input) ? input : [input];
  if (Array.isArray(input)) {
    if (input.length === 0) return { ok: false, problems: [{ index: -1, path: '(body)', message: 'send at least one event' }] };
    if (input.length > MAX_EVENTS_PER_BATCH) {
      return {
        ok: false,
        problems: [{ index: -1, path: '(body)', message: `${input.length} events in one batch; the maximum is ${MAX_EVENTS_PER_BATCH}: split it` }],
      };
    }
  } else if (input === null || typeof input !== 'object') {
    return { ok: false, problems: [{ index: -1, path: '(body)', message: 'expected an event object or an array of events' }] };
  }
  const events: EventInput[] = [];
  const problems: EventProblem[] = [];
  items.forEach((item, index) => {
    const result = eventInputSchema.safeParse(item);
    if (result.success) {
      events.push(result.data);
      return;
    }
    for (const issue of result.error.issues) {
      const path = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) problems.push({ index, path: path ? `${path}.${key}` : key, message: `unknown field "${key}"` });
      } else {
        problems.push({ index, path: path || '(event)', message: issue.message });
      }
    }
  });
  return problems.length ? { ok: false, problems } : { ok: true, events };
}

/** The same id twice is one event: keeps the first occurrence of each id, in order. */
export function uniqueEvents(events: readonly EventInput[]): EventInput[] {
  const seen = new Set<string>();
  return events.filter((event) => !seen.has(event.id) && seen.add(event.id));
}

function topicSubject(event: EventInput): TopicSubject {
  switch (event.type) {
    case 'back_in_stock':
      return { type: 'back_in_stock', productId: event.productId, variant: event.variant ?? null };
    case 'price_drop':
      return { type: 'price_drop', productId: event.productId };
    case 'custom':
      return { type: 'custom', topic: event.topic };
  }
}

/** The most specific topic the event reaches (a variant's topic before the product's). */
export function eventTopic(event: EventInput): string {
  return matchingTopics(topicSubject(event))[0] as string;
}

/** Every topic the event reaches, most specific first (what fan-out matches tokens against). */
export function eventTopics(event: EventInput): string[] {
  return matchingTopics(topicSubject(event));
}

/** The type-specific fields, as stored in Event.payload. */
export function eventPayload(event: EventInput): Record<string, unknown> {
  const { id: _id, pageId: _pageId, type: _type, message: _message, template: _template, vars: _vars, priority: _priority, ...payload } = event;
  return payload;
}

function notificationEvent(event: EventInput): NotificationEvent {
  switch (event.type) {
    case 'back_in_stock':
      return { type: 'back_in_stock', productId: event.productId, variant: event.variant, productName: event.productName, url: event.url };
    case 'price_drop':
      return {
        type: 'price_drop',
        productId: event.productId,
        productName: event.productName,
        currency: event.currency,
        price: event.newPrice,
        previousPrice: event.oldPrice,
        url: event.url,
      };
    case 'custom':
      return { type: 'custom', topic: event.topic, message: event.text };
  }
}

/** Template variables: the event's own scalar fields (plus formatted prices), overridden by `vars`. */
function templateVars(event: EventInput): Record<string, string | number> {
  const own: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(eventPayload(event))) {
    if (typeof value === 'string' || typeof value === 'number') own[key] = value;
  }
  own.pageId = event.pageId;
  if (event.type === 'price_drop') {
    own.oldPriceFormatted = formatMoney(event.oldPrice, event.currency);
    own.newPriceFormatted = formatMoney(event.newPrice, event.currency);
  }
  return { ...own, ...event.vars };
}

/** The text sent for the event: the `message` override, else the rendered `template`, else the type's default. */
export function eventMessage(event: EventInput): MessageContent {
  if (event.message) return { text: event.message.text };
  if (event.template !== undefined) return { text: fitMessageText(renderTemplate(event.template, templateVars(event))) };
  return defaultMessageFor(notificationEvent(event));
}
