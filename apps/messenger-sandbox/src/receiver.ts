import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

/*
 * A test receiver for Renotify's outbound webhooks (#15): a named inbox that records every request byte for byte
 * (headers and raw body, so signatures can be verified) and answers as told, to play a business endpoint that
 * works, fails or is slow.
 *
 *   POST /__receiver/:name           records the request; answers the inbox's behaviour (default 204)
 *   GET  /__receiver/:name           { requests: [{ seq, at, method, headers, body }], behaviour }
 *   PUT  /__receiver/:name/behaviour { status?, latencyMs?, failNext? }: answer `status` after `latencyMs`; with
 *                                    failNext = n, only the next n requests get `status`, then 204 again
 *   DELETE /__receiver/:name         forgets the inbox
 */

export const RECEIVER_PREFIX = '/__receiver';

export interface ReceivedRequest {
  seq: number;
  /** Epoch ms when it arrived. */
  at: number;
  method: string;
  headers: Record<string, string>;
  /** The raw body as text, exactly as sent. */
  body: string;
  /** The status this request was answered with; null while it still hangs (latencyMs). */
  answeredWith: number | null;
}

const behaviourSchema = z.strictObject({
  status: z.number().int().min(200).max(599).default(204),
  latencyMs: z.number().int().min(0).max(120_000).default(0),
  failNext: z.number().int().min(1).max(1_000_000).optional(),
});
type Behaviour = z.output<typeof behaviourSchema>;

interface Inbox {
  requests: ReceivedRequest[];
  behaviour: Behaviour;
}

const KEEP_REQUESTS = 10_000;
const name = z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/);

export function registerReceiver(app: FastifyInstance): void {
  const inboxes = new Map<string, Inbox>();
  let seq = 0;
  const inbox = (key: string) => {
    let found = inboxes.get(key);
    if (!found) {
      found = { requests: [], behaviour: behaviourSchema.parse({}) };
      inboxes.set(key, found);
    }
    return found;
  };
  const nameOf = (params: unknown) => {
    const parsed = name.safeParse((params as { name?: unknown }).name);
    if (!parsed.success) throw Object.assign(new Error('receiver name: 1–100 of A–Z a–z 0–9 _ . -'), { statusCode: 400 });
    return parsed.data;
  };

  void app.register(async (scope) => {
    // Every body is kept as raw text: signatures are computed over the exact bytes.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

    scope.post(`${RECEIVER_PREFIX}/:name`, async (request, reply) => {
      const box = inbox(nameOf(request.params));
      const { behaviour } = box;
      const failing = behaviour.failNext === undefined || behaviour.failNext > 0;
      const status = failing ? behaviour.status : 204;
      if (behaviour.failNext !== undefined && behaviour.failNext > 0) behaviour.failNext--;
      const headers = Object.fromEntries(Object.entries(request.headers).map(([key, value]) => [key, Array.isArray(value) ? value.join(', ') : String(value)]));
      const record: ReceivedRequest = { seq: ++seq, at: Date.now(), method: request.method, headers, body: typeof request.body === 'string' ? request.body : '', answeredWith: null };
      box.requests.push(record);
      if (box.requests.length > KEEP_REQUESTS) box.requests.shift();
      if (failing && behaviour.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, behaviour.latencyMs));
      // Set only once the answer goes out: a request still hanging (or abandoned by its client) shows null.
      record.answeredWith = status;
      return reply.code(status).send(status === 204 ? undefined : { received: true, status });
    });

    scope.get(`${RECEIVER_PREFIX}/:name`, async (request) => {
      const box = inbox(nameOf(request.params));
      return { requests: box.requests, behaviour: box.behaviour };
    });

    scope.put(`${RECEIVER_PREFIX}/:name/behaviour`, async (request, reply) => {
      let raw: unknown;
      try {
        raw = JSON.parse(typeof request.body === 'string' && request.body ? request.body : '{}');
      } catch {
        return reply.code(400).send({ error: 'body is not JSON' });
      }
      const parsed = behaviourSchema.safeParse(raw);
      if (!parsed.success) return reply.code(400).send({ error: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`).join('; ') });
      inbox(nameOf(request.params)).behaviour = parsed.data;
      return { behaviour: parsed.data };
    });

    scope.delete(`${RECEIVER_PREFIX}/:name`, async (request) => {
      inboxes.delete(nameOf(request.params));
      return { ok: true };
    });
  });
}
