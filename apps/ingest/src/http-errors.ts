import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { findPgUnsafeStrings } from '@renotify/queue';
import { isDataException, outageOf, type Outage } from './outage.js';

/** What a 503 asks the caller to wait before retrying. */
export const RETRY_AFTER_SECONDS = 1;

/** An error whose message is safe and useful to show the API caller. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const notFound = (what: string) => new HttpError(404, 'not_found', `${what} not found`);

/** Every zod issue as `path: message`, so a caller can fix all problems in one go. */
export function describeIssues(error: z.ZodError, pathPrefix: (string | number)[] = []) {
  return error.issues.map((issue) => ({
    path: [...pathPrefix, ...issue.path].join('.') || '(body)',
    message: issue.message,
  }));
}

/** Parses external input at the boundary; a failure becomes a 400 listing every problem. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown, what = 'request body'): z.infer<T> {
  // Every string of the input may reach Postgres, which cannot store NUL or lone surrogates: refuse them all first.
  const unsafe = findPgUnsafeStrings(input);
  if (unsafe.length > 0) {
    throw new HttpError(400, 'invalid_request', `Invalid ${what}`, unsafe.map((found) => ({ path: found.path.join('.') || '(body)', message: found.message })));
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new HttpError(400, 'invalid_request', `Invalid ${what}`, describeIssues(result.error));
}

/** Retryable as is: the request changed nothing it would not change again (event ids are idempotency keys). */
export function sendUnavailable(reply: FastifyReply, outage: Outage, message?: string) {
  const [code, text] = outage === 'storage'
    ? ['storage_unavailable', 'Postgres is unavailable; retry later']
    : ['queue_unavailable', 'Redis is unavailable; retry later'];
  return reply.status(503).header('retry-after', String(RETRY_AFTER_SECONDS)).send({ error: { code, message: message ?? text, retryable: true } });
}

export function errorHandler(error: FastifyError | HttpError | Error, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof HttpError) {
    return reply.status(error.statusCode).send({ error: { code: error.code, message: error.message, details: error.details } });
  }
  const statusCode = 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : 500;
  if (statusCode < 500) {
    // Fastify's own 4xx (malformed JSON, body too large, unsupported media type).
    const code = 'code' in error && typeof error.code === 'string' ? error.code.toLowerCase() : 'bad_request';
    return reply.status(statusCode).send({ error: { code, message: error.message } });
  }
  const outage = outageOf(error);
  if (outage) {
    request.log.warn({ err: error }, `request failed: ${outage === 'storage' ? 'Postgres' : 'Redis'} unavailable`);
    return sendUnavailable(reply, outage);
  }
  if (isDataException(error)) {
    // Postgres refused a value that validation let through: the caller's input, not our state, is at fault.
    request.log.warn({ err: error }, 'request refused by Postgres as invalid data');
    return reply.status(400).send({ error: { code: 'invalid_request', message: 'A value in the request cannot be stored' } });
  }
  request.log.error({ err: error }, 'request failed');
  return reply.status(statusCode).send({ error: { code: 'internal', message: 'Internal error; see the server log for the request id', requestId: request.id } });
}
