import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { HttpError } from './http-errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** POSTs that create something: an `Idempotency-Key` header makes a retry answer the first response. */
    idempotent?: boolean;
    /**
     * The stored answer names the person of the body's `pageId` + `psid` (an opt-in request's does): it is indexed
     * under them, so erasing that person forgets it without reading every stored answer.
     */
    idempotentAnswerNamesPerson?: boolean;
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
        const stored = redis.multi().set(claim.redisKey, JSON.stringify({ state: 'done', fingerprint: claim.fingerprint, status: reply.statusCode, contentType, body: payload }), 'EX', IDEMPOTENCY_TTL_SECONDS);
        const person = request.routeOptions.config.idempotentAnswerNamesPerson ? personOf(request.body) : undefined;
        if (person) {
          const index = personIndexKey(prefix, person.pageId, person.psid);
          stored.sadd(index, claim.redisKey).expire(index, IDEMPOTENCY_TTL_SECONDS);
        }
        const results = await stored.exec();
        const failed = results?.find(([error]) => error)?.[0];
        if (failed) throw failed;
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

const personOfBody = z.object({ pageId: z.string(), psid: z.string() });
const personOf = (body: unknown) => {
  const parsed = personOfBody.safeParse(body);
  return parsed.success ? parsed.data : undefined;
};

/** The set of stored answers naming one person of one Page; hashed, so no PSID appears in a Redis key name. */
const personIndexKey = (prefix: string, pageId: string, psid: string) =>
  `${prefix}:idempotency-person:${createHash('sha256').update(`${pageId}\u0000${psid}`).digest('hex')}`;

/**
 * Forgets the stored answers naming the person `psid` of `pageId` (an erase: an opt-in request's answer names its
 * PSID). Those keys then run again on a retry instead of replaying personal data. Returns how many were forgotten.
 * One index read per erase, whatever the number of stored answers (a scan of every answer, each erase, would
 * grow with the event intake's keys); answers of another Page or another person stay replayable.
 */
export async function forgetIdempotentAnswersNaming(redis: Redis, prefix: string, pageId: string, psid: string): Promise<number> {
  const index = personIndexKey(prefix, pageId, psid);
  const keys = await redis.smembers(index);
  const forgotten = keys.length > 0 ? await redis.del(...keys) : 0;
  await redis.del(index);
  return forgotten;
}
