/**
 * Meta's error envelope. HTTP statuses follow what Graph answers in practice: 500 for codes 1/2, 400 otherwise.
 * `type`: Graph answers "(#…)" Send API and token errors as OAuthException, and node/method errors (an object the
 * token cannot see, 100/33; appsecret_proof problems) as GraphMethodException.
 */
export class GraphError extends Error {
  constructor(
    readonly code: number,
    readonly subcode: number | null,
    message: string,
    readonly httpStatus = code === 1 || code === 2 || code === 1200 ? 500 : 400,
    readonly type = code === 100 && subcode === 33 ? 'GraphMethodException' : 'OAuthException',
  ) {
    super(message);
  }
}

/** Meta's exact proof errors (messenger-platform.md §3.3). */
export const PROOF_REQUIRED_MESSAGE = 'API calls from the server require an appsecret_proof argument';
export const PROOF_INVALID_MESSAGE = 'Invalid appsecret_proof provided in the API argument';

export function proofError(message: string): GraphError {
  return new GraphError(100, null, message, 400, 'GraphMethodException');
}

/** 100/33 for a node id this token cannot see, worded as Graph words it. */
export function unsupportedGet(id: string): GraphError {
  return new GraphError(
    100,
    33,
    `Unsupported get request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
  );
}

let traceCounter = 0;
const TRACE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

/** fbtrace_id look-alike: 11 characters, unique per response. */
function nextTraceId(): string {
  let n = ++traceCounter * 2654435761;
  let out = 'A';
  for (let i = 0; i < 10; i++) {
    out += TRACE_ALPHABET[n % 64];
    n = Math.floor(n / 64) + i * 7;
  }
  return out;
}

export function errorBody(error: GraphError): { error: Record<string, unknown> } {
  const body: Record<string, unknown> = { message: error.message, type: error.type, code: error.code };
  if (error.subcode !== null) body.error_subcode = error.subcode;
  body.fbtrace_id = nextTraceId();
  return { error: body };
}

/** Default messages, worded as Meta words them where known. */
export const GRAPH_MESSAGES: Record<string, string> = {
  '1': 'An unknown error occurred',
  '2': 'An unexpected error has occurred. Please retry your request later.',
  '4': '(#4) Application request limit reached',
  '17': '(#17) User request limit reached',
  '32': '(#32) Page request limit reached',
  '341': '(#341) Application limit reached',
  '368': '(#368) The action attempted has been deemed abusive or is otherwise disallowed',
  '551': "(#551) This person isn't available right now.",
  '613': '(#613) Calls to this api have exceeded the rate limit.',
  '1200': 'Temporary send message failure. Please try again later',
  '10/1893063': '(#10) This Page is temporarily restricted from sending messages',
  '10/2018108': "(#10) They can't receive your messages right now",
  '10/2018278':
    '(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview',
};

export function messageFor(code: number, subcode: number | null): string {
  return GRAPH_MESSAGES[`${code}/${subcode}`] ?? GRAPH_MESSAGES[String(code)] ?? `(#${code}) Injected error${subcode ? ` ${subcode}` : ''}`;
}
