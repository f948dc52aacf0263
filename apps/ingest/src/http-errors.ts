import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { findPgUnsafeStrings } from '@renotify/domain';
import { isDataException, outageOf, type Outage } from './outage.js';

/** What a 503 asks the caller to wait before retrying. */
export const RETRY_AFTER_SECONDS = 1;

/**
 * The one shape of `error.details` (docs/api-conventions.md): what is wrong with the input, one entry per
 * problem. `path` names the field (dot-separated; "(body)" for the whole body), `index` the event of a batch.
 */
export interface Problem {
  path: string;
  message: string;
  index?: number;
}

/** An error whose message is safe and useful to show the API caller. */
export class HttpError extends Error {
  readonly details?: Problem[];
  /** Machine-readable facts beside code and message (e.g. `meta`, `retryAfterSeconds`), spread into `error`. */
  readonly extra?: Record<string, unknown>;

  /** `details` given as an object (facts, not problems) is moved to `extra`, so `details` keeps its one shape. */
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    details?: Problem[] | Record<string, unknown>,
    extra?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HttpError';
    if (Array.isArray(details)) this.details = details;
    else if (details !== undefined) this.extra = { ...details };
    if (extra !== undefined) this.extra = { ...this.extra, ...extra };
  }
}

export const notFound = (what: string) => new HttpError(404, 'not_found', `${what} not found`);

/** Every zod issue as `path: message`, so a caller can fix all problems in one go. */
export function describeIssues(error: z.ZodError, pathPrefix: (string | number)[] = []): Problem[] {
  return error.issues.map((issue) => ({
    path: [...pathPrefix, ...issue.path].join('.') || '(body)',
    message: issue.message,
  }));
}

/** Every string of a request (body, query, path) may reach Postgres, which cannot store NUL or lone surrogates. */
export async function refuseUnstorableStrings(request: FastifyRequest): Promise<void> {
  for (const [part, what] of [
    [request.params, 'path'],
    [request.query, 'query'],
    [request.body, 'request body'],
  ] as const) {
    const unsafe = findPgUnsafeStrings(part);
    if (unsafe.length > 0) {
      throw new HttpError(400, 'invalid_request', `Invalid ${what}`, unsafe.map((found) => ({ path: found.path.join('.') || '(body)', message: found.message })));
    }
  }
}

const VALIDATION_PART: Record<string, string> = { body: 'request body', querystring: 'query', params: 'path', headers: 'headers' };

/** The route schema's verdict (fastify-type-provider-zod) in our shape: every problem, each naming its field. */
function validationError(error: FastifyError): HttpError {
  const problems = (error.validation ?? []).map((issue) => {
    const path = issue.instancePath.split('/').filter(Boolean).join('.');
    const unknownKeys = (issue.params as { keys?: unknown }).keys;
    if (issue.keyword === 'unrecognized_keys' && Array.isArray(unknownKeys)) {
      return unknownKeys.map((key) => ({ path: path ? `${path}.${String(key)}` : String(key), message: `unknown field "${String(key)}"` }));
    }
    return [{ path: path || '(body)', message: issue.message ?? 'invalid' }];
  });
  return new HttpError(400, 'invalid_request', `Invalid ${VALIDATION_PART[error.validationContext ?? 'body'] ?? 'request'}`, problems.flat());
}

/** Fastify's own error codes (FST_ERR_*) as ours, so no framework detail leaks into the contract. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_content_length',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
  FST_ERR_VALIDATION: 'invalid_request',
  FST_ERR_NOT_FOUND: 'not_found',
};
const STATUS_CODES: Record<number, string> = { 400: 'bad_request', 404: 'not_found', 405: 'method_not_allowed', 406: 'not_acceptable', 413: 'body_too_large', 415: 'unsupported_media_type', 429: 'rate_limited' };

export function ourErrorCode(code: string | undefined, statusCode: number): string {
  if (code && FASTIFY_CODES[code]) return FASTIFY_CODES[code];
  if (code && !code.startsWith('FST_') && /^[a-z0-9_]+$/.test(code)) return code;
  return STATUS_CODES[statusCode] ?? 'bad_request';
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
  return reply.status(503).header('retry-after', String(RETRY_AFTER_SECONDS)).send({ error: { code, message: message ?? text, retryable: true, retryAfterSeconds: RETRY_AFTER_SECONDS } });
}

/** A 429 or 503 always says when to come back, in the header and in `error.retryAfterSeconds`. */
function sendHttpError(reply: FastifyReply, error: HttpError) {
  const body: Record<string, unknown> = { code: error.code, message: error.message, ...error.extra };
  if (error.details !== undefined) body.details = error.details;
  if (error.statusCode === 429 || error.statusCode === 503) {
    const seconds = typeof body.retryAfterSeconds === 'number' ? body.retryAfterSeconds : RETRY_AFTER_SECONDS;
    body.retryAfterSeconds = seconds;
    reply.header('retry-after', String(seconds));
  }
  return reply.status(error.statusCode).send({ error: body });
}

export function errorHandler(error: FastifyError | HttpError | Error, request: FastifyRequest, reply: FastifyReply) {
  if ('validation' in error && Array.isArray(error.validation)) return sendHttpError(reply, validationError(error));
  if (error instanceof HttpError) return sendHttpError(reply, error);
  const statusCode = 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : 500;
  if (statusCode < 500) {
    // Fastify's own 4xx (malformed JSON, body too large, unsupported media type).
    const code = ourErrorCode('code' in error && typeof error.code === 'string' ? error.code : undefined, statusCode);
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
