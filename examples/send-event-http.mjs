// Sends one event to Renotify over HTTP with the typed client (@renotify/client), then reads it back.
//
// It imports the built package, exactly as your own service would (with @renotify/client installed):
//   pnpm build && node examples/send-event-http.mjs
// Environment: RENOTIFY_URL (http://127.0.0.1:3000), RENOTIFY_API_KEY (demo-api-key), PAGE_ID (a Page registered
// with POST /v1/pages or `renotify pages add`).
import { createRenotifyClient } from '@renotify/client';

const renotify = createRenotifyClient({
  baseUrl: process.env.RENOTIFY_URL ?? 'http://127.0.0.1:3000',
  apiKey: process.env.RENOTIFY_API_KEY ?? 'demo-api-key',
});

/** Every refusal has one body: { error: { code, message, details: [{ path, message }] } } (docs/api-conventions.md). */
function fail(what, { error, response }) {
  const body = error?.error;
  console.error(`${what}: HTTP ${response.status} ${body?.code ?? ''}: ${body?.message ?? JSON.stringify(error)}`);
  for (const problem of body?.details ?? []) console.error(`  - ${problem.path}: ${problem.message}`);
  process.exit(1);
}

const pageId = process.env.PAGE_ID ?? '100000000000001';
const event = {
  // Your idempotency key: the same id again stores nothing new (POST /v1/events lists it under duplicates).
  id: `restock-${pageId}-sku-123-42-${new Date().toISOString().slice(0, 10)}`,
  type: 'back_in_stock',
  pageId,
  productId: 'sku-123',
  variant: '42',
  productName: 'Trail Runner',
  url: 'https://shop.example/p/trail-runner',
};

// With the Idempotency-Key header a retried request (say, after a timeout) gets its first answer again, for 24 h.
const sent = await renotify.POST('/v1/events', { body: event, headers: { 'idempotency-key': event.id } });
if (sent.error || !sent.data) fail('send', sent);
console.log('accepted', sent.data.accepted, 'duplicates', sent.data.duplicates);

const read = await renotify.GET('/v1/events/{id}', { params: { path: { id: event.id }, query: { limit: 10 } } });
if (read.error || !read.data) fail('read', read);
console.log(`event ${read.data.id}: ${read.data.status}, topic ${read.data.topic}, deliveries by status ${JSON.stringify(read.data.counts.byStatus)}`);
