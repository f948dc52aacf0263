import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { findAppSecrets, recordDeadLetter, sha256Hex, storeWebhookReceipt } from '@renotify/db';
import { verifySignature } from '@renotify/messenger';
import { findPgUnsafeStrings, pgSafeString, withTimeout } from '@renotify/domain';
import { QueueName, WebhooksJobName, type WebhookReceiptJob } from '@renotify/queue';
import type { IngestDeps } from '../deps.js';
import { HttpError } from '../http-errors.js';

/** Dead-letter kind of signed webhook bodies refused at the door (see the POST route). */
export const UNSTORABLE_WEBHOOK_DEAD_LETTER = 'webhook_body';

/** Meta wants a 200 within 5 s; a Redis that does not answer within this budget is left to the worker's sweeper. */
const ENQUEUE_BUDGET_MS = 1_000;

const verificationQuery = z.object({
  'hub.mode': z.string().optional(),
  'hub.verify_token': z.string().optional(),
  'hub.challenge': z.string().optional(),
});

/** Just enough of the body to find whose app secret signed it; the worker parses the rest. */
const pageIdsOfBody = z.object({
  object: z.string(),
  entry: z.array(z.object({ id: z.union([pgSafeString.min(1).max(64), z.number()]).transform(String) }).loose()).min(1),
});

const sameSecret = (a: string, b: string) =>
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());

/**
 * Meta's webhook callback. The POST answers 200 only after the raw body is in Postgres, so an acknowledged
 * webhook is never lost; the queue job carries just the receipt id. Signature failures store nothing.
 */
export async function webhookRoutes(app: FastifyInstance, { deps }: { deps: IngestDeps }) {
  app.get('/webhooks/messenger', async (request, reply) => {
    const query = verificationQuery.safeParse(request.query);
    const mode = query.success ? query.data['hub.mode'] : undefined;
    const token = query.success ? query.data['hub.verify_token'] : undefined;
    const challenge = query.success ? query.data['hub.challenge'] : undefined;
    if (mode !== 'subscribe' || token === undefined || !sameSecret(token, deps.config.WEBHOOK_VERIFY_TOKEN)) {
      request.log.warn({ mode }, 'webhook verification refused');
      return reply.status(403).type('text/plain').send('Forbidden');
    }
    if (!challenge) return reply.status(400).type('text/plain').send('hub.challenge is missing');
    request.log.info('webhook verification answered');
    return reply.status(200).type('text/plain').send(challenge);
  });

  app.post('/webhooks/messenger', async (request, reply) => {
    const rawBody = request.rawBody;
    if (!rawBody || rawBody.length === 0) throw new HttpError(400, 'invalid_webhook', 'Webhook body must be JSON (Content-Type: application/json)');
    const signature = request.headers['x-hub-signature-256'];
    const header = Array.isArray(signature) ? signature[0] : signature;
    if (!header || !/^sha256=[0-9a-fA-F]{64}$/.test(header.trim())) {
      request.log.warn({ reason: header ? 'malformed' : 'missing' }, 'webhook refused: X-Hub-Signature-256');
      throw new HttpError(401, 'invalid_signature', 'X-Hub-Signature-256 is missing or malformed');
    }
    const shape = pageIdsOfBody.safeParse(request.body);
    if (!shape.success) throw new HttpError(400, 'invalid_webhook', 'Webhook body needs "object" and a non-empty "entry" array with Page ids');
    const pageIds = [...new Set(shape.data.entry.map((entry) => entry.id))];

    const secrets = await findAppSecrets(deps.db, deps.secrets, pageIds);
    if (secrets.size === 0) {
      // Answering an error would only make Meta retry (and eventually unsubscribe the app) for a Page we do not serve.
      request.log.warn({ pageIds }, 'webhook for unknown Page(s) ignored');
      return reply.status(200).type('text/plain').send('EVENT_RECEIVED');
    }
    // One body carries one signature, so every known Page in it must share the app secret that made it;
    // otherwise one app's secret could vouch for entries of another app's Page.
    const distinctSecrets = [...new Set(secrets.values())];
    if (!distinctSecrets.every((appSecret) => verifySignature(rawBody, header, appSecret))) {
      request.log.warn({ pageIds: [...secrets.keys()] }, 'webhook refused: signature does not match the app secret');
      throw new HttpError(401, 'invalid_signature', 'X-Hub-Signature-256 does not match the app secret of the Page');
    }
    const unknownPages = pageIds.filter((id) => !secrets.has(id));
    if (unknownPages.length > 0) request.log.warn({ pageIds: unknownPages }, 'webhook entries for unknown Page(s) will be skipped');

    // A signed body whose strings Postgres cannot hold (NUL, lone surrogates) could never be applied, and Meta
    // retrying it would not help: it becomes a (storable) dead letter at once, with the reason, and Meta gets its 200.
    const unsafe = findPgUnsafeStrings(request.body, 5);
    if (unsafe.length > 0) {
      const reason = `webhook body not storable: ${unsafe.map((found) => `${found.path.join('.')} ${found.message}`).join('; ')}`;
      await recordDeadLetter(deps.db, UNSTORABLE_WEBHOOK_DEAD_LETTER, reason, { bodySha256: sha256Hex(rawBody), pageIds, rawBody: rawBody.toString('utf8') });
      request.log.warn({ pageIds, fields: unsafe.map((found) => found.path.join('.')) }, 'webhook body dead-lettered: strings Postgres cannot store');
      return reply.status(200).type('text/plain').send('EVENT_RECEIVED');
    }

    const receipt = await storeWebhookReceipt(deps.db, rawBody);
    if (receipt.processed) {
      request.log.info({ receiptId: receipt.id }, 'webhook redelivery of a processed body ignored');
      return reply.status(200).type('text/plain').send('EVENT_RECEIVED');
    }
    const job: WebhookReceiptJob = { receiptId: receipt.id };
    try {
      await withTimeout(deps.queues[QueueName.webhooks].add(WebhooksJobName.receipt, job, { jobId: receipt.id }), ENQUEUE_BUDGET_MS, 'enqueue');
    } catch (error) {
      // The receipt is durable; the worker's sweeper enqueues unprocessed receipts, so still acknowledge Meta.
      request.log.warn({ err: error, receiptId: receipt.id }, 'webhook stored but not enqueued; the sweeper will pick it up');
    }
    request.log.info({ receiptId: receipt.id, duplicate: receipt.duplicate, pageIds }, 'webhook received');
    return reply.status(200).type('text/plain').send('EVENT_RECEIVED');
  });
}
