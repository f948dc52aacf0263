import { Webhook } from 'standardwebhooks';
import { loadWebhookMessageToSend, recordWebhookAttempt, type WebhookAttemptOutcome, type WebhookMessageToSend } from '@renotify/db';
import { OutboundAddressError, type OutboundPost } from '@renotify/messenger';
import { webhookRetryDelay } from '@renotify/queue';
import type { WorkerDeps } from '../../deps.js';

export interface SendSettings {
  /** A request that has not answered by then counts as a failed attempt. */
  timeoutMs: number;
  /** How the POST is made (the SSRF-guarded client from @renotify/messenger). */
  post: OutboundPost;
  /** Wait before each retry (see DEFAULT_WEBHOOK_RETRY_DELAYS_MS); its length is the number of retries. */
  retryDelaysMs: readonly number[];
}

/** The body every endpoint receives (Standard Webhooks' recommended envelope). */
export function webhookBody(message: Pick<WebhookMessageToSend, 'eventType' | 'occurredAt' | 'payload'>): string {
  return JSON.stringify({ type: message.eventType, timestamp: message.occurredAt.toISOString(), data: message.payload });
}

/** The Standard Webhooks headers of one attempt: the id is the outbox row's, stable over retries, so receivers dedupe on it. */
export function signedHeaders(message: Pick<WebhookMessageToSend, 'id' | 'secret'>, body: string, now: Date): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'Renotify-Webhooks/1',
    'webhook-id': message.id,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(message.secret).sign(message.id, now, body),
  };
}

/**
 * One POST; any answer but 2xx (redirects included: they are not followed) is a failed attempt. An endpoint whose
 * address is not public (SSRF guard, WEBHOOK_ENDPOINTS_ALLOW_PRIVATE) fails the attempt with the reason.
 */
async function post(send: OutboundPost, url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ ok: boolean; statusCode: number | null; error?: string }> {
  try {
    const response = await send(url, { headers, body, timeoutMs });
    const text = await response.text().catch(() => '');
    if (response.status >= 200 && response.status < 300) return { ok: true, statusCode: response.status };
    return { ok: false, statusCode: response.status, error: `HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}` };
  } catch (error) {
    const name = (error as { name?: string } | null)?.name;
    if (error instanceof OutboundAddressError) return { ok: false, statusCode: null, error: error.message };
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof OutboundAddressError) return { ok: false, statusCode: null, error: cause.message };
    const reason = name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : ((cause as { code?: string } | undefined)?.code ?? (error instanceof Error ? error.message : String(error)));
    return { ok: false, statusCode: null, error: reason };
  }
}

export type SendResult = 'sent' | 'retry' | 'dead' | 'not_pending' | 'endpoint_disabled' | 'missing';

/**
 * One attempt of one outbox message. The outcome and the retry schedule are written to the row; the relay queues
 * the next attempt when it is due. Messages no longer PENDING (a duplicate job) and paused endpoints are left alone.
 */
export async function sendOutboundWebhook(deps: WorkerDeps, messageId: string, settings: SendSettings): Promise<SendResult> {
  const message = await loadWebhookMessageToSend(deps.db, deps.secrets, messageId);
  if (!message) return 'missing';
  if (message.status !== 'PENDING') return 'not_pending';
  if (!message.enabled) return 'endpoint_disabled';

  const body = webhookBody(message);
  const stop = deps.metrics.outboundWebhookDuration.startTimer();
  const answer = await post(settings.post, message.url, signedHeaders(message, body, new Date()), body, settings.timeoutMs);
  stop({ outcome: answer.ok ? 'ok' : 'error' });

  const outcome: WebhookAttemptOutcome = answer.ok
    ? { ok: true, statusCode: answer.statusCode ?? 200 }
    : { ok: false, statusCode: answer.statusCode, error: answer.error ?? 'failed', retryInMs: webhookRetryDelay(message.attempts + 1, settings.retryDelaysMs) };
  const status = await recordWebhookAttempt(deps.db, message.id, outcome);
  if (status === null) return 'not_pending';
  const result: SendResult = status === 'SENT' ? 'sent' : status === 'DEAD' ? 'dead' : 'retry';
  deps.metrics.outboundWebhooks.inc({ event_type: message.eventType, outcome: result });
  if (result !== 'sent') {
    const log = { messageId, endpointId: message.endpointId, eventType: message.eventType, attempt: message.attempts + 1, statusCode: answer.statusCode, error: answer.error };
    if (result === 'dead') deps.logger.warn(log, 'outbound webhook dead after its last attempt (redrive: POST /v1/webhook-endpoints/:id/redrive)');
    else deps.logger.info(log, 'outbound webhook attempt failed; retry scheduled');
  }
  return result;
}
