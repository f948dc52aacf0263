// Publishes two events straight into Renotify's Redis with the producer SDK.
//
// It imports the built package, exactly as your own service would (with @renotify/queue installed):
//   pnpm build && node examples/publish-events.mjs
// (examples/ is a workspace package depending on @renotify/queue; its test runs this file.)
// Environment: REDIS_URL (redis://127.0.0.1:6379), QUEUE_PREFIX (renotify), DATABASE_URL (optional: when set,
// events for unregistered Pages are rejected before they are queued), PAGE_ID (the Facebook Page to notify for).
import { createEventProducer, EventValidationError } from '@renotify/queue';

const pageId = process.env.PAGE_ID ?? '100000000000001';
// The Page check is @renotify/db's (the one ingest uses); loaded only when there is a database to ask.
const db = process.env.DATABASE_URL ? (await import('@renotify/db')).createDatabase(process.env.DATABASE_URL) : undefined;
const producer = createEventProducer({
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  prefix: process.env.QUEUE_PREFIX ?? 'renotify',
  pages: db ? (await import('@renotify/db')).createKnownPages(db) : undefined,
});

try {
  const { eventIds } = await producer.publish([
    {
      // Your idempotency key: publishing the same id again is the same event.
      id: `restock-sku-123-42-${new Date().toISOString().slice(0, 10)}`,
      type: 'back_in_stock',
      pageId,
      productId: 'sku-123',
      variant: '42',
      productName: 'Trail Runner',
      url: 'https://shop.example/p/trail-runner',
    },
    {
      id: `price-sku-777-${Date.now()}`,
      type: 'price_drop',
      pageId,
      productId: 'sku-777',
      productName: 'Rain Jacket',
      oldPrice: 129,
      newPrice: 99,
      currency: 'EUR',
      template: '{{productName}} is now {{newPriceFormatted}} (was {{oldPriceFormatted}}). {{cta}}',
      vars: { cta: 'Tap to see it.' },
    },
  ]);
  console.log('queued', eventIds);
} catch (error) {
  if (error instanceof EventValidationError) {
    for (const problem of error.problems) console.error(`event ${problem.index}: ${problem.path}: ${problem.message}`);
    process.exitCode = 1;
  } else {
    throw error;
  }
} finally {
  await producer.close();
  await db?.close();
}
