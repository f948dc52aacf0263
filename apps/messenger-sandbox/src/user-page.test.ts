import { existsSync } from 'node:fs';
import { parseWebhookPayload, verifySignature } from '@renotify/messenger';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { APP_SECRET, createPageWithUser, PAGE_ID, startHarness, startReceiver, type Harness, type Receiver } from './test-support/harness.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`Skipping the user-page browser test: ${CHROMIUM} is absent (apt-get install -y chromium).`);

describe.skipIf(!hasChromium)('user page in headless Chromium', () => {
  let browser: Browser;
  let h: Harness;
  let receiver: Receiver;
  let tab: Page;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    receiver = await startReceiver();
    h = await startHarness({ webhookUrl: receiver.url });
    await createPageWithUser(h, 'user-1');
    tab = await browser.newPage();
  });
  afterEach(async () => {
    await tab.close();
    await h.close();
    await receiver.close();
  });

  function parsedEvents(index: number) {
    const hook = receiver.received[index]!;
    expect(verifySignature(hook.raw, hook.headers['x-hub-signature-256'] as string, APP_SECRET)).toBe(true);
    const parsed = parseWebhookPayload(JSON.parse(hook.raw.toString('utf8')));
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.entries.flatMap((entry) => entry.events);
  }

  it('shows the "Notify me" card; clicking it sends a signed one-time opt-in webhook; the notification then appears', async () => {
    const card = await h.send({
      recipient: { id: 'user-1' },
      messaging_type: 'RESPONSE',
      message: { attachment: { type: 'template', payload: { template_type: 'one_time_notif_req', title: 'Size 42 back in stock?', payload: 'restock:42' } } },
    });
    expect(card.status).toBe(200);

    await tab.goto(h.sandbox.userPageUrl(PAGE_ID, 'user-1'));
    await tab.getByText('Size 42 back in stock?').waitFor();
    await tab.getByRole('button', { name: 'Notify me' }).click();

    await receiver.waitFor(1);
    const [event] = parsedEvents(0);
    expect(event).toMatchObject({ kind: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'restock:42', token: expect.any(String) });
    await tab.getByRole('button', { name: /You'll be notified/ }).waitFor();
    await tab.getByText(/webhook answered HTTP 200/).waitFor();

    if (event?.kind !== 'one_time_optin') throw new Error('unreachable');
    const sent = await h.send({ recipient: { one_time_notif_token: event.token }, message: { text: 'Size 42 is back in stock!' } });
    expect(sent.status).toBe(200);
    await tab.getByText('Size 42 is back in stock!').waitFor({ timeout: 5_000 });
    expect(await tab.getByText('NOTIFICATION', { exact: true }).count()).toBe(1);
  });

  it('a notification on screen sends Meta\'s delivery receipt naming it; "Mark as read" sends the read receipt', async () => {
    const optin = await h.trigger({ type: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'restock:7' });
    const sent = await h.send({ recipient: { one_time_notif_token: optin.token.token }, message: { text: 'Size 7 is back!' } });
    expect(sent.status).toBe(200);
    await receiver.waitFor(1); // the opt-in itself

    await tab.goto(h.sandbox.userPageUrl(PAGE_ID, 'user-1'));
    await tab.getByText('Size 7 is back!').waitFor();
    await receiver.waitFor(2);
    const [delivery] = parsedEvents(1);
    expect(delivery).toMatchObject({ kind: 'message_delivery', psid: 'user-1', mids: [sent.json.message_id] });

    await tab.getByRole('button', { name: 'Mark as read' }).click();
    await receiver.waitFor(3);
    expect(parsedEvents(2)[0]).toMatchObject({ kind: 'message_read', psid: 'user-1', watermark: expect.any(Number) });
    await tab.getByText(/Read receipt: webhook answered HTTP 200/).waitFor();
    expect(receiver.received).toHaveLength(3); // polling again does not repeat the delivery receipt
  });

  it('subscribes with the recurring card, stops and resumes the topic, and sends a user message', async () => {
    await h.send({
      recipient: { id: 'user-1' },
      messaging_type: 'RESPONSE',
      message: {
        attachment: {
          type: 'template',
          payload: { template_type: 'notification_messages', title: 'Daily deals', payload: 'deals', notification_messages_cta_text: 'GET' },
        },
      },
    });
    await tab.goto(h.sandbox.userPageUrl(PAGE_ID, 'user-1'));
    await tab.getByRole('button', { name: 'Get messages' }).click();
    await receiver.waitFor(1);
    expect(parsedEvents(0)[0]).toMatchObject({ kind: 'recurring_optin', title: 'Daily deals', payload: 'deals', frequency: 'DAILY' });

    await tab.getByRole('button', { name: 'Stop these messages' }).click();
    await receiver.waitFor(2);
    expect(parsedEvents(1)[0]).toMatchObject({ kind: 'recurring_status', status: 'STOP' });
    expect(receiver.received[1]!.raw.toString()).toContain('"STOP NOTIFICATIONS"');

    await tab.selectOption('#spelling', 'underscore');
    await tab.getByRole('button', { name: 'Resume these messages' }).click();
    await receiver.waitFor(3);
    expect(parsedEvents(2)[0]).toMatchObject({ kind: 'recurring_status', status: 'RESUME' });
    expect(receiver.received[2]!.raw.toString()).toContain('"RESUME_NOTIFICATIONS"');

    await tab.getByLabel('Message').fill('Do you have size 43?');
    await tab.getByRole('button', { name: 'Send' }).click();
    await receiver.waitFor(4);
    expect(parsedEvents(3)[0]).toMatchObject({ kind: 'message', psid: 'user-1', text: 'Do you have size 43?' });
    await tab.locator('.row.user .bubble', { hasText: 'Do you have size 43?' }).waitFor();
  });
});
