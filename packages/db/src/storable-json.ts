/*
 * Postgres cannot store NUL in text, nor `\u0000` or an unpaired surrogate escape in jsonb. Dead letters exist to
 * keep exactly such inputs, so before storing one every string (and key) is made storable: the offending code
 * units become visible `\uXXXX` text. Nothing else changes, and the original is still readable.
 */

// Matching NUL is the point here.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `text` with NUL and lone surrogates written as `\uXXXX` escapes. */
export function storableText(text: string): string {
  return text.replace(UNSTORABLE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A deep copy of a JSON-like value in which every string and key is storable text (see storableText). */
export function storableJson(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return storableText(value);
  if (value === null || typeof value !== 'object' || depth > 64) return value;
  if (Array.isArray(value)) return value.map((item) => storableJson(item, depth + 1));
  // toJSON first (Dates and the like), as JSON.stringify would.
  const plain = typeof (value as { toJSON?: unknown }).toJSON === 'function' ? (value as { toJSON(): unknown }).toJSON() : value;
  if (plain !== value) return storableJson(plain, depth + 1);
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [storableText(key), storableJson(inner, depth + 1)]));
}
