/** Thrown when the API answered with an error status; `message` is the API's own message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Thrown when the API could not be reached at all (refused, DNS, timeout). */
export class ConnectionError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`Cannot reach the Renotify API at ${url}: ${reason}`);
    this.name = 'ConnectionError';
  }
}

export interface ApiClientOptions {
  baseUrl: string;
  apiKey: string;
  /** Per request. Reconciliation with Meta can take a while, hence the generous default. */
  timeoutMs?: number;
}

function errorOf(status: number, body: unknown, text: string): ApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (error && typeof error.message === 'string') {
    return new ApiError(status, typeof error.code === 'string' ? error.code : `http_${status}`, error.message, error.details);
  }
  return new ApiError(status, `http_${status}`, text.trim().slice(0, 300) || `HTTP ${status} without a body`);
}

/** A thin JSON client for the ingest API: Bearer auth, JSON in and out, errors as exceptions. */
export class ApiClient {
  private readonly baseUrl: string;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, query?: Record<string, string | number | undefined>): Promise<T> {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 120_000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs ?? 120_000} ms` : (cause?.code ?? cause?.message ?? (error as Error).message);
      throw new ConnectionError(this.baseUrl, reason);
    }
    const text = await response.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!response.ok) throw errorOf(response.status, json, text);
    return json as T;
  }

  get<T = unknown>(path: string, query?: Record<string, string | number | undefined>) {
    return this.request<T>('GET', path, undefined, query);
  }

  post<T = unknown>(path: string, body: unknown = {}) {
    return this.request<T>('POST', path, body);
  }

  /** Follows `nextCursor` until the list ends (or `max` items), for `--all`. */
  async *pages<T>(path: string, query: Record<string, string | number | undefined> = {}): AsyncGenerator<T[]> {
    let cursor: string | undefined = query.cursor === undefined ? undefined : String(query.cursor);
    for (;;) {
      const page = await this.get<{ items: T[]; nextCursor: string | null }>(path, { ...query, cursor });
      yield page.items;
      if (!page.nextCursor) return;
      cursor = page.nextCursor;
    }
  }
}
