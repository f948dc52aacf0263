import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { confirmOptInRequest, findSubscriberWindow, loadPageForSending, releaseOptInRequest, reserveOptInRequest } from '@renotify/db';
import { isValidTimeZone, topicFor, TopicError, TOPIC_MAX_LENGTH, type TopicSubject } from '@renotify/domain';
import {
  buildOneTimeNotifRequest,
  buildRecurringOptInRequest,
  characterCount,
  OPT_IN_TITLE_MAX_CHARS,
  type SendRequestBody,
} from '@renotify/messenger';
import type { IngestDeps } from '../deps.js';
import { HttpError, notFound } from '../http-errors.js';
import { metaRefusal } from '../optin-requests/meta-errors.js';
import { pageIdSchema } from './pages.js';
import { errorResponses, idempotencyKeyHeader, timestamp, upperCaseEnum } from './schemas.js';

const sentRequestSchema = z
  .object({
    id: z.string(),
    pageId: z.string(),
    psid: z.string(),
    kind: z.enum(['ONE_TIME', 'RECURRING']),
    topic: z.string(),
    title: z.string(),
    messageId: z.string(),
    sentAt: timestamp,
  })
  .meta({ id: 'OptInRequest' });

/** Meta's standard messaging window: opt-in requests may only go out within 24h of the person's last message. */
const STANDARD_WINDOW_MS = 24 * 3600_000;

const productId = z.union([z.string().min(1), z.number().int()]);
const subjectSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal(['back_in_stock', 'BACK_IN_STOCK']), productId, variant: z.union([z.string().min(1), z.number().int()]).nullable().optional() }),
  z.strictObject({ type: z.literal(['price_drop', 'PRICE_DROP']), productId }),
  z.strictObject({ type: z.literal(['custom', 'CUSTOM']), topic: z.string().min(1) }),
]);

const RECURRING_ONLY = ['frequency', 'imageUrl', 'ctaText', 'timezone'] as const;

const requestBody = z
  .strictObject({
    pageId: pageIdSchema,
    psid: z.string().min(1).max(64),
    kind: upperCaseEnum(['ONE_TIME', 'RECURRING']),
    topic: z.string().min(1).max(TOPIC_MAX_LENGTH).optional(),
    subject: subjectSchema.optional(),
    title: z.string().trim().min(1),
    frequency: z.enum(['DAILY', 'WEEKLY', 'MONTHLY']).optional(),
    imageUrl: z.url().optional(),
    ctaText: z.enum(['ALLOW', 'GET', 'GET_UPDATES', 'OPT_IN', 'SIGN_UP']).optional(),
    timezone: z.string().refine(isValidTimeZone, 'must be an IANA time zone such as "Europe/Paris"').optional(),
  })
  .superRefine((body, context) => {
    if ((body.topic === undefined) === (body.subject === undefined)) {
      context.addIssue({ code: 'custom', path: ['topic'], message: 'give either "topic" or "subject" (to build the topic with topicFor), not both' });
    }
    const length = characterCount(body.title);
    if (length > OPT_IN_TITLE_MAX_CHARS) {
      context.addIssue({ code: 'custom', path: ['title'], message: `title is ${length} characters; Meta allows at most ${OPT_IN_TITLE_MAX_CHARS}` });
    }
    if (body.kind === 'ONE_TIME') {
      for (const field of RECURRING_ONLY) {
        if (body[field] !== undefined) context.addIssue({ code: 'custom', path: [field], message: `${field} applies to recurring requests only` });
      }
    }
  });

type RequestBody = z.infer<typeof requestBody>;

function resolveTopic(body: RequestBody): string {
  if (body.topic !== undefined) return body.topic;
  try {
    // Subject types may come in either casing; topicFor builds topics from the lower-case names.
    return topicFor({ ...body.subject, type: body.subject?.type.toLowerCase() } as TopicSubject);
  } catch (error) {
    if (error instanceof TopicError) throw new HttpError(400, 'invalid_request', error.message, [{ path: 'subject', message: error.message }]);
    throw error;
  }
}

function buildTemplate(body: RequestBody, topic: string): SendRequestBody {
  try {
    if (body.kind === 'ONE_TIME') return buildOneTimeNotifRequest({ psid: body.psid, title: body.title, payload: topic });
    const input: Parameters<typeof buildRecurringOptInRequest>[0] = { psid: body.psid, payload: topic, title: body.title };
    if (body.frequency !== undefined) input.frequency = body.frequency;
    if (body.timezone !== undefined) input.timezone = body.timezone;
    if (body.imageUrl !== undefined) input.imageUrl = body.imageUrl;
    if (body.ctaText !== undefined) input.ctaText = body.ctaText;
    return buildRecurringOptInRequest(input);
  } catch (error) {
    if (error instanceof RangeError) throw new HttpError(400, 'invalid_request', error.message);
    throw error;
  }
}

/**
 * Asks a person, through Meta, whether they want notifications about a topic (the "Notify me" card or the
 * recurring opt-in card). Meta's rules are checked first so a refusal comes with a reason rather than a Graph error.
 */
export async function optInRequestRoutes(plainApp: FastifyInstance, { deps }: { deps: IngestDeps }) {
  const app = plainApp.withTypeProvider<ZodTypeProvider>();
  const schema = {
    tags: ['optins'],
    summary: 'Ask a person, through Meta, to opt in to a topic',
    headers: idempotencyKeyHeader,
    body: requestBody,
    response: { 201: sentRequestSchema, ...errorResponses },
  };
  app.post('/v1/optin-requests', { config: { idempotent: true, idempotentAnswerNamesPerson: true }, schema }, async (request, reply) => {
    const body = request.body;
    const topic = resolveTopic(body);
    const template = buildTemplate(body, topic);

    const page = await loadPageForSending(deps.db, deps.secrets, body.pageId);
    if (!page) throw notFound(`Page ${body.pageId}`);
    const subscriber = await findSubscriberWindow(deps.db, page.id, body.psid);
    const now = new Date();
    const windowOpen = subscriber?.lastUserMessageAt && now.getTime() - subscriber.lastUserMessageAt.getTime() < STANDARD_WINDOW_MS;
    if (!subscriber || !windowOpen) {
      const last = subscriber?.lastUserMessageAt ? `last messaged the Page at ${subscriber.lastUserMessageAt.toISOString()}` : 'has never messaged the Page';
      throw new HttpError(
        409,
        'outside_window',
        `${body.psid} ${last}; Meta only allows opt-in requests within 24 hours of the person's last message`,
      );
    }

    const kind = body.kind;
    const reservation = await reserveOptInRequest(deps.db, { pageId: page.id, subscriberId: subscriber.id, kind, topic, title: body.title }, now);
    if (!reservation.reserved) {
      const nextAllowed = new Date(reservation.lastSentAt.getTime() + 7 * 24 * 3600_000);
      throw new HttpError(
        409,
        'duplicate_title',
        `An opt-in request titled "${body.title}" was sent to ${body.psid} at ${reservation.lastSentAt.toISOString()}; Meta allows one per title per person per week (next: ${nextAllowed.toISOString()})`,
        { lastSentAt: reservation.lastSentAt, nextAllowedAt: nextAllowed },
      );
    }

    const outcome = await deps.graph.sendMessage({ pageId: page.id, accessToken: page.accessToken, appSecret: page.appSecret, graphVersion: page.graphVersion, body: template });
    if (!outcome.ok) {
      await releaseOptInRequest(deps.db, reservation.id);
      request.log.warn(
        { pageId: page.id, psid: body.psid, metaCode: outcome.error.code, metaSubcode: outcome.error.subcode, fbtraceId: outcome.error.fbtraceId, failure: outcome.failure.kind },
        'opt-in request refused by Meta',
      );
      throw metaRefusal(outcome.error, outcome.failure, outcome.httpStatus);
    }
    await confirmOptInRequest(deps.db, reservation.id, outcome.messageId);
    request.log.info({ pageId: page.id, psid: body.psid, kind, topic, optInRequestId: reservation.id }, 'opt-in request sent');
    return reply.status(201).send({
      id: reservation.id,
      pageId: page.id,
      psid: body.psid,
      kind,
      topic,
      title: body.title,
      messageId: outcome.messageId,
      sentAt: reservation.sentAt,
    });
  });
}
