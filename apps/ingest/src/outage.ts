/**
 * Recognises "a backing service is down" among the errors a route can throw, so the caller gets a retryable 503
 * (with Retry-After) instead of a 500. Anything not recognised here stays a 500: a real bug must stay visible.
 */

export type Outage = 'storage' | 'queue';

/** Socket-level failures (node-postgres surfaces them with these codes, sometimes inside an AggregateError). */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN']);
/** SQLSTATEs meaning the server is going away or refusing connections (class 08: connection exception). */
const POSTGRES_UNAVAILABLE = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;
/** Prisma's "cannot reach / lost the database" and pool-timeout codes. */
const PRISMA_UNAVAILABLE = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** Driver-adapter error kinds (Prisma over @prisma/adapter-pg) that mean the same. */
const ADAPTER_UNAVAILABLE = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'TransactionAlreadyClosed']);
const POSTGRES_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|connection error and is not queryable|Can't reach database server|Server has closed the connection/i;
const REDIS_MESSAGES = /Connection is closed|Stream isn't writeable|Reached the max retries per request limit|Redis is not connected|Redis is unreachable/i;

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
  kind?: unknown;
}

/** Which service an error says is unavailable, looking through `cause` chains and AggregateErrors; null otherwise. */
export function outageOf(error: unknown, depth = 0): Outage | null {
  if (!error || typeof error !== 'object' || depth > 8) return null;
  const candidate = error as ErrorLike;
  const code = typeof candidate.code === 'string' ? candidate.code : '';
  const message = typeof candidate.message === 'string' ? candidate.message : '';
  if (candidate.name === 'MaxRetriesPerRequestError' || REDIS_MESSAGES.test(message)) return 'queue';
  if (SOCKET_CODES.has(code) || POSTGRES_UNAVAILABLE.test(code) || PRISMA_UNAVAILABLE.has(code) || POSTGRES_MESSAGES.test(message)) return 'storage';
  if (candidate.name === 'PrismaClientInitializationError') return 'storage';
  if (typeof candidate.kind === 'string' && ADAPTER_UNAVAILABLE.has(candidate.kind)) return 'storage';
  for (const inner of [candidate.cause, ...(Array.isArray(candidate.errors) ? candidate.errors : [])]) {
    const found = outageOf(inner, depth + 1);
    if (found) return found;
  }
  return null;
}

/** Class 22 (data exception): the input itself is wrong for Postgres (what validation should have caught). */
export function isDataException(error: unknown): boolean {
  const code = (error as ErrorLike | null)?.code;
  return typeof code === 'string' && code.startsWith('22');
}
