import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { HttpError } from './http-errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** POSTs that create something: an `Idempotency-Key` header makes a retry answer the first response. */
    idempotent?: boolean;
  }
  interface FastifyRequest {
    idempotency?: { redisKey: string; fingerprint: string };
  }
}

/** How long a key is remembered (docs/api-conventions.md). */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
export const IDEMPOTENCY_HEADER = 'idempotency-key';

const storedAnswer = z.discriminatedUnion('state', [
  z.object({ state: z.literal('pending'), fingerprint: z.string() }),
  z.object({ state: z.literal('done'), fingerprint: z.string(), status: z.number().int(), contentType: z.string(), body: z.string() }),
]);

const fingerprintOf = (request: FastifyRequest) => createHash('sha256').update(request.rawBody ?? Buffer.alloc(0)).digest('hex');

/**
 * Idempotency keys, kept in Redis for 24 h (the store the queues already need; no migration for a cache).
 * The first request with a key claims it (SET NX) and runs; its 2xx answer is stored and replayed to every
 * retry with the same key and the same body bytes. The same key with another body answers 422; a retry while
 * the first is still running answers 409 (retry later). A non-2xx answer releases the key: fixing the cause
 * and retrying with the same key then runs the request again.
 */
export function registerIdempotency(scope: FastifyInstance, redis: Redis, prefix: string): void {
  scope.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.routeOptions.config.idempotent) return;
    const header = request.headers[IDEMPOTENCY_HEADER];
    const key = Array.isArray(header) ? header[0] : header;
    if (key === undefined) return;
    const path = request.url.split('?')[0] ?? request.url;
    const redisKey = `${prefix}:idempotency:${createHash('sha256').update(`${request.method} ${path} ${key}`).digest('hex')}`;
    const fingerprint = fingerprintOf(request);
    const claimed = await redis.set(redisKey, JSON.stringify({ state: 'pending', fingerprint }), 'EX', IDEMPOTENCY_TTL_SECONDS, 'NX');
    if (claimed === 'OK') {
      request.idempotency = { redisKey, fingerprint };
      return;
    }
    const stored = storedAnswer.safeParse(JSON.parse((await redis.get(redisKey)) ?? 'null'));
    if (!stored.success) throw new HttpError(409, 'idempotency_key_in_use', 'This Idempotency-Key is being processed; retry shortly', undefined, { retryable: true });
    if (stored.data.fingerprint !== fingerprint) {
      throw new HttpError(422, 'idempotency_key_reused', 'This Idempotency-Key was used with a different request body; use a new key for a new request', [
        { path: `headers.${IDEMPOTENCY_HEADER}`, message: 'already used with another body' },
      ]);
    }
    if (stored.data.state === 'pending') {
      throw new HttpError(409, 'idempotency_key_in_use', 'The first request with this Idempotency-Key is still running; retry shortly', undefined, { retryable: true });
    }
    return reply.status(stored.data.status).header('content-type', stored.data.contentType).header('idempotent-replayed', 'true').serializer((body: unknown) => String(body)).send(stored.data.body);
  });

  scope.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const claim = request.idempotency;
    if (!claim) return payload;
    request.idempotency = undefined;
    try {
      if (reply.statusCode >= 200 && reply.statusCode < 300 && typeof payload === 'string') {
        const contentType = String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8');
        await redis.set(claim.redisKey, JSON.stringify({ state: 'done', fingerprint: claim.fingerprint, status: reply.statusCode, contentType, body: payload }), 'EX', IDEMPOTENCY_TTL_SECONDS);
      } else {
        await redis.del(claim.redisKey);
      }
    } catch (error) {
      // The answer itself is good; a retry with the key will then run again (still safe: every create is checked).
      request.log.warn({ err: error }, 'idempotency answer not stored');
    }
    return payload;
  });
}

/**
 * Forgets stored answers that mention any of `needles` (an erased person's PSID or tokens: an opt-in request's
 * answer names its PSID). Those keys then run again on a retry instead of replaying personal data. Returns how
 * many were forgotten. SCAN, not KEYS: the store holds at most a day of keys and is shared with the queues.
 */
export async function forgetIdempotentAnswersMentioning(redis: Redis, prefix: string, needles: readonly string[]): Promise<number> {
  if (needles.length === 0) return 0;
  let forgotten = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:idempotency:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length === 0) continue;
    const values = await redis.mget(...keys);
    const mentioning = keys.filter((_key, index) => answerNames(values[index], needles));
    if (mentioning.length > 0) forgotten += await redis.del(...mentioning);
  } while (cursor !== '0');
  return forgotten;
}

/**
 * True when a stored answer's body holds one of `needles` as a whole JSON string value ("psid": "7"), not merely
 * as a substring: a short PSID such as "7" must not make every other client's answer that contains the digit
 * forgotten (their retries would then run again and create twice). A body that is not JSON is matched as text.
 */
function answerNames(stored: string | null | undefined, needles: readonly string[]): boolean {
  if (!stored || !needles.some((needle) => stored.includes(needle))) return false;
  let body: string;
  try {
    const answer = storedAnswer.safeParse(JSON.parse(stored));
    if (!answer.success || answer.data.state !== 'done') return false;
    body = answer.data.body;
  } catch {
    return false;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return needles.some((needle) => body.includes(needle));
  }
  const wanted = new Set(needles);
  const holds = (value: unknown, depth: number): boolean => {
    if (typeof value === 'string') return wanted.has(value);
    if (value === null || typeof value !== 'object' || depth > 32) return false;
    return Object.values(value).some((item) => holds(item, depth + 1));
  };
  return holds(parsed, 0);
}
