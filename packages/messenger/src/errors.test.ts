import { describe, expect, it } from 'vitest';
import { classifyGraphError, type ClassifiableError, type FailureKind } from './errors.js';

type Row = [label: string, input: ClassifiableError, kind: FailureKind, retry: boolean];

/** Every code and subcode in messenger-platform.md §3.2 and §2.5, plus the synthetic (network/HTTP) cases. */
const table: Row[] = [
  ['network error', { code: null }, 'retryable', true],
  ['5xx without a Graph body', { code: null, httpStatus: 502 }, 'retryable', true],
  ['429 without a Graph body', { code: null, httpStatus: 429 }, 'throttled', true],
  ['4xx without a Graph body', { code: null, httpStatus: 404 }, 'permanent', false],
  ['1 unknown', { code: 1 }, 'retryable', true],
  ['1-99 unknown', { code: 1, subcode: 99 }, 'retryable', true],
  ['2 temporary', { code: 2, httpStatus: 500 }, 'retryable', true],
  ['1200 temporary send failure', { code: 1200 }, 'retryable', true],
  ['4 app limit', { code: 4 }, 'throttled', true],
  ['4-2018354 cooldown', { code: 4, subcode: 2018354 }, 'cooldown', false],
  ['9-2018352 opt-in request limit', { code: 9, subcode: 2018352 }, 'permanent', false],
  ['17 user limit', { code: 17 }, 'throttled', true],
  ['32 page limit', { code: 32 }, 'throttled', true],
  ['341 app limit', { code: 341 }, 'throttled', true],
  ['613 custom limit', { code: 613 }, 'throttled', true],
  ['613-2534040 throttled', { code: 613, subcode: 2534040 }, 'throttled', true],
  ['613-2018338 bothersome tags', { code: 613, subcode: 2018338 }, 'permanent', false],
  ['613-1893016 duplicate opt-in request', { code: 613, subcode: 1893016 }, 'permanent', false],
  ['613 with another (policy) subcode', { code: 613, subcode: 1234567 }, 'permanent', false],
  ['368 policy block', { code: 368 }, 'retryable', true],
  ['10-2018278 outside window', { code: 10, subcode: 2018278 }, 'outside_window', false],
  ['10-2534022 outside window (IG)', { code: 10, subcode: 2534022 }, 'outside_window', false],
  ['10-2018065 outside window (news)', { code: 10, subcode: 2018065 }, 'outside_window', false],
  ['10-2018108 cannot receive', { code: 10, subcode: 2018108 }, 'recipient_unavailable', false],
  ['10-1893063 page restricted', { code: 10, subcode: 1893063 }, 'page_paused', true],
  ['10-1893015 stopped topic', { code: 10, subcode: 1893015 }, 'stopped', false],
  ['10-1404170 opt-in requests restricted', { code: 10, subcode: 1404170 }, 'permanent', false],
  ['10-2018336 thread impacted', { code: 10, subcode: 2018336 }, 'permanent', false],
  ['10 without subcode', { code: 10 }, 'permanent', false],
  ['100 invalid parameter (PSID send)', { code: 100, recipientKind: 'id' }, 'permanent', false],
  ['100 deprecated tag', { code: 100 }, 'permanent', false],
  ['100 with a one-time token', { code: 100, recipientKind: 'one_time_notif_token' }, 'token_invalid', false],
  ['100 with a recurring token (expired)', { code: 100, recipientKind: 'notification_messages_token' }, 'token_invalid', false],
  ['100-2018001 no matching user', { code: 100, subcode: 2018001, recipientKind: 'id' }, 'permanent', false],
  ['100-2018109 attachment size', { code: 100, subcode: 2018109 }, 'permanent', false],
  ['100-2018008 attachment fetch', { code: 100, subcode: 2018008 }, 'permanent', false],
  ['100-2018047 attachment upload', { code: 100, subcode: 2018047 }, 'permanent', false],
  ['100-2018294 video timeout', { code: 100, subcode: 2018294, recipientKind: 'one_time_notif_token' }, 'permanent', false],
  ['190 invalid access token', { code: 190 }, 'access_token_invalid', false],
  ['190-463 expired access token', { code: 190, subcode: 463 }, 'access_token_invalid', false],
  ['200 permission', { code: 200 }, 'permanent', false],
  ['200-2018028 permission', { code: 200, subcode: 2018028 }, 'permanent', false],
  ['200-2018027 permission', { code: 200, subcode: 2018027 }, 'permanent', false],
  ['200-2018021 permission', { code: 200, subcode: 2018021 }, 'permanent', false],
  ['200-1545041 person unavailable', { code: 200, subcode: 1545041 }, 'recipient_unavailable', false],
  ['551 person unavailable', { code: 551 }, 'recipient_unavailable', false],
  ['551-1545041 person unavailable', { code: 551, subcode: 1545041 }, 'recipient_unavailable', false],
  ['2018300 thread control', { code: 2018300 }, 'permanent', false],
  ['10-2018300 thread control', { code: 10, subcode: 2018300 }, 'permanent', false],
  ['unknown code with 5xx', { code: 9999, httpStatus: 503 }, 'retryable', true],
  ['unknown code with 4xx', { code: 9999, httpStatus: 400 }, 'permanent', false],
];

describe('classifyGraphError', () => {
  it.each(table)('%s', (_label, input, kind, retry) => {
    const result = classifyGraphError(input);
    expect(result.kind).toBe(kind);
    expect(result.retry).toBe(retry);
    expect(result.reason).toEqual(expect.any(String));
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
