import { createHmac, timingSafeEqual } from 'node:crypto';

const SIGNATURE_HEADER = /^sha256=([0-9a-fA-F]{64})$/;

function hmac(rawBody: Buffer | string, appSecret: string): Buffer {
  return createHmac('sha256', appSecret).update(rawBody).digest();
}

/** The X-Hub-Signature-256 header value Meta sends for `rawBody`. */
export function signPayload(rawBody: Buffer | string, appSecret: string): string {
  return `sha256=${hmac(rawBody, appSecret).toString('hex')}`;
}

/**
 * Checks X-Hub-Signature-256 over the exact bytes received (never re-serialised JSON: Meta signs its
 * \uXXXX-escaped form). Missing or malformed headers are simply invalid; comparison is constant-time.
 */
export function verifySignature(rawBody: Buffer | string, header: string | undefined, appSecret: string): boolean {
  if (typeof header !== 'string' || appSecret.length === 0) return false;
  const match = SIGNATURE_HEADER.exec(header.trim());
  if (!match?.[1]) return false;
  const received = Buffer.from(match[1], 'hex');
  return timingSafeEqual(received, hmac(rawBody, appSecret));
}

/**
 * Serialises like Meta's webhook sender: every non-ASCII UTF-16 unit as a lowercase \uXXXX escape and "/" as "\/".
 * Tests use it to produce the same bytes Meta would sign.
 */
export function toMetaJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u0080-\uffff]|\//g, (char) =>
    char === '/' ? '\\/' : `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
