import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import { ALL_QUEUES } from '@renotify/queue';
import type { IngestDeps } from '../deps.js';

/** Under /admin, so the API-key check in app.ts (Bearer, or Basic for a browser) guards the UI and its API. */
export const BULL_BOARD_PATH = '/admin/queues';

/** Bull Board over the ingest's own Queue objects (same connection and QUEUE_PREFIX as the producers). */
export async function registerBullBoard(app: FastifyInstance, deps: IngestDeps): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: ALL_QUEUES.map((name) => new BullMQAdapter(deps.queues[name])),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Renotify queues' } },
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
}
