import { redactDatabaseText, redactUrl, SECRET_KEYS } from './logger.js';

/**
 * One redaction for stored Meta payloads (webhook bodies, dead-letter payloads) before they leave through the API.
 * Three layers, because a raw body may not even be JSON:
 *   1. by field name: any key in the logger's SECRET_KEYS, Graph's `appsecret_proof`, or a name that says
 *      token/secret/password/signature, at any depth, also inside strings that hold JSON (a stored `rawBody`);
 *   2. by value: every occurrence of a known secret (the caller looks candidate strings up among stored opt-in
 *      tokens, see `secretCandidates`), wherever it appears;
 *   3. in text that is not JSON: `"key": "value"` / `key=value` pairs of secret names; in a body that looks like
 *      JSON but does not parse (a truncated or malformed raw body), also every token-shaped run (40+ opaque
 *      characters). Well-formed strings keep their long ids (message ids are long too).
 */

export const REDACTED = '[Redacted]';

const SECRET_KEY_NAMES = new Set([...SECRET_KEYS, 'appsecret_proof'].map((key) => key.toLowerCase()));
const SECRET_KEY_PATTERN = /token|secret|password|signature|access_?key|api_?key|appsecret/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY_NAMES.has(key.toLowerCase()) || SECRET_KEY_PATTERN.test(key);
}

/** Opt-in tokens and Graph access tokens are long opaque runs; UUIDs and Page ids are not redacted by shape. */
const TOKEN_SHAPED = /[A-Za-z0-9_\-.~]{40,}={0,2}/g;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** `"one_time_notif_token": "…"`, `token=…`, `'access_token':'…'` in text that JSON.parse refused. */
const SECRET_PAIR = /(["']?)([A-Za-z_]*(?:token|secret|password|signature|appsecret_proof|api_?key)[A-Za-z_]*)\1(\s*[:=]\s*)(?!\[Redacted\])("(?:[^"\\]|\\.)*"?|'[^']*'?|[^\s&,;}\]]+)/gi;

export interface PayloadRedactionOptions {
  /** Secrets found in the payload by the caller (stored tokens); each is cut out of every string. */
  knownSecrets?: Iterable<string>;
}

/** Strings in a payload worth looking up as stored tokens: values of any length ≥ 8, and token-shaped runs in text. */
export function secretCandidates(value: unknown, limit = 1_000): string[] {
  const found = new Set<string>();
  const visit = (node: unknown, depth: number): void => {
    if (found.size >= limit || depth > 64) return;
    if (typeof node === 'string') {
      const parsed = parseJsonText(node);
      if (parsed !== undefined) return visit(parsed, depth + 1);
      if (node.length >= 8 && node.length <= 1_024) found.add(node);
      for (const match of node.matchAll(TOKEN_SHAPED)) found.add(match[0]);
      return;
    }
    if (Array.isArray(node)) for (const item of node) visit(item, depth + 1);
    else if (node && typeof node === 'object') for (const inner of Object.values(node)) visit(inner, depth + 1);
  };
  visit(value, 0);
  return [...found].slice(0, limit);
}

/** A copy of `value` with secrets replaced by "[Redacted]" (see the module comment). */
export function redactPayload(value: unknown, options: PayloadRedactionOptions = {}): unknown {
  // Longest first, so a secret that contains another is cut whole.
  const known = [...new Set(options.knownSecrets ?? [])].filter((secret) => secret.length > 0).sort((a, b) => b.length - a.length);
  const cutKnown = (text: string) => known.reduce((out, secret) => out.split(secret).join(REDACTED), text);
  const redactText = (text: string): string => {
    const parsed = parseJsonText(text);
    if (parsed !== undefined) return JSON.stringify(walk(parsed, 0));
    const pairsCut = redactUrl(cutKnown(text)).replace(SECRET_PAIR, (_match, quote: string, key: string, separator: string, secret: string) => {
      const valueQuote = secret[0] === '"' || secret[0] === "'" ? secret[0] : '';
      return `${quote}${key}${quote}${separator}${valueQuote}${REDACTED}${valueQuote}`;
    });
    const brokenJson = /^\s*[[{]/.test(text);
    return redactDatabaseText(brokenJson ? pairsCut.replace(TOKEN_SHAPED, (run) => (UUID.test(run) ? run : REDACTED)) : pairsCut);
  };
  const walk = (node: unknown, depth: number): unknown => {
    if (depth > 64) return REDACTED;
    if (typeof node === 'string') return redactText(node);
    if (Array.isArray(node)) return node.map((item) => walk(item, depth + 1));
    if (node && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([key, inner]) => [key, isSecretKey(key) && inner !== null ? REDACTED : walk(inner, depth + 1)]));
    }
    return node;
  };
  return walk(value, 0);
}

/** The object or array a string holds as JSON text (a stored raw body), else undefined. */
function parseJsonText(text: string): unknown {
  const start = text.trimStart()[0];
  if (start !== '{' && start !== '[') return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}
