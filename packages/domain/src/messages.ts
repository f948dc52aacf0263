import type { TopicSubject } from './topics.js';

/** Meta's limit for message.text. */
export const MESSAGE_TEXT_MAX_LENGTH = 2000;
const ELLIPSIS = '…';

export type NotificationEvent =
  | {
      type: 'back_in_stock';
      productId: string | number;
      productName?: string | null;
      variant?: string | number | null;
      url?: string | null;
    }
  | {
      type: 'price_drop';
      productId: string | number;
      productName?: string | null;
      /** ISO 4217 code, e.g. 'EUR'. Prices are in major units (9.99). */
      currency: string;
      price: number;
      previousPrice?: number | null;
      url?: string | null;
      /** BCP 47 locale for number formatting; 'en' by default. */
      locale?: string | null;
    }
  | { type: 'custom'; topic: string; message: string };

export interface MessageContent {
  text: string;
}

// Compile-time check that every event is a valid topic subject, so matchingTopics(event) works on events.
const _eventsAreSubjects = (event: NotificationEvent): TopicSubject => event;
void _eventsAreSubjects;

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

/**
 * Replaces `{{name}}` placeholders with values. Plain text substitution only: no expressions, no code.
 * A placeholder without a value throws an Error that names it. Values are inserted verbatim (never re-scanned).
 */
export function renderTemplate(template: string, vars: Readonly<Record<string, string | number>>): string {
  return template.replace(PLACEHOLDER, (_match, name: string) => {
    if (!Object.prototype.hasOwnProperty.call(vars, name)) {
      throw new Error(`Template variable "${name}" is missing`);
    }
    return String(vars[name]);
  });
}

/** The placeholder names a template uses, in order of first appearance (for validating templates up front). */
export function templateVariables(template: string): string[] {
  const names: string[] = [];
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1] as string;
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/**
 * Fits text into Meta's 2000-character limit by TRUNCATING with an ellipsis (never throws); never splits a
 * surrogate pair. Counted in UTF-16 units, which is never fewer than Meta's character count.
 */
export function fitMessageText(text: string, maxLength: number = MESSAGE_TEXT_MAX_LENGTH): string {
  if (text.length <= maxLength) return text;
  let cut = maxLength - ELLIPSIS.length;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return text.slice(0, cut) + ELLIPSIS;
}

export function formatMoney(amount: number, currency: string, locale: string = 'en'): string {
  if (!Number.isFinite(amount)) throw new Error(`Price must be a finite number, got ${amount}`);
  try {
    return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(amount);
  } catch (error) {
    throw new Error(`Cannot format price in currency "${currency}" / locale "${locale}": ${(error as Error).message}`);
  }
}

function withUrl(text: string, url: string | null | undefined): string {
  return url ? `${text}\n${url}` : text;
}

/** The default text for an event, truncated to 2000 characters (see fitMessageText). */
export function defaultMessageFor(event: NotificationEvent): MessageContent {
  switch (event.type) {
    case 'back_in_stock': {
      const name = event.productName || String(event.productId);
      const variant = event.variant !== undefined && event.variant !== null && event.variant !== '' ? ` (${event.variant})` : '';
      return { text: fitMessageText(withUrl(`Good news: ${name}${variant} is back in stock.`, event.url)) };
    }
    case 'price_drop': {
      const name = event.productName || String(event.productId);
      const locale = event.locale || 'en';
      const now = formatMoney(event.price, event.currency, locale);
      const was =
        event.previousPrice !== undefined && event.previousPrice !== null
          ? ` (was ${formatMoney(event.previousPrice, event.currency, locale)})`
          : '';
      return { text: fitMessageText(withUrl(`Price drop: ${name} is now ${now}${was}`, event.url)) };
    }
    case 'custom':
      if (typeof event.message !== 'string' || event.message.length === 0) throw new Error('custom event needs a non-empty message');
      return { text: fitMessageText(event.message) };
    default:
      throw new Error(`Unknown event type "${(event as { type: unknown }).type as string}"`);
  }
}
