import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { recordDeadLetter } from '@renotify/db';
import { signPayload } from '@renotify/messenger';
import { createLogger } from '@renotify/observability';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from '../index.js';

const PAGE = '616161';
const APP_SECRET = 'token-leak-app-secret';
const auth = { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' };
/** Opt-in tokens as Meta issues them: long opaque strings. Each one travels a different path. */
const token = (label: string) => `${label}TOKENx9f8e7d6c5b4a3928170615243342516071829304a5b6c7d8e9f`;
const TOKENS = {
  valid: token('VALID'),
  badSignature: token('BADSIG'),
  malformed: token('MALFORMED'),
  unstorable: token('NULBODY'),
  storedUnderOddKey: token('STORED'),
  workerRaw: token('WORKERRAW'),
  workerEvent: token('WORKEREVENT'),
  reason: token('REASON'),
  eventField: token('EVENTFIELD'),
};

describe('tokens never leave through API responses or ingest logs', () => {
  let services: TestServices;
  let ingest: RunningIngest;
  const logs: string[] = [];
  const responses: string[] = [];

  const send = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${ingest.url}${path}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
    const text = await response.text();
    responses.push(`${path} ${response.status} ${JSON.stringify([...response.headers])} ${text}`);
    return { status: response.status, text };
  };
  const webhook = (rawBody: string, signature = signPayload(rawBody, APP_SECRET)) =>
    send('/webhooks/messenger', { method: 'POST', body: rawBody, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature } });
  const optinBody = (tokenValue: string, extra = '') =>
    `{"object":"page","entry":[{"id":"${PAGE}","time":1,"messaging":[{"sender":{"id":"psid-1"},"recipient":{"id":"${PAGE}"},"timestamp":1700000000000,"optin":{"type":"one_time_notif_req","payload":"deals","one_time_notif_token":"${tokenValue}${extra}"}}]}]}`;

  beforeAll(async () => {
    services = await createTestServices('ingesttokenleak');
    const destination = new Writable({ write: (chunk, _encoding, done) => (logs.push(String(chunk)), done()) });
    ingest = await startIngest(loadIngestConfig({ ...services.env, LOG_LEVEL: 'debug' }), createLogger({ name: 'ingest', level: 'debug', destination }));
    expect((await send('/v1/pages', { method: 'POST', body: JSON.stringify({ id: PAGE, name: 'Leak', accessToken: 'page-token', appSecret: APP_SECRET }) })).status).toBe(201);
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  it('posts tokens through every path, then finds none of them in any response body, header or log line', async () => {
    // Webhooks: valid (stored as a receipt), badly signed, malformed JSON, and signed but unstorable (dead-lettered at the door).
    expect((await webhook(optinBody(TOKENS.valid))).status).toBe(200);
    expect((await webhook(optinBody(TOKENS.badSignature), `sha256=${'a'.repeat(64)}`)).status).toBe(401);
    expect((await webhook(optinBody(TOKENS.malformed).slice(0, -5))).status).toBe(400);
    expect((await webhook(optinBody(TOKENS.unstorable, '\\u0000'))).status).toBe(200);

    // What the worker dead-letters (same shapes as apps/worker/src/queues/webhooks/apply-receipt.ts), and a token stored in
    // OptIn that appears in a payload under a name that says nothing.
    const pool = ingest.deps.db.pool;
    const subscriber = await pool.query<{ id: string }>(`INSERT INTO "Subscriber" ("pageId", psid, "updatedAt") VALUES ($1, 'psid-2', now()) RETURNING id`, [PAGE]);
    await pool.query(
      `INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, token, "tokenFingerprint", "statusAt", "updatedAt") VALUES ($1, $2, 'ONE_TIME', 'deals', $3, 'fp', now(), now())`,
      [PAGE, subscriber.rows[0]?.id, TOKENS.storedUnderOddKey],
    );
    await recordDeadLetter(ingest.deps.db, 'webhook_entry', 'body is not a webhook', { receiptId: 'r1', rawBody: `{"broken": true, "x": "${TOKENS.workerRaw}"` });
    await recordDeadLetter(ingest.deps.db, 'webhook_entry', 'topic unknown', { receiptId: 'r2', pageId: PAGE, event: { kind: 'optin_one_time', token: TOKENS.workerEvent, note: TOKENS.storedUnderOddKey } });
    await recordDeadLetter(ingest.deps.db, 'webhook_entry', `duplicate key value violates unique constraint: Key (token)=(${TOKENS.reason}) already exists.`, { receiptId: 'r3' });

    // Events and errors: a token in a field the API refuses, in a query parameter, and in a path.
    expect((await send('/v1/events', { method: 'POST', body: JSON.stringify({ id: 'e1', type: 'custom', pageId: PAGE, topic: 't', text: 'x', token: TOKENS.eventField }) })).status).toBe(400);
    expect((await send(`/v1/pages/${PAGE}/optins?psid=psid-1`)).status).toBe(200);
    expect((await send(`/v1/pages/${PAGE}/subscribers/psid-2`)).status).toBe(200);

    // Everything that lists stored payloads.
    for (const path of ['/v1/dead-letters', '/v1/dead-letters?kind=webhook_entry', '/v1/dead-letters?kind=webhook_body', '/v1/dead-letters?limit=1']) {
      const listing = await send(path);
      expect(listing.status, listing.text).toBe(200);
    }
    const listed = JSON.parse((await send('/v1/dead-letters?kind=webhook_body')).text) as { items: unknown[] };
    expect(listed.items).toHaveLength(1);

    await ingest.app.close(); // flushes request handling; the logger is synchronous
    const everything = [...responses, ...logs].join('\n');
    const leaked = Object.entries(TOKENS).filter(([, value]) => everything.includes(value)).map(([label]) => label);
    expect(leaked).toEqual([]);
    // The dead letters are still useful: reasons and structure survive.
    expect(everything).toContain('Key (token)=([Redacted]) already exists.');
    expect(everything).toContain('topic unknown');
  });
});
