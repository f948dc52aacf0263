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
