import { createHmac } from 'node:crypto';

/**
 * Serialises a webhook body the way Meta's sender does (PHP json_encode style): every non-ASCII UTF-16 unit
 * as a lowercase \uXXXX escape and "/" as "\/". Receivers that re-serialise before verifying will fail, as with Meta.
 */
export function toMetaJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u0080-\uffff]|\//g, (char) =>
    char === '/' ? '\\/' : `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Legacy X-Hub-Signature header value (SHA-1), which Meta still sends next to the SHA-256 one. */
export function signBodySha1(body: string | Buffer, appSecret: string): string {
  return `sha1=${createHmac('sha1', appSecret).update(body).digest('hex')}`;
}

/** X-Hub-Signature-256 header value for the exact bytes sent. */
export function signBody(body: string | Buffer, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}
