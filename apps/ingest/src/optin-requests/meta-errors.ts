import type { FailureClass, GraphApiError } from '@renotify/messenger';
import { HttpError } from '../http-errors.js';

/** Meta's answer mapped for an API caller: a status that says whose move it is, and Meta's code without its raw body. */
export function metaRefusal(error: GraphApiError, failure: FailureClass, httpStatus: number | null): HttpError {
  const { status, code, advice } = classify(error, failure);
  const meta: Record<string, unknown> = { code: error.code, subcode: error.subcode, failure: failure.kind };
  if (error.fbtraceId !== undefined) meta.fbtraceId = error.fbtraceId;
  if (httpStatus === null) meta.network = true;
  const extra: Record<string, unknown> = { meta };
  if (failure.retryAfterMs !== undefined) extra.retryAfterSeconds = Math.ceil(failure.retryAfterMs / 1000);
  const reason = failure.reason ?? 'the Graph API refused the request';
  return new HttpError(status, code, `Meta refused the opt-in request: ${reason}. ${advice}`.trim(), undefined, extra);
}

function classify(error: GraphApiError, failure: FailureClass): { status: number; code: string; advice: string } {
  if (error.code === 613 && error.subcode === 1893016) {
    return { status: 409, code: 'meta_duplicate_request', advice: 'The same request is already in the person\'s Messenger; do not resend.' };
  }
  if (error.code === 9 && error.subcode === 2018352) {
    return { status: 429, code: 'meta_request_limit', advice: 'Opt-in request limit reached; back off and do not resend.' };
  }
  if (error.code === 10 && error.subcode === 1404170) {
    return { status: 409, code: 'meta_page_restricted', advice: 'The Page may not send opt-in requests for now.' };
  }
  switch (failure.kind) {
    case 'throttled':
      return { status: 429, code: 'meta_throttled', advice: 'Try again later.' };
    case 'outside_window':
      return { status: 409, code: 'outside_window', advice: 'The person must message the Page first.' };
    case 'recipient_unavailable':
    case 'stopped':
      return { status: 409, code: 'recipient_unavailable', advice: 'The person cannot be reached right now.' };
    case 'page_paused':
      return { status: 409, code: 'meta_page_restricted', advice: 'The Page is temporarily restricted from sending.' };
    case 'access_token_invalid':
      return { status: 502, code: 'meta_access_token_invalid', advice: 'Update the Page access token with PATCH /v1/pages/{id}.' };
    case 'retryable':
      return { status: 502, code: 'meta_unavailable', advice: 'Try again later.' };
    default:
      return { status: 502, code: 'meta_error', advice: '' };
  }
}
