import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Keys whose values are secrets wherever they appear (top level or nested one/two levels).
 * Opt-in tokens count as secrets: they let anyone message the person.
 */
export const SECRET_KEYS = [
  'token',
  'accessToken',
  'access_token',
  'pageAccessToken',
  'appSecret',
  'app_secret',
  'secret',
  'apiKey',
  'authorization',
  'password',
  'one_time_notif_token',
  'notification_messages_token',
  'encryptionKey',
];

/**
 * Keys that name a person (Meta's Page-scoped user id, the checkbox plugin's user_ref). Not secrets, but personal
 * data: an erase (DELETE …/subscribers/:psid) cannot reach log files, so log lines never carry them.
 */
export const PERSONAL_KEYS = ['psid', 'userRef', 'user_ref'];

export const REDACTED_PATHS = [
  ...[...SECRET_KEYS, ...PERSONAL_KEYS],
  ...[...SECRET_KEYS, ...PERSONAL_KEYS].map((key) => `*.${key}`),
  ...[...SECRET_KEYS, ...PERSONAL_KEYS].map((key) => `*.*.${key}`),
  'req.headers.authorization',
  'req.headers["x-hub-signature-256"]',
  'headers.authorization',
];

/** Strips access tokens that may sit in a URL's query string (Graph API style). */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:access_token|appsecret_proof)=)[^&]*/g, '$1[Redacted]');
}

/**
 * A request URL as logged: no access token, and no person. The Subscribers API carries the PSID as a path
 * segment (`/v1/pages/1/subscribers/<psid>/stop`), and a PSID or user_ref may come as a query parameter.
 */
export function redactRequestUrl(url: string): string {
  return redactUrl(url)
    .replace(/([?&](?:psid|user_ref|userRef)=)[^&#]*/g, '$1[Redacted]')
    .replace(/(\/subscribers\/)[^/?#]+/g, '$1[Redacted]');
}

/*
 * Database errors quote the values they trip over: Postgres' `detail` ("Key (token)=(…) already exists.",
 * "Failing row contains (…)"), `where`/`internalQuery`, driver query parameters, Prisma's `meta`. Opt-in tokens
 * are such values, so these fields are dropped and quoted values cut out of any text that reaches a log line.
 */
const DROPPED_ERROR_FIELDS = new Set(['detail', 'where', 'hint', 'internalQuery', 'query', 'parameters', 'params', 'values', 'bindings', 'queryParams']);
/** Prisma `meta` keys that name columns and models, never row values. */
const SAFE_PRISMA_META = new Set(['modelName', 'target', 'field_name', 'constraint']);
const QUOTED_VALUES: Array<[RegExp, string]> = [
  // Unique / foreign-key / exclusion details: "Key (col)=(value) already exists." and friends.
  [/Key \(([^)]*)\)=\([\s\S]*?\)(?=\s+(?:already exists|is not present|is still referenced|conflicts with)|\.?\s*$)/gm, 'Key ($1)=([Redacted])'],
  [/Failing row contains \([\s\S]*?\)(?=\.?\s*$)/gm, 'Failing row contains ([Redacted])'],
];

/** Cuts values Postgres quoted out of a message (the column names stay: they explain the error). */
export function redactDatabaseText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of QUOTED_VALUES) out = out.replace(pattern, replacement);
  return out;
}

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactDatabaseText(value);
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (DROPPED_ERROR_FIELDS.has(key)) out[key] = '[Redacted]';
    else if (key === 'meta' && field && typeof field === 'object') {
      out.meta = Object.fromEntries(Object.entries(field).map(([name, metaValue]) => [name, SAFE_PRISMA_META.has(name) ? metaValue : '[Redacted]']));
    } else out[key] = scrub(field, depth + 1);
  }
  return out;
}

/** pino's error serializer, minus the values database errors quote (see DROPPED_ERROR_FIELDS). */
export function serializeError(error: unknown): unknown {
  return scrub(error instanceof Error ? pino.stdSerializers.err(error) : error, 0);
}

export interface LoggerSettings {
  name: string;
  level?: string;
  destination?: DestinationStream;
}

export function createLogger({ name, level = 'info', destination }: LoggerSettings): Logger {
  const options: LoggerOptions = {
    name,
    level,
    redact: { paths: REDACTED_PATHS, censor: '[Redacted]' },
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      // Errors logged under another key than `err` would otherwise be JSON-stringified with all their fields.
      log: (object) => {
        const out: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(object)) {
          out[key] = key !== 'err' && value instanceof Error ? serializeError(value) : typeof value === 'string' ? redactDatabaseText(value) : value;
        }
        return out;
      },
    },
    hooks: {
      logMethod(args, method) {
        // The message text too: `logger.warn(err.message)` must not carry a quoted token either.
        method.apply(this, args.map((arg: unknown) => (typeof arg === 'string' ? redactDatabaseText(arg) : arg)) as Parameters<typeof method>);
      },
    },
    serializers: {
      err: serializeError,
      req: (req: { method?: string; url?: string; id?: string }) => ({
        id: req.id,
        method: req.method,
        url: req.url ? redactRequestUrl(req.url) : req.url,
      }),
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
