import type { FastifyInstance } from 'fastify';
import { reconcilePageTokens } from '@renotify/db';
import { GraphRequestError } from '@renotify/messenger';
import { fingerprint } from '@renotify/observability';
import type { IngestDeps } from '../deps.js';
import { HttpError, notFound, parseInput } from '../http-errors.js';
import { pageParams } from './pages.js';

/**
 * Repairs a Page's token store from Meta's notification_message_tokens list, synchronously, and answers with what
 * changed. The scheduled run is the worker's `reconcile` job on the webhooks queue (same code).
 */
export async function reconcileRoutes(app: FastifyInstance, { deps }: { deps: IngestDeps }) {
  app.post('/v1/pages/:id/reconcile', async (request) => {
    const { id } = parseInput(pageParams, request.params, 'path');
    try {
      const report = await reconcilePageTokens(deps.db, deps.secrets, deps.graph, id, { fingerprint });
      if (!report) throw notFound(`Page ${id}`);
      const { details: _details, ...counts } = report;
      request.log.info(counts, 'tokens reconciled with Meta');
      return report;
    } catch (error) {
      if (!(error instanceof GraphRequestError)) throw error;
      const status = error.failure.kind === 'throttled' ? 429 : 502;
      throw new HttpError(status, 'meta_error', `Meta refused the token listing: ${error.failure.reason ?? error.error.message}`, {
        metaCode: error.error.code,
        metaSubcode: error.error.subcode,
        failure: error.failure.kind,
        ...(error.error.fbtraceId !== undefined && { fbtraceId: error.error.fbtraceId }),
      });
    }
  });
}
