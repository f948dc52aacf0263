import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@renotify/testing';
import { startWebhookStack, type WebhookStack } from './support.js';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available) console.warn(`skipping the browser end-to-end test: ${CHROMIUM} is missing (apt-get install chromium)`);

const PAGE = '500000000000001';
const PSID = 'e2e-shopper';

describe.skipIf(!available)('end to end in headless Chromium: the sandbox user taps "Notify me"', () => {
  let stack: WebhookStack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startWebhookStack('e2enotifyme');
    await stack.createPage(PAGE, [PSID]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('message → opt-in request card → "Notify me" → the token is listed by GET /v1/pages/:id/optins', async () => {
    const tab = await browser.newPage();
    await tab.goto(stack.sandbox.userPageUrl(PAGE, PSID));

    // The person writes to the Page: the webhook opens the 24h window in Renotify.
    await tab.fill('#text', 'Will size 42 come back?');
    await tab.click('#composer button[type=submit]');
    await waitFor(async () => (await stack.api('GET', `/v1/pages/${PAGE}/subscribers/${PSID}`)).json?.subscriber?.lastUserMessageAt, { what: 'window opened' });

    const sent = await stack.api('POST', '/v1/optin-requests', {
      pageId: PAGE,
      psid: PSID,
      kind: 'one_time',
      subject: { type: 'back_in_stock', productId: '123', variant: '42' },
      title: 'Size 42 is back in stock',
    });
    expect(sent.status).toBe(201);

    const card = tab.locator(`.card[data-mid="${sent.json.messageId}"]`);
    await card.getByText('Size 42 is back in stock').waitFor({ timeout: 10_000 });
    await card.getByRole('button', { name: 'Notify me' }).click();
    await card.getByRole('button', { name: /notified/ }).waitFor({ timeout: 10_000 });

    const listed = await waitFor(
      async () => {
        const result = await stack.api('GET', `/v1/pages/${PAGE}/optins?psid=${PSID}&kind=ONE_TIME`);
        return result.json.items.length === 1 ? result : undefined;
      },
      { what: 'token listed by the API' },
    );
    expect(listed.json.items[0]).toMatchObject({ topic: 'back_in_stock:123:42', kind: 'ONE_TIME', status: 'ACTIVE', psid: PSID, tokenFingerprint: expect.stringMatching(/^fp_[0-9a-f]{12}$/) });
    expect(listed.json.items[0]).not.toHaveProperty('token');
    await tab.close();
  });
});
