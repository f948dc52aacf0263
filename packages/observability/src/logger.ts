import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Keys whose values are secrets wherever they appear (top level or nested one/two levels).
 * Opt-in tokens count as secrets: they let anyone message the person.
 */
const SECRET_KEYS = [
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

export const REDACTED_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((key) => `*.${key}`),
  ...SECRET_KEYS.map((key) => `*.*.${key}`),
  'req.headers.authorization',
  'req.headers["x-hub-signature-256"]',
  'headers.authorization',
];

/** Strips access tokens that may sit in a URL's query string (Graph API style). */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:access_token|appsecret_proof)=)[^&]*/g, '$1[Redacted]');
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
    formatters: { level: (label) => ({ level: label }) },
    serializers: {
      err: pino.stdSerializers.err,
      req: (req: { method?: string; url?: string; id?: string }) => ({
        id: req.id,
        method: req.method,
        url: req.url ? redactUrl(req.url) : req.url,
      }),
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
