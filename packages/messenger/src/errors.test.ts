import { describe, expect, it } from 'vitest';
import { classifyGraphError, GraphRequestError, type ClassifiableError, type FailureKind } from './errors.js';

/** `reason`: the branch's label must match it, so rows that share a kind still prove which rule decided. */
type Row = [label: string, input: ClassifiableError, kind: FailureKind, retry: boolean, reason?: RegExp];

/** Every code and subcode in messenger-platform.md §3.2 and §2.5, plus the synthetic (network/HTTP) cases. */
const table: Row[] = [
  ['network error', { code: null }, 'retryable', true],
  ['5xx without a Graph body', { code: null, httpStatus: 502 }, 'retryable', true, /network error/],
  ['500 without a Graph body', { code: null, httpStatus: 500 }, 'retryable', true, /network error/],
  ['499 without a Graph body', { code: null, httpStatus: 499 }, 'permanent', false, /HTTP 499 without a Graph error/],
  ['429 without a Graph body', { code: null, httpStatus: 429 }, 'throttled', true, /HTTP 429/],
  ['4xx without a Graph body', { code: null, httpStatus: 404 }, 'permanent', false],
  ['1 unknown', { code: 1 }, 'retryable', true, /unknown error/],
  ['1-99 unknown', { code: 1, subcode: 99 }, 'retryable', true],
  ['2 temporary', { code: 2, httpStatus: 500 }, 'retryable', true, /temporary service error/],
  ['2 temporary (no HTTP status)', { code: 2 }, 'retryable', true, /temporary service error/],
  ['1200 temporary send failure', { code: 1200 }, 'retryable', true, /temporary send message failure/],
  ['4 app limit', { code: 4 }, 'throttled', true, /application request limit/],
  ['4-2018354 cooldown', { code: 4, subcode: 2018354 }, 'cooldown', false, /minimum delay/],
  ['9-2018352 opt-in request limit', { code: 9, subcode: 2018352 }, 'permanent', false, /opt-in request limit/],
  ['9 with another subcode', { code: 9, subcode: 5 }, 'permanent', false, /code 9\/5/],
  ['17 user limit', { code: 17 }, 'throttled', true, /user request limit/],
  ['32 page limit', { code: 32 }, 'throttled', true, /page request limit/],
  ['341 app limit', { code: 341 }, 'throttled', true, /application limit reached/],
  ['613 custom limit', { code: 613 }, 'throttled', true, /rate limit/],
  ['613-2534040 throttled', { code: 613, subcode: 2534040 }, 'throttled', true, /rate limit/],
  ['613-2018338 bothersome tags', { code: 613, subcode: 2018338 }, 'permanent', false, /bothersome/],
  ['613-1893016 duplicate opt-in request', { code: 613, subcode: 1893016 }, 'permanent', false, /duplicate opt-in/],
  ['613 with another (policy) subcode', { code: 613, subcode: 1234567 }, 'permanent', false, /policy limit 613\/1234567/],
  ['368 policy block', { code: 368 }, 'retryable', true, /policy violation/],
  ['10-2018278 outside window', { code: 10, subcode: 2018278 }, 'outside_window', false, /^sent outside the allowed window$/],
  ['10-2534022 outside window (IG)', { code: 10, subcode: 2534022 }, 'outside_window', false],
  ['10-2018065 outside window (news)', { code: 10, subcode: 2018065 }, 'outside_window', false],
  ['10-2018108 cannot receive', { code: 10, subcode: 2018108 }, 'recipient_unavailable', false, /cannot receive/],
  ['10-1893063 page restricted', { code: 10, subcode: 1893063 }, 'page_paused', true, /restricted from sending/],
  ['10-1893015 stopped topic', { code: 10, subcode: 1893015 }, 'stopped', false, /stopped/],
  ['10-1404170 opt-in requests restricted', { code: 10, subcode: 1404170 }, 'permanent', false, /opt-in requests/],
  ['10-2018336 thread impacted', { code: 10, subcode: 2018336 }, 'permanent', false, /thread impacted/],
  ['10 with an unknown subcode and a window/permission message', { code: 10, subcode: 777, message: '(#10) Application does not have permission, sent outside of allowed window' }, 'permanent', false, /permission error 10\/777/],
  ['10 without subcode', { code: 10 }, 'permanent', false, /permission error 10\/null/],
  ['10 without subcode, outside the window (other wording)', { code: 10, message: 'Message sent outside the allowed window' }, 'outside_window', false, /no subcode/],
  ['10 without subcode, outside window (botbuilder #4873)', { code: 10, message: '(#10) This message is sent outside of allowed window' }, 'outside_window', false, /no subcode/],
  ['10 app-level permission', { code: 10, message: '(#10) Application does not have permission for this action' }, 'page_misconfigured', false, /lacks a permission/],
  ['100 invalid parameter (PSID send)', { code: 100, recipientKind: 'id' }, 'request_invalid', false, /invalid parameter/],
  ['100 with subcode 1545041 (not a 200/551/10 block)', { code: 100, subcode: 1545041 }, 'request_invalid', false, /invalid parameter/],
  ['100 deprecated tag', { code: 100, message: '(#100) The message tag ACCOUNT_UPDATE is no longer supported.' }, 'request_invalid', false],
  ['100 deprecated tag on a token send', { code: 100, recipientKind: 'notification_messages_token', message: '(#100) The message tag ACCOUNT_UPDATE is no longer supported.' }, 'request_invalid', false],
  ['100 text too long on a token send', { code: 100, recipientKind: 'one_time_notif_token', message: '(#100) Length of param message[text] must be less than or equal to 2000' }, 'request_invalid', false],
  ['100 bad quick reply on a token send', { code: 100, recipientKind: 'notification_messages_token', message: '(#100) Invalid parameter message[quick_replies][0][content_type]: Invalid option' }, 'request_invalid', false],
  ['100 with a token, no message (unsure: keep the token)', { code: 100, recipientKind: 'one_time_notif_token' }, 'request_invalid', false],
  ['100 "cannot be used with" on a token send', { code: 100, recipientKind: 'one_time_notif_token', message: '(#100) one_time_notif_token cannot be used with attachments' }, 'request_invalid', false],
  ['100 one-time token used', { code: 100, recipientKind: 'one_time_notif_token', message: '(#100) The one_time_notif_token has already been used' }, 'token_invalid', false, /token invalid, used or expired/],
  ['100 one-time token was used', { code: 100, recipientKind: 'one_time_notif_token', message: '(#100) This one_time_notif_token was used before' }, 'token_invalid', false],
  ['100 one-time token not found', { code: 100, recipientKind: 'one_time_notif_token', message: 'one_time_notif_token not found' }, 'token_invalid', false],
  ['100 one-time token expired', { code: 100, recipientKind: 'one_time_notif_token', message: '(#100) The one_time_notif_token has expired' }, 'token_invalid', false],
  ['100 one-time token unknown', { code: 100, recipientKind: 'one_time_notif_token', message: '(#100) Invalid one_time_notif_token: the token is unknown for this Page' }, 'token_invalid', false],
  ['100 recurring token expired (§2.5)', { code: 100, recipientKind: 'notification_messages_token', message: '(#100) notification_messages_token has expired' }, 'token_invalid', false],
  ['100 recurring token invalid (§2.5)', { code: 100, recipientKind: 'notification_messages_token', message: 'notification_messages_token invalid or expired' }, 'token_invalid', false],
  ['100 token refusal wording on a PSID send', { code: 100, recipientKind: 'id', message: '(#100) notification_messages_token has expired' }, 'request_invalid', false],
  ['100 missing appsecret_proof', { code: 100, type: 'GraphMethodException', recipientKind: 'one_time_notif_token', message: 'API calls from the server require an appsecret_proof argument' }, 'page_misconfigured', false, /appsecret_proof/],
  ['100 wrong appsecret_proof', { code: 100, type: 'GraphMethodException', recipientKind: 'notification_messages_token', message: 'Invalid appsecret_proof provided in the API argument' }, 'page_misconfigured', false],
  ['100 app not subscribed', { code: 100, message: '(#100) The app is not subscribed to this Page' }, 'page_misconfigured', false, /not set up/],
  ['100 pages_messaging required', { code: 100, message: '(#100) Requires pages_messaging permission to manage the object' }, 'page_misconfigured', false, /not set up/],
  ['100-33 object does not exist (profile)', { code: 100, subcode: 33, type: 'GraphMethodException', message: "Unsupported get request. Object with ID '1' does not exist" }, 'permanent', false, /object does not exist/],
  ['100-2018001 no matching user', { code: 100, subcode: 2018001, recipientKind: 'id' }, 'permanent', false, /no matching user/],
  ['100-2018001 no matching user on a token send', { code: 100, subcode: 2018001, recipientKind: 'one_time_notif_token', message: '(#100) No matching user found' }, 'permanent', false],
  ['100-2018109 attachment size', { code: 100, subcode: 2018109 }, 'request_invalid', false, /attachment/],
  ['100-2018008 attachment fetch', { code: 100, subcode: 2018008 }, 'request_invalid', false],
  ['100-2018047 attachment upload', { code: 100, subcode: 2018047 }, 'request_invalid', false],
  ['100-2018294 video timeout', { code: 100, subcode: 2018294, recipientKind: 'one_time_notif_token', message: 'one_time_notif_token: video upload timed out, invalid attachment' }, 'request_invalid', false, /attachment/],
  ['190 invalid access token', { code: 190 }, 'access_token_invalid', false, /access token/],
  ['190-463 expired access token', { code: 190, subcode: 463 }, 'access_token_invalid', false],
  ['190 wrong Page token on a token send', { code: 190, type: 'OAuthException', recipientKind: 'one_time_notif_token', message: 'Invalid OAuth access token - Cannot parse access token' }, 'access_token_invalid', false],
  ['200 permission', { code: 200 }, 'page_misconfigured', false, /app not reviewed/],
  ['200-2018028 permission', { code: 200, subcode: 2018028 }, 'page_misconfigured', false],
  ['200-2018027 permission', { code: 200, subcode: 2018027 }, 'page_misconfigured', false],
  ['200-2018021 permission', { code: 200, subcode: 2018021 }, 'page_misconfigured', false],
  ['200 on a token send', { code: 200, recipientKind: 'notification_messages_token', message: '(#200) Requires pages_messaging permission' }, 'page_misconfigured', false],
  ['200-1545041 person unavailable', { code: 200, subcode: 1545041 }, 'recipient_unavailable', false, /not available/],
  ['10-1545041 person unavailable', { code: 10, subcode: 1545041 }, 'recipient_unavailable', false, /not available/],
  ['551 person unavailable', { code: 551 }, 'recipient_unavailable', false],
  ['551-1545041 person unavailable', { code: 551, subcode: 1545041 }, 'recipient_unavailable', false],
  ['2018300 thread control', { code: 2018300 }, 'permanent', false, /another app/],
  ['10-2018300 thread control', { code: 10, subcode: 2018300 }, 'permanent', false, /another app/],
  ['unknown code with 5xx', { code: 9999, httpStatus: 503 }, 'retryable', true, /server error with code 9999/],
  ['unknown code with HTTP 500', { code: 9999, httpStatus: 500 }, 'retryable', true],
  ['unknown code without HTTP status', { code: 9999 }, 'permanent', false, /unclassified Graph error 9999\/null/],
  ['unknown code with 4xx', { code: 9999, httpStatus: 400 }, 'permanent', false, /unclassified/],
];

describe('classifyGraphError', () => {
  it.each(table)('%s', (_label, input, kind, retry, reason) => {
    const result = classifyGraphError(input);
    expect(result.kind).toBe(kind);
    expect(result.retry).toBe(retry);
    expect(result.reason).toMatch(reason ?? /\w{4}/);
  });

  it('carries retryAfterMs only when there is a wait to respect', () => {
    expect(Object.keys(classifyGraphError({ code: 190 })).sort()).toEqual(['kind', 'reason', 'retry']);
    expect(Object.keys(classifyGraphError({ code: 100, message: 'x' })).sort()).toEqual(['kind', 'reason', 'retry']);
    expect(classifyGraphError({ code: 10, subcode: 1893063 }).retryAfterMs).toBe(60 * 60 * 1000);
    expect(classifyGraphError({ code: 4 }).retryAfterMs).toBe(60_000);
    expect(classifyGraphError({ code: 613 }).retryAfterMs).toBe(1_000);
    expect(classifyGraphError({ code: null, httpStatus: 429 }).retryAfterMs).toBe(1_000);
  });

  it('changes a token only for token-specific refusals: no other row of the table gives token_invalid or stopped', () => {
    const tokenTouching = table.filter(([, , kind]) => kind === 'token_invalid' || kind === 'stopped');
    for (const [label, input] of tokenTouching) {
      expect(input.code === 10 && input.subcode === 1893015 || /token/.test(input.message ?? ''), label).toBe(true);
    }
  });

  it('asks for a long wait after a policy block and a short one after per-second throttling', () => {
    expect(classifyGraphError({ code: 368 }).retryAfterMs).toBeGreaterThanOrEqual(60 * 60 * 1000);
    const fast = classifyGraphError({ code: 613 }).retryAfterMs ?? 0;
    const slow = classifyGraphError({ code: 32 }).retryAfterMs ?? 0;
    expect(fast).toBeGreaterThan(0);
    expect(slow).toBeGreaterThan(fast);
  });

  it('lets a Retry-After hint override the table for retryable failures only', () => {
    expect(classifyGraphError({ code: 4, retryAfterMs: 7_000 }).retryAfterMs).toBe(7_000);
    expect(classifyGraphError({ code: 190, retryAfterMs: 7_000 }).retryAfterMs).toBeUndefined();
  });
});

describe('GraphRequestError', () => {
  it('names the code, subcode and Meta message, or "network" for a synthetic error', () => {
    const failure = classifyGraphError({ code: 190 });
    const error = new GraphRequestError({ code: 190, subcode: 460, message: 'Session expired' }, failure, 400);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('GraphRequestError');
    expect(error.message).toBe('Graph API error 190/460: Session expired');
    expect(new GraphRequestError({ code: 100, subcode: null, message: 'Bad' }, failure, 400).message).toBe('Graph API error 100: Bad');
    expect(new GraphRequestError({ code: null, subcode: null, message: 'ECONNRESET' }, failure, null).message).toBe('Graph API error network: ECONNRESET');
  });
});
