import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

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
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new HttpError(400, 'invalid_request', `Invalid ${what}`, describeIssues(result.error));
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
  request.log.error({ err: error }, 'request failed');
  return reply.status(statusCode).send({ error: { code: 'internal', message: 'Internal error; see the server log for the request id', requestId: request.id } });
}
