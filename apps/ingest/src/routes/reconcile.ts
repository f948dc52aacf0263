import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { reconcilePageTokens } from '@renotify/db';
import { GraphRequestError } from '@renotify/messenger';
import { fingerprint } from '@renotify/observability';
import type { IngestDeps } from '../deps.js';
import { HttpError, notFound } from '../http-errors.js';
import { pageParams } from './pages.js';
import { errorResponses } from './schemas.js';

const reconcileReportSchema = z
  .looseObject({
    pageId: z.string(),
    fetched: z.number().int(),
    added: z.number().int(),
    updated: z.number().int(),
    unchanged: z.number().int(),
    notListedByMeta: z.number().int(),
    foreignTokens: z.number().int(),
    details: z.array(z.looseObject({})),
  })
  .meta({ id: 'ReconcileReport' });

/**
 * Repairs a Page's token store from Meta's notification_message_tokens list, synchronously, and answers with what
 * changed. The scheduled run is the worker's `reconcile` job on the webhooks queue (same code).
 */
export async function reconcileRoutes(plainApp: FastifyInstance, { deps }: { deps: IngestDeps }) {
  const app = plainApp.withTypeProvider<ZodTypeProvider>();
  const schema = { tags: ['optins'], summary: "Repair a Page's token store from Meta's list", params: pageParams, response: { 200: reconcileReportSchema, ...errorResponses } };
  app.post('/v1/pages/:id/reconcile', { schema }, async (request) => {
    const { id } = request.params;
    try {
      const report = await reconcilePageTokens(deps.db, deps.secrets, deps.graph, id, { fingerprint });
      if (!report) throw notFound(`Page ${id}`);
      const { details: _details, ...counts } = report;
      request.log.info(counts, 'tokens reconciled with Meta');
      return { ...report, details: report.details.map((detail) => ({ ...detail })) };
    } catch (error) {
      if (!(error instanceof GraphRequestError)) throw error;
      const status = error.failure.kind === 'throttled' ? 429 : 502;
      throw new HttpError(status, 'meta_error', `Meta refused the token listing: ${error.failure.reason ?? error.error.message}`, undefined, {
        meta: {
          code: error.error.code,
          subcode: error.error.subcode,
          failure: error.failure.kind,
          ...(error.error.fbtraceId !== undefined && { fbtraceId: error.error.fbtraceId }),
        },
        ...(error.failure.retryAfterMs !== undefined && { retryAfterSeconds: Math.ceil(error.failure.retryAfterMs / 1000) }),
      });
    }
  });
}
