/** The `error` object of a Graph API error response, normalised. `code: null` marks a synthetic error (network, timeout, non-JSON body). */
export interface GraphApiError {
  message: string;
  type?: string;
  code: number | null;
  subcode: number | null;
  fbtraceId?: string;
}

export type FailureKind =
  | 'retryable'
  | 'throttled'
  | 'cooldown'
  | 'token_invalid'
  | 'stopped'
  | 'recipient_unavailable'
  | 'outside_window'
  | 'page_paused'
  | 'access_token_invalid'
  | 'permanent';

/**
 * What the caller should do about a failed Graph call.
 * `retry` means "the same request may succeed later"; `retryAfterMs` is the minimum wait Meta's docs imply.
 * `cooldown` is not retried blindly: reschedule the recurring token after its `next_eligible_time`.
 */
export interface FailureClass {
  kind: FailureKind;
  retry: boolean;
  retryAfterMs?: number;
  /** Short human label from Meta's error table, safe to log and store. */
  reason?: string;
}

/** Which kind of recipient the failed request addressed; decides whether a code-100 means "drop this token". */
export type RecipientKind = 'id' | 'user_ref' | 'one_time_notif_token' | 'notification_messages_token' | 'unknown';

export interface ClassifiableError {
  code: number | null;
  subcode?: number | null;
  httpStatus?: number;
  recipientKind?: RecipientKind;
  /** A Retry-After (or usage header) hint from the response, in ms; it overrides the table's default wait. */
  retryAfterMs?: number;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Graph throttling windows are rolling; per-second Send API limits (613) clear fast, app/page usage limits (4/17/32) slower. */
const THROTTLE_FAST_MS = 1 * SECOND;
const THROTTLE_USAGE_MS = 60 * SECOND;
/** 368 "temporarily blocked for policy violation": Meta gives no duration; an hour keeps us from hammering. */
const POLICY_BLOCK_MS = HOUR;
/** 10/1893063 "Page temporarily restricted": pause the Page and look again later. */
const PAGE_PAUSE_MS = HOUR;

const ATTACHMENT_SUBCODES = new Set([2018109, 2018008, 2018047, 2018294]);
const OUTSIDE_WINDOW_SUBCODES = new Set([2018278, 2534022, 2018065]);
const USER_UNAVAILABLE_SUBCODE = 1545041;

function isTokenRecipient(kind: RecipientKind | undefined): boolean {
  return kind === 'one_time_notif_token' || kind === 'notification_messages_token';
}

function fail(kind: FailureKind, reason: string, retryAfterMs?: number): FailureClass {
  const retry = kind === 'retryable' || kind === 'throttled' || kind === 'page_paused';
  return retryAfterMs === undefined ? { kind, retry, reason } : { kind, retry, retryAfterMs, reason };
}

/**
 * Maps a Graph error to a failure class, following messenger-platform.md §3.2 and §2.5.
 * Unknown codes are permanent unless the HTTP status says the server failed (5xx).
 */
export function classifyGraphError(error: ClassifiableError): FailureClass {
  const result = classifyByTable(error);
  if (error.retryAfterMs !== undefined && result.retry) return { ...result, retryAfterMs: error.retryAfterMs };
  return result;
}

function classifyByTable({ code, subcode = null, httpStatus, recipientKind }: ClassifiableError): FailureClass {
  if (subcode === USER_UNAVAILABLE_SUBCODE && (code === 200 || code === 551 || code === 10)) {
    return fail('recipient_unavailable', 'person is not available right now');
  }
  switch (code) {
    case null:
      if (httpStatus === undefined || httpStatus >= 500) return fail('retryable', 'network error, timeout or server error');
      if (httpStatus === 429) return fail('throttled', 'HTTP 429', THROTTLE_FAST_MS);
      return fail('permanent', `HTTP ${httpStatus} without a Graph error`);
    case 1:
      return fail('retryable', 'unknown error (retry a few times, then treat as configuration)');
    case 2:
      return fail('retryable', 'temporary service error');
    case 1200:
      return fail('retryable', 'temporary send message failure');
    case 4:
      if (subcode === 2018354) return fail('cooldown', 'minimum delay between two notifications not met');
      return fail('throttled', 'application request limit reached', THROTTLE_USAGE_MS);
    case 17:
      return fail('throttled', 'user request limit reached', THROTTLE_USAGE_MS);
    case 32:
      return fail('throttled', 'page request limit reached', THROTTLE_USAGE_MS);
    case 341:
      return fail('throttled', 'application limit reached', THROTTLE_USAGE_MS);
    case 613:
      if (subcode === null || subcode === 2534040) return fail('throttled', 'calls to this API exceeded the rate limit', THROTTLE_FAST_MS);
      if (subcode === 2018338) return fail('permanent', 'bothersome use of message tags to this person');
      if (subcode === 1893016) return fail('permanent', 'duplicate opt-in request with the same topic');
      return fail('permanent', `policy limit 613/${subcode}`);
    case 368:
      return { kind: 'retryable', retry: true, retryAfterMs: POLICY_BLOCK_MS, reason: 'temporarily blocked for policy violation' };
    case 9:
      if (subcode === 2018352) return fail('permanent', 'opt-in request limit exceeded; do not resend');
      return fail('permanent', `code 9/${subcode}`);
    case 10:
      if (subcode === 1893015) return fail('stopped', 'user stopped notification messages for this topic');
      if (subcode !== null && OUTSIDE_WINDOW_SUBCODES.has(subcode)) return fail('outside_window', 'sent outside the allowed window');
      if (subcode === 2018108) return fail('recipient_unavailable', 'person cannot receive your messages right now');
      if (subcode === 1893063) return fail('page_paused', 'Page temporarily restricted from sending', PAGE_PAUSE_MS);
      if (subcode === 1404170) return fail('permanent', 'Page temporarily restricted from sending opt-in requests');
      if (subcode === 2018336) return fail('permanent', 'user thread impacted');
      if (subcode === 2018300) return fail('permanent', 'another app controls the thread');
      return fail('permanent', `permission error 10/${subcode}`);
    case 100:
      if (subcode !== null && ATTACHMENT_SUBCODES.has(subcode)) return fail('permanent', 'attachment error');
      if (isTokenRecipient(recipientKind)) return fail('token_invalid', 'notification token invalid, used or expired');
      if (subcode === 2018001) return fail('permanent', 'no matching user found');
      return fail('permanent', 'invalid parameter');
    case 190:
      return fail('access_token_invalid', 'invalid or expired Page access token');
    case 200:
      return fail('permanent', 'permission error (app not reviewed or not live)');
    case 551:
      return fail('recipient_unavailable', 'person is not available right now');
    case 2018300:
      return fail('permanent', 'another app controls the thread');
    default:
      if (httpStatus !== undefined && httpStatus >= 500) return fail('retryable', `server error with code ${code}`);
      return fail('permanent', `unclassified Graph error ${code}/${subcode}`);
  }
}

/** Thrown by non-send client calls (token listing) when the Graph API answers with an error. */
export class GraphRequestError extends Error {
  constructor(
    readonly error: GraphApiError,
    readonly failure: FailureClass,
    readonly httpStatus: number | null,
  ) {
    super(`Graph API error ${error.code ?? 'network'}${error.subcode ? `/${error.subcode}` : ''}: ${error.message}`);
    this.name = 'GraphRequestError';
  }
}
