import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './http-errors.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * `Authorization: Bearer <key>` against the configured keys. Comparing digests keeps the comparison
 * constant-time regardless of key length.
 */
export function bearerAuth(apiKeys: readonly string[]) {
  const allowed = apiKeys.map(digest);
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
    if (!match?.[1]) throw new HttpError(401, 'unauthorized', 'Missing API key: send "Authorization: Bearer <api key>"');
    const presented = digest(match[1].trim());
    if (!allowed.some((key) => timingSafeEqual(key, presented))) throw new HttpError(401, 'unauthorized', 'Unknown API key');
  };
}

/**
 * For the browser-facing admin UI (/admin/*): Bearer as everywhere, or HTTP Basic with the API key as the
 * password (any user name), so a browser's login prompt works. A 401 carries `WWW-Authenticate: Basic` to
 * trigger that prompt. Basic sends the key on every request: serve /admin over HTTPS only.
 */
export function adminAuth(apiKeys: readonly string[]) {
  const bearer = bearerAuth(apiKeys);
  const allowed = apiKeys.map(digest);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    const basic = header ? /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header) : null;
    if (!basic?.[1]) {
      try {
        return await bearer(request, reply);
      } catch (error) {
        reply.header('www-authenticate', 'Basic realm="Renotify admin", charset="UTF-8"');
        throw error;
      }
    }
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const presented = digest(colon === -1 ? '' : decoded.slice(colon + 1));
    if (colon === -1 || !allowed.some((key) => timingSafeEqual(key, presented))) {
      reply.header('www-authenticate', 'Basic realm="Renotify admin", charset="UTF-8"');
      throw new HttpError(401, 'unauthorized', 'Unknown API key: use it as the password (any user name)');
    }
  };
}
