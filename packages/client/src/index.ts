import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, paths } from './schema.js';

/** The one error body of every refusal (docs/api-conventions.md). */
export type ApiErrorBody = components['schemas']['Error'];
/** One entry of `error.details`. */
export type Problem = components['schemas']['Problem'];
export type Page = components['schemas']['Page'];
export type Campaign = components['schemas']['Campaign'];
export type OptIn = components['schemas']['OptIn'];

export type RenotifyClient = Client<paths>;

export interface RenotifyClientOptions extends Omit<ClientOptions, 'baseUrl'> {
  /** Where the ingest API listens, e.g. http://127.0.0.1:3000. */
  baseUrl: string;
  /** One of the ingest's API_KEYS, sent as `Authorization: Bearer <apiKey>`. */
  apiKey: string;
}

/**
 * A typed client for the Renotify API: paths, parameters, bodies and answers come from the OpenAPI document
 * the ingest serves (`openapi.json` in this package, checked against the routes by the ingest's tests).
 *
 *   const renotify = createRenotifyClient({ baseUrl, apiKey });
 *   const { data, error } = await renotify.GET('/v1/pages/{id}', { params: { path: { id: '123' } } });
 */
export function createRenotifyClient({ baseUrl, apiKey, headers, ...options }: RenotifyClientOptions): RenotifyClient {
  return createClient<paths>({
    ...options,
    baseUrl: baseUrl.replace(/\/+$/, ''),
    headers: { ...(headers as Record<string, string> | undefined), authorization: `Bearer ${apiKey}` },
  });
}
