/**
 * Topic scheme. A topic is the string stored on a token (OptIn.topic) and on an event; a token matches an
 * event when the strings are equal. The same helper builds the topic when asking someone to opt in and when
 * matching an event, so the two can never drift apart.
 *
 *   back_in_stock:<productId>            anyone who asked about the product, any variant
 *   back_in_stock:<productId>:<variant>  one variant (e.g. size 42)
 *   price_drop:<productId>
 *   <custom topic>                       as given by the business (e.g. "weekly_deals")
 *
 * Ids are percent-encoded ('%' → %25, ':' → %3A) so an id containing ':' cannot forge another topic.
 */

export type TopicSubject =
  | { type: 'back_in_stock'; productId: string | number; variant?: string | number | null }
  | { type: 'price_drop'; productId: string | number }
  | { type: 'custom'; topic: string };

export const TOPIC_MAX_LENGTH = 255;

export class TopicError extends Error {
  override name = 'TopicError';
}

export function encodeTopicPart(value: string): string {
  // Most ids hold neither character: skip the two replacements (every ingested event builds its topics).
  if (!value.includes('%') && !value.includes(':')) return value;
  return value.replace(/%/g, '%25').replace(/:/g, '%3A');
}

/** Inverse of encodeTopicPart; `null` when the text is not a valid encoding (stray '%' or ':'). */
export function decodeTopicPart(value: string): string | null {
  if (value.includes(':')) return null;
  let out = '';
  for (let i = 0; i < value.length; i += 1) {
    const ch = value[i];
    if (ch !== '%') {
      out += ch;
      continue;
    }
    const code = value.slice(i + 1, i + 3);
    if (code === '25') out += '%';
    else if (code === '3A') out += ':';
    else return null;
    i += 2;
  }
  return out;
}

function idPart(value: string | number, what: string): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TopicError(`${what} must be a finite number or a string, got ${value}`);
    return String(value);
  }
  if (typeof value !== 'string' || value.length === 0) throw new TopicError(`${what} must be a non-empty string`);
  return encodeTopicPart(value);
}

function checkLength(topic: string): string {
  // Characters, not UTF-16 units; a string of at most TOPIC_MAX_LENGTH units cannot hold more characters.
  const length = topic.length <= TOPIC_MAX_LENGTH ? topic.length : [...topic].length;
  if (length === 0) throw new TopicError('Topic must not be empty');
  if (length > TOPIC_MAX_LENGTH) {
    throw new TopicError(`Topic is ${length} characters; the maximum is ${TOPIC_MAX_LENGTH} (shorten the ids): "${topic.slice(0, 40)}…"`);
  }
  return topic;
}

/** The topic a token is stored under. Throws TopicError on empty ids or a topic over 255 characters. */
export function topicFor(subject: TopicSubject): string {
  switch (subject.type) {
    case 'back_in_stock': {
      const product = idPart(subject.productId, 'back_in_stock productId');
      const hasVariant = subject.variant !== undefined && subject.variant !== null;
      const variant = hasVariant ? `:${idPart(subject.variant as string | number, 'back_in_stock variant')}` : '';
      return checkLength(`back_in_stock:${product}${variant}`);
    }
    case 'price_drop':
      return checkLength(`price_drop:${idPart(subject.productId, 'price_drop productId')}`);
    case 'custom':
      if (typeof subject.topic !== 'string') throw new TopicError('custom topic must be a string');
      return checkLength(subject.topic);
    default:
      throw new TopicError(`Unknown topic subject type "${(subject as { type: unknown }).type as string}"`);
  }
}

/**
 * Every topic an event reaches, most specific first. A back-in-stock event for a variant also reaches people
 * who asked about the product without naming a variant.
 */
export function matchingTopics(event: TopicSubject): string[] {
  if (event.type === 'back_in_stock' && event.variant !== undefined && event.variant !== null) {
    return [topicFor(event), topicFor({ type: 'back_in_stock', productId: event.productId })];
  }
  return [topicFor(event)];
}

/**
 * The subject a topic was built from, where the topic has the shape of a structured one; anything else is a
 * custom topic. Ids come back as strings (a numeric productId 123 parses as '123').
 */
export function parseTopic(topic: string): TopicSubject {
  const parts = topic.split(':');
  const decoded = parts.slice(1).map(decodeTopicPart);
  const valid = decoded.every((part): part is string => part !== null && part.length > 0);
  if (valid && parts[0] === 'back_in_stock' && (decoded.length === 1 || decoded.length === 2)) {
    const [productId, variant] = decoded as [string, string | undefined];
    return variant === undefined ? { type: 'back_in_stock', productId } : { type: 'back_in_stock', productId, variant };
  }
  if (valid && parts[0] === 'price_drop' && decoded.length === 1) {
    return { type: 'price_drop', productId: decoded[0] as string };
  }
  return { type: 'custom', topic };
}
