import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  getPage,
  getWebhookEndpoint,
  listWebhookEndpoints,
  listWebhookMessages,
  redriveWebhookMessages,
  rotateWebhookEndpointSecret,
  updateWebhookEndpoint,
} from '@renotify/db';
import { webhookTargetsMayBePrivate } from '@renotify/config';
import { outboundUrlProblem } from '@renotify/messenger';
import { WEBHOOK_EVENT_TYPES, webhookEventTypeSchema } from '@renotify/queue';
import type { IngestDeps } from '../deps.js';
import { decodeTimeCursor, encodeTimeCursor } from './time-cursor.js';
import { HttpError, notFound } from '../http-errors.js';
import { pageIdSchema } from './pages.js';
import { errorResponses, limitQuery, noContent, pageOf, timestamp, upperCaseEnum } from './schemas.js';

/*
 * Outbound webhook endpoints (#15, docs/webhooks.md): a business registers a URL per Page and the event types it
 * wants; Renotify POSTs each event signed the Standard Webhooks way with the endpoint's secret. The secret is
 * answered once, by create and rotate-secret, and stored sealed; no other answer or log line carries it.
 * Create takes no Idempotency-Key on purpose: the replay cache would keep the answer, secret included, in Redis.
 */

const endpointUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2048)
  .refine((url) => !new URL(url).username && !new URL(url).password, 'must not carry credentials (user:password@); the signature authenticates us');

/** Standard Webhooks secrets: "whsec_" + base64 of 24 to 64 random bytes. */
const secretSchema = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/, 'must be "whsec_" followed by the base64 of 24 to 64 random bytes')
  .describe('Standard Webhooks signing secret; generated when absent');

const events = z
  .array(webhookEventTypeSchema)
  .min(1)
  .max(WEBHOOK_EVENT_TYPES.length)
  .transform((list) => [...new Set(list)])
  .describe(`Event types to receive: ${WEBHOOK_EVENT_TYPES.join(', ')}`);

const createBody = z.strictObject({
  pageId: pageIdSchema,
  url: endpointUrl,
  events,
  secret: secretSchema.optional(),
  description: z.string().trim().max(500).nullable().optional(),
});

const patchBody = z
  .strictObject({
    url: endpointUrl.optional(),
    events: events.optional(),
    enabled: z.boolean().optional().describe('false pauses sending; messages wait (PENDING) until it is true again'),
    description: z.string().trim().max(500).nullable().optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, 'send at least one field to change');

const params = z.object({ id: z.uuid() });

export const webhookEndpointSchema = z
  .object({
    id: z.string(),
    pageId: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    description: z.string().nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'WebhookEndpoint' });

const withSecret = webhookEndpointSchema
  .extend({ secret: z.string().describe('The signing secret: shown only in this answer, keep it') })
  .meta({ id: 'WebhookEndpointWithSecret' });

const messageStatus = ['PENDING', 'SENT', 'DEAD'] as const;
const webhookMessageSchema = z
  .object({
    id: z.string().describe('The webhook-id header of every attempt'),
    endpointId: z.string(),
    pageId: z.string(),
    eventType: z.string(),
    data: z.unknown().describe('The body\'s "data"'),
    status: z.enum(messageStatus),
    attempts: z.number().int(),
    nextAttemptAt: timestamp.nullable().describe('When PENDING: the next attempt is due then'),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    occurredAt: timestamp,
    createdAt: timestamp,
    sentAt: timestamp.nullable(),
  })
  .meta({ id: 'WebhookMessage' });

const LIMIT_MAX = 200;
const listQuery = z.strictObject({
  pageId: pageIdSchema.optional(),
  cursor: z.string().max(200).optional().describe('nextCursor of the previous page'),
  limit: limitQuery(LIMIT_MAX, 50),
});
const messagesQuery = z.strictObject({
  status: upperCaseEnum(messageStatus).optional(),
  cursor: z.string().max(200).optional().describe('nextCursor of the previous page'),
  limit: limitQuery(LIMIT_MAX, 50),
});

/** List cursors: (createdAt, id), in the one time-cursor codec. */
const encodeCursor = (cursor: { createdAt: Date; id: string }) => encodeTimeCursor({ at: cursor.createdAt, id: cursor.id });
function decodeCursor(cursor: string | undefined): { createdAt: Date; id: string } | null {
  if (cursor === undefined) return null;
  const { at, id } = decodeTimeCursor(cursor);
  return { createdAt: at, id };
}

/** A new Standard Webhooks secret: 32 random bytes. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export async function webhookEndpointRoutes(plainApp: FastifyInstance, { deps }: { deps: IngestDeps }) {
  const app = plainApp.withTypeProvider<ZodTypeProvider>();
  const tags = ['webhook-endpoints'];

  const findOr404 = async (id: string) => {
    const endpoint = await getWebhookEndpoint(deps.db, id);
    if (!endpoint) throw notFound(`Webhook endpoint ${id}`);
    return endpoint;
  };

  // SSRF guard (WEBHOOK_ENDPOINTS_ALLOW_PRIVATE): a literal inward address or localhost is refused here with the
  // reason; a name that resolves inward is refused by the worker when it connects.
  const privateAllowed = webhookTargetsMayBePrivate(deps.config);
  const refuseInwardUrl = (url: string) => {
    const problem = privateAllowed ? null : outboundUrlProblem(url);
    if (problem) {
      throw new HttpError(400, 'invalid_request', 'Invalid request body', [
        { path: 'url', message: `${problem}; endpoints must be public addresses (WEBHOOK_ENDPOINTS_ALLOW_PRIVATE allows others)` },
      ]);
    }
  };

  app.post(
    '/v1/webhook-endpoints',
    { schema: { tags, summary: 'Add an outbound webhook endpoint to a Page', body: createBody, response: { 201: withSecret, ...errorResponses } } },
    async (request, reply) => {
      const body = request.body;
      refuseInwardUrl(body.url);
      if (!(await getPage(deps.db, body.pageId))) throw notFound(`Page ${body.pageId}`);
      const secret = body.secret ?? generateWebhookSecret();
      const endpoint = await createWebhookEndpoint(deps.db, deps.secrets, { ...body, secret });
      request.log.info({ endpointId: endpoint.id, pageId: endpoint.pageId, events: endpoint.events }, 'webhook endpoint added');
      return reply.status(201).send({ ...endpoint, secret });
    },
  );

  app.get(
    '/v1/webhook-endpoints',
    { schema: { tags, summary: 'List webhook endpoints, oldest first', querystring: listQuery, response: { 200: pageOf(webhookEndpointSchema), ...errorResponses } } },
    async (request) => {
      const { pageId, cursor, limit } = request.query;
      const page = await listWebhookEndpoints(deps.db, { pageId, after: decodeCursor(cursor), limit });
      return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  app.get(
    '/v1/webhook-endpoints/:id',
    { schema: { tags, summary: 'Get a webhook endpoint', params, response: { 200: webhookEndpointSchema, ...errorResponses } } },
    async (request) => findOr404(request.params.id),
  );

  app.patch(
    '/v1/webhook-endpoints/:id',
    { schema: { tags, summary: 'Change a webhook endpoint', params, body: patchBody, response: { 200: webhookEndpointSchema, ...errorResponses } } },
    async (request) => {
      const { id } = request.params;
      if (request.body.url !== undefined) refuseInwardUrl(request.body.url);
      const endpoint = await updateWebhookEndpoint(deps.db, id, request.body);
      if (!endpoint) throw notFound(`Webhook endpoint ${id}`);
      request.log.info({ endpointId: id, fields: Object.keys(request.body) }, 'webhook endpoint updated');
      return endpoint;
    },
  );

  app.delete(
    '/v1/webhook-endpoints/:id',
    { schema: { tags, summary: 'Delete a webhook endpoint and its messages', params, response: { 204: noContent, ...errorResponses } } },
    async (request, reply) => {
      const { id } = request.params;
      if (!(await deleteWebhookEndpoint(deps.db, id))) throw notFound(`Webhook endpoint ${id}`);
      request.log.info({ endpointId: id }, 'webhook endpoint deleted');
      return reply.status(204).send();
    },
  );

  app.post(
    '/v1/webhook-endpoints/:id/rotate-secret',
    {
      schema: {
        tags,
        summary: 'Replace the signing secret (messages not yet sent are signed with the new one)',
        params,
        body: z.strictObject({ secret: secretSchema.optional() }).nullish().describe('Optional: { secret } to set a given secret; no body generates one'),
        response: { 200: withSecret, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const secret = request.body?.secret ?? generateWebhookSecret();
      const endpoint = await rotateWebhookEndpointSecret(deps.db, deps.secrets, id, secret);
      if (!endpoint) throw notFound(`Webhook endpoint ${id}`);
      request.log.info({ endpointId: id }, 'webhook endpoint secret rotated');
      return { ...endpoint, secret };
    },
  );

  app.post(
    '/v1/webhook-endpoints/:id/redrive',
    {
      schema: {
        tags,
        summary: 'Send the endpoint\'s DEAD messages again (fresh attempt budget)',
        params,
        body: z.strictObject({}).nullish().describe('No fields: every DEAD message of the endpoint is redriven'),
        response: { 200: z.object({ redriven: z.number().int() }), ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      await findOr404(id);
      const redriven = await redriveWebhookMessages(deps.db, id);
      request.log.info({ endpointId: id, redriven }, 'webhook messages redriven');
      return { redriven };
    },
  );

  app.get(
    '/v1/webhook-endpoints/:id/messages',
    {
      schema: {
        tags,
        summary: 'The endpoint\'s messages (outbox), newest first',
        params,
        querystring: messagesQuery,
        response: { 200: pageOf(webhookMessageSchema), ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      await findOr404(id);
      const { status, cursor, limit } = request.query;
      const page = await listWebhookMessages(deps.db, { endpointId: id, status, after: decodeCursor(cursor), limit });
      return {
        items: page.items.map(({ payload, nextAttemptAt, ...message }) => ({
          ...message,
          data: payload,
          nextAttemptAt: message.status === 'PENDING' ? nextAttemptAt : null,
        })),
        nextCursor: page.next ? encodeCursor(page.next) : null,
      };
    },
  );
}
