import type { FastifyInstance } from 'fastify';
import type { IngestDeps } from '../deps.js';
import { pageRoutes } from './pages.js';
import { campaignRoutes } from './campaigns.js';
import { optInRequestRoutes } from './optin-requests.js';
import { reconcileRoutes } from './reconcile.js';
import { optInRoutes } from './optins.js';
import { webhookRoutes } from './webhooks.js';

export type RouteModule = (app: FastifyInstance, options: { deps: IngestDeps }) => Promise<void>;

/** Routes without API-key auth (Meta's webhooks authenticate by signature). */
export const publicRoutes: RouteModule[] = [
  webhookRoutes,
];

/** Routes behind `Authorization: Bearer <api key>`. */
export const apiRoutes: RouteModule[] = [
  pageRoutes,
  optInRoutes,
  optInRequestRoutes,
  reconcileRoutes,
];

import { eventRoutes } from './events.js';
apiRoutes.push(eventRoutes);
import { deadLetterRoutes } from './dead-letters.js';
apiRoutes.push(deadLetterRoutes);
apiRoutes.push(campaignRoutes);
import { pageHealthRoutes } from './page-health.js';
apiRoutes.push(pageHealthRoutes);
import { webhookEndpointRoutes } from './webhook-endpoints.js';
apiRoutes.push(webhookEndpointRoutes);
import { subscriberRoutes } from './subscribers.js';
apiRoutes.push(subscriberRoutes);
import { retentionRoutes } from './retention.js';
apiRoutes.push(retentionRoutes);
