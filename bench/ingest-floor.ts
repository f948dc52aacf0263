/**
 * The cost floor of "store, then enqueue", as a measuring instrument for bench/ingest.ts: a bare Fastify route
 * that does, per request, exactly ONE multi-row INSERT into the same "Event" table and ONE Redis write, and
 * nothing else (no validation, no idempotency answer, no topic or message rendering, no merging of requests).
 * The real `POST /v1/events` is compared with it in the same run, on the same machine, as `ratioToFloor`.
 *
 * It uses the very Fastify the ingest runs (resolved from @renotify/ingest's dependencies), and a pg pool of the
 * same size as the ingest's (createDatabase's default of 10), so the two differ only in what the route does.
 */
import { createRequire } from 'node:module';
import pg from 'pg';
import { Redis } from 'ioredis';

/** The few Fastify members the floor uses (bench/ has no Fastify types of its own). */
interface MinimalFastify {
  post(path: string, handler: (request: { body: unknown }, reply: { status(code: number): { send(body: unknown): unknown } }) => Promise<unknown>): void;
  listen(options: { host: string; port: number }): Promise<string>;
  close(): Promise<void>;
}

const fastifyFactory = createRequire(import.meta.resolve('@renotify/ingest'))('fastify') as (options: object) => MinimalFastify;

interface FloorEvent {
  id: string;
  pageId: string;
  type: string;
}

export interface FloorServer {
  url: string;
  /** Events name a Page (a foreign key), as on the real route. */
  registerPage(pageId: string): Promise<void>;
  close(): Promise<void>;
}

export async function startFloorServer({ databaseUrl, redisUrl, redisKey, bodyLimit = 5 * 1024 * 1024 }: { databaseUrl: string; redisUrl: string; redisKey: string; bodyLimit?: number }): Promise<FloorServer> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, options: '-c TimeZone=UTC' });
  pool.on('error', () => undefined);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const app = fastifyFactory({ logger: false, bodyLimit });
  app.post('/v1/events', async (request, reply) => {
    const events = (Array.isArray(request.body) ? request.body : [request.body]) as FloorEvent[];
    const ids = events.map((event) => event.id);
    await pool.query(
      `INSERT INTO "Event" (id, "pageId", type, topic, payload, message, "receivedAt")
       SELECT id, "pageId", type, type, payload, '{}'::jsonb, now() AT TIME ZONE 'UTC'
       FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) AS t(id, "pageId", type, payload)
       ON CONFLICT (id) DO NOTHING`,
      [ids, events.map((event) => event.pageId), events.map((event) => event.type), events.map((event) => JSON.stringify(event))],
    );
    await redis.rpush(redisKey, JSON.stringify(ids));
    return reply.status(202).send({ accepted: ids, duplicates: [] });
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    async registerPage(pageId) {
      await pool.query(`INSERT INTO "Page" (id, name, "accessTokenCipher", "appSecretCipher", "updatedAt") VALUES ($1, 'Bench shop', 'x', 'x', now())`, [pageId]);
    },
    async close() {
      await app.close();
      await pool.end();
      await redis.del(redisKey);
      redis.disconnect();
    },
  };
}
