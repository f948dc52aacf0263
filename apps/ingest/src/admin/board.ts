import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import { ALL_QUEUES } from '@renotify/queue';
import type { IngestDeps } from '../deps.js';

/** Where the UI lives; app.ts registers it inside the authenticated /admin scope (Bearer, or Basic for a browser). */
export const BULL_BOARD_PATH = '/admin/queues';
const ADMIN_PREFIX = '/admin';

/** Bull Board over the ingest's own Queue objects (same connection and QUEUE_PREFIX as the producers). */
export async function registerBullBoard(adminScope: FastifyInstance, deps: IngestDeps): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: ALL_QUEUES.map((name) => new BullMQAdapter(deps.queues[name])),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Renotify queues' } },
  });
  // The scope already carries the /admin prefix.
  await adminScope.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH.slice(ADMIN_PREFIX.length) });
}
