import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { createJsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PATH = '/docs';

/** Only the integrator-facing routes belong in the spec (not Bull Board, /metrics, the docs themselves). */
const DOCUMENTED = /^\/(v1\/|healthz$|readyz$|webhooks\/messenger$)/;

const transformRouteSchema = createJsonSchemaTransform({});

/**
 * The OpenAPI 3.1 document comes from the route schemas (zod, through fastify-type-provider-zod): the same
 * definitions validate requests and serialise responses. `GET /openapi.json` and the Swagger UI at `/docs` are
 * public, like the source they describe: they hold no data, and every route they document still needs its key.
 * Must be registered before the routes (it collects them through onRoute).
 */
export async function registerApiDocs(app: FastifyInstance, version: string): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Renotify API',
        version,
        description: 'Facebook Messenger opt-in notifications. Conventions (errors, paging, idempotency, enums): docs/api-conventions.md.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'One of API_KEYS' } },
      },
      security: [{ apiKey: [] }],
    },
    transform: (document) => {
      if (!DOCUMENTED.test(document.url)) return { schema: { ...document.schema, hide: true }, url: document.url };
      const transformed = transformRouteSchema(document);
      // Public routes (probes, Meta's webhooks) need no key.
      if (!document.url.startsWith('/v1/')) return { ...transformed, schema: { ...transformed.schema, security: [] } };
      return transformed;
    },
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: DOCS_PATH, staticCSP: true });
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
}
