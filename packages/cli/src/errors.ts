import type { Problem } from '@renotify/client';

/** Exit codes: scripts can tell a refusal by the API from a typo in the command or an unreachable API. */
export const ExitCode = { ok: 0, apiError: 1, usage: 2, unreachable: 3, unhealthy: 4 } as const;

/** The command line itself is wrong (exit 2); `commandName` picks the help hint. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly commandName?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The API answered with an error status: its one error body (docs/api-conventions.md), or what it sent instead. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Problem[] = [],
    /** On a 429 or 503: when a retry may succeed (the API's Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The API could not be reached at all (refused, DNS, timeout). */
export class ConnectionError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`Cannot reach the Renotify API at ${url}: ${reason}`);
    this.name = 'ConnectionError';
  }
}
