/** The `error` object of a Graph API error response, normalised. `code: null` marks a synthetic error (network, timeout, non-JSON body). */
export interface GraphApiError {
  message: string;
  type?: string;
  code: number | null;
  subcode: number | null;
  fbtraceId?: string;
}

/**
 * What a failed Graph call means, and what it may touch. Only `token_invalid` and `stopped` say anything about
 * the notification token; everything else must leave every token as it is.
 *
 * | kind                   | meaning                                                        | token      |
 * |------------------------|----------------------------------------------------------------|------------|
 * | `retryable`            | transient (network, 5xx, code 1/2/1200, 368 policy block)      | kept       |
 * | `throttled`            | rate limit (4, 17, 32, 341, 613); wait `retryAfterMs`          | kept       |
 * | `cooldown`             | recurring token sent too early (4/2018354)                     | kept       |
 * | `token_invalid`        | Meta refused THE TOKEN: used, expired, unknown (code 100 whose message names the token) | INVALID |
 * | `stopped`              | the user stopped this topic (10/1893015)                       | STOPPED    |
 * | `recipient_unavailable`| this person cannot be messaged now (551, …/1545041, 10/2018108)| released   |
 * | `outside_window`       | outside the messaging window                                   | released   |
 * | `page_paused`          | Meta restricted the Page for a while (10/1893063)              | kept       |
 * | `access_token_invalid` | the Page access token is bad (190): fix the Page, then redrive | kept       |
 * | `request_invalid`      | the request is wrong (parameter, message shape, dead tag, attachment; any code 100 not clearly about the token): the source must stop | kept |
 * | `page_misconfigured`   | the Page/app setup is wrong (missing or wrong appsecret_proof, app permission 200 or 10 app-level, app not subscribed): the Page's sends pause until fixed | kept |
 * | `permanent`            | this one send cannot succeed (unknown user, thread control, opt-in limits) | released |
 */
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
  | 'request_invalid'
  | 'page_misconfigured'
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
  /** Meta's `error.type` (OAuthException, GraphMethodException, …). */
  type?: string;
  /** Meta's `error.message`: for code 100 it is the only thing that tells a token refusal from a bad request. */
  message?: string;
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

const ATTACHMENT_SUBCODES = new Set<number | null>([2018109, 2018008, 2018047, 2018294]);
const OUTSIDE_WINDOW_SUBCODES = new Set<number | null>([2018278, 2534022, 2018065]);
const USER_UNAVAILABLE_SUBCODE = 1545041;
/** 100/33: "Object with ID … does not exist or cannot be loaded" (a PSID or node this Page cannot see). */
const OBJECT_MISSING_SUBCODE = 33;

/** Meta's proof errors (§3.3): "API calls from the server require an appsecret_proof argument" / "Invalid appsecret_proof provided…". */
const APPSECRET_PROOF_MESSAGE = /appsecret_proof/i;
/** The app is not subscribed to the Page, or lacks the permission at app level. */
const APP_SETUP_MESSAGE = /not subscribed|subscribed_apps|application does not have (the )?(capability|permission)|requires? (the )?pages_messaging/i;
/** A code-100 answer is about the token only when it names the token field and refuses it (§2.5: "invalid or expired"). */
const TOKEN_FIELD_MESSAGE = /\b(one_time_notif_token|notification_messages_token)\b/i;
// Not a bare "used": "… cannot be used with attachments" is about the request, and the token must be kept.
const TOKEN_REFUSAL_MESSAGE = /\b(invalid|expired|(already|has been|was) (been )?used|unknown|does not exist|not found)\b/i;
const OUTSIDE_WINDOW_MESSAGE = /outside (of )?(the )?allowed window/i;

function isTokenRefusal(message: string): boolean {
  return TOKEN_FIELD_MESSAGE.test(message) && TOKEN_REFUSAL_MESSAGE.test(message);
}

function isTokenRecipient(kind: RecipientKind | undefined): boolean {
  return kind === 'one_time_notif_token' || kind === 'notification_messages_token';
}

function fail(kind: FailureKind, reason: string, retryAfterMs?: number): FailureClass {
  // request_invalid / page_misconfigured are not retried: the same request fails until a person fixes it, then redrives.
  const retry = kind === 'retryable' || kind === 'throttled' || kind === 'page_paused';
  return retryAfterMs === undefined ? { kind, retry, reason } : { kind, retry, retryAfterMs, reason };
}

/**
 * Maps a Graph error to a failure class, following messenger-platform.md §3.2, §2.5 and §3.3. Classified by code,
 * subcode, type and message. A code 100 is a token refusal only when the request addressed a token and Meta's
 * message names and refuses that token; any other (or unclear) code 100 is `request_invalid`, so no token is lost
 * to a bad template or a missing proof. Unknown codes are permanent unless the HTTP status says the server failed (5xx).
 */
export function classifyGraphError(error: ClassifiableError): FailureClass {
  const result = classifyByTable(error);
  if (error.retryAfterMs !== undefined && result.retry) return { ...result, retryAfterMs: error.retryAfterMs };
  return result;
}

function classifyByTable({ code, subcode = null, httpStatus, recipientKind, message = '' }: ClassifiableError): FailureClass {
  // Proof errors come as 100 GraphMethodException, but whatever the code they are about the Page's app secret.
  if (APPSECRET_PROOF_MESSAGE.test(message)) {
    return fail('page_misconfigured', 'appsecret_proof missing or wrong: check the Page\'s app secret');
  }
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
      if (OUTSIDE_WINDOW_SUBCODES.has(subcode)) return fail('outside_window', 'sent outside the allowed window');
      if (subcode === 2018108) return fail('recipient_unavailable', 'person cannot receive your messages right now');
      if (subcode === 1893063) return fail('page_paused', 'Page temporarily restricted from sending', PAGE_PAUSE_MS);
      if (subcode === 1404170) return fail('permanent', 'Page temporarily restricted from sending opt-in requests');
      if (subcode === 2018336) return fail('permanent', 'user thread impacted');
      if (subcode === 2018300) return fail('permanent', 'another app controls the thread');
      if (subcode === null && OUTSIDE_WINDOW_MESSAGE.test(message)) return fail('outside_window', 'sent outside the allowed window (no subcode)');
      if (subcode === null && APP_SETUP_MESSAGE.test(message)) return fail('page_misconfigured', 'the app lacks a permission for this Page');
      return fail('permanent', `permission error 10/${subcode}`);
    case 100:
      if (ATTACHMENT_SUBCODES.has(subcode)) return fail('request_invalid', 'attachment error: fix the media');
      if (subcode === 2018001) return fail('permanent', 'no matching user found');
      if (subcode === OBJECT_MISSING_SUBCODE) return fail('permanent', 'object does not exist or cannot be seen by this Page');
      if (isTokenRecipient(recipientKind) && isTokenRefusal(message)) return fail('token_invalid', 'notification token invalid, used or expired');
      if (APP_SETUP_MESSAGE.test(message)) return fail('page_misconfigured', 'the app is not set up for this Page');
      return fail('request_invalid', 'invalid parameter in the request (the token is kept)');
    case 190:
      return fail('access_token_invalid', 'invalid or expired Page access token');
    case 200:
      return fail('page_misconfigured', 'permission error (app not reviewed, not live or not allowed for this Page)');
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
