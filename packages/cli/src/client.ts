import { createRenotifyClient, type ApiErrorBody, type RenotifyClient } from '@renotify/client';
import { ApiError, ConnectionError } from './errors.js';

/** Per request. Reconciliation with Meta can take a while, hence the generous default. */
const REQUEST_TIMEOUT_MS = 120_000;

/**
 * The typed @renotify/client, with the two failures the CLI reports differently from an API refusal: no answer
 * at all becomes a ConnectionError (exit 3) instead of fetch's bare TypeError.
 */
export function connectApi(baseUrl: string, apiKey: string, timeoutMs = REQUEST_TIMEOUT_MS): RenotifyClient {
  const root = baseUrl.replace(/\/+$/, '');
  return createRenotifyClient({
    baseUrl: root,
    apiKey,
    headers: { accept: 'application/json' },
    fetch: async (request) => {
      try {
        return await fetch(request, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (cause?.code ?? cause?.message ?? (error as Error).message);
        throw new ConnectionError(root, reason);
      }
    },
  });
}

const isErrorBody = (body: unknown): body is ApiErrorBody =>
  typeof (body as ApiErrorBody | null)?.error?.message === 'string' && typeof (body as ApiErrorBody).error.code === 'string';

/**
 * The data of a 2xx answer, or an ApiError: our error body when the API sent one, else the raw text (a proxy's
 * HTML page, a bare "Bad Gateway") under `http_<status>`.
 */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (error) {
    // openapi-fetch parses a 2xx body as JSON; anything else there is the API misbehaving, not a usage error.
    if (error instanceof SyntaxError) throw new ApiError(502, 'invalid_response', `The API answered with a body that is not JSON: ${error.message}`);
    throw error;
  }
  const { data, error, response } = result;
  if (response.ok) return data as T;
  if (isErrorBody(error)) throw new ApiError(response.status, error.error.code, error.error.message, error.error.details ?? [], error.error.retryAfterSeconds);
  const text = typeof error === 'string' ? error.trim().slice(0, 300) : '';
  throw new ApiError(response.status, `http_${response.status}`, text || `HTTP ${response.status} without a body`);
}

export interface ListPage<T> {
  items: T[];
  nextCursor: string | null;
}

/** Follows `nextCursor` from the first page to the last (every list is cursor-paged the same way). */
export async function* everyPage<T>(fetchPage: (cursor: string | undefined) => Promise<ListPage<T>>): AsyncGenerator<T[]> {
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    yield page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}
