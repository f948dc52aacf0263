import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { APP_SECRET, createPageWithUser, PAGE_ID, startHarness, startReceiver, type Harness, type Receiver } from './test-support/harness.js';
import type { Json } from './test-support/harness.js';

let h: Harness;
let receiver: Receiver;
beforeEach(async () => {
  receiver = await startReceiver();
  h = await startHarness({ webhookUrl: receiver.url });
  await createPageWithUser(h, 'user-1');
});
afterEach(async () => {
  await h.close();
  await receiver.close();
});

function expectSigned(raw: Buffer, header: unknown) {
  expect(header).toBe(`sha256=${createHmac('sha256', APP_SECRET).update(raw).digest('hex')}`);
}

describe('webhooks out', () => {
  it('sends a signed user message that opens the 24h window, serialised like Meta', async () => {
    await h.call('PATCH', `/__sandbox/pages/${PAGE_ID}/users/user-1`, { lastUserMessageAt: null });
    const result = await h.trigger({ type: 'message', pageId: PAGE_ID, psid: 'user-1', text: 'Größe 42? 👟 https://shop.example/42' });
    expect(result.callback).toMatchObject({ status: 200, body: 'EVENT_RECEIVED', attempts: 1 });
    const [hook] = await receiver.waitFor(1);
    const raw = hook!.raw.toString('latin1');
    expect(raw).toBe(result.body);
    expect(raw).toContain('Gr\\u00f6\\u00dfe 42? \\ud83d\\udc5f https:\\/\\/shop.example\\/42');
    expect(/^[\x20-\x7e]*$/.test(raw)).toBe(true);
    expectSigned(hook!.raw, hook!.headers['x-hub-signature-256']);
    expect(hook!.headers['content-type']).toBe('application/json');
    const body = JSON.parse(raw);
    expect(body).toEqual({
      object: 'page',
      entry: [
        {
          id: PAGE_ID,
          time: expect.any(Number),
          messaging: [
            {
              sender: { id: 'user-1' },
              recipient: { id: PAGE_ID },
              timestamp: expect.any(Number),
              message: { mid: expect.stringMatching(/^m_/), text: 'Größe 42? 👟 https://shop.example/42' },
            },
          ],
        },
      ],
    });
    const user = await h.call('GET', `/__sandbox/pages/${PAGE_ID}/users/user-1`);
    expect(user.json.lastUserMessageAt).toBe(body.entry[0].messaging[0].timestamp);
  });

  it('sends a postback', async () => {
    const result = await h.trigger({ type: 'postback', pageId: PAGE_ID, psid: 'user-1', payload: 'GET_STARTED', title: 'Get Started' });
    expect(result.payload.entry[0].messaging[0].postback).toEqual({ title: 'Get Started', payload: 'GET_STARTED', mid: expect.any(String) });
  });

  it('sends a one-time opt-in with a fresh token, answering a "Notify me" card by its mid', async () => {
    const card = await h.send({
      recipient: { id: 'user-1' },
      messaging_type: 'RESPONSE',
      message: { attachment: { type: 'template', payload: { template_type: 'one_time_notif_req', title: 'Back in stock?', payload: 'restock:42' } } },
    });
    const result = await h.trigger({ type: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', inReplyTo: card.json.message_id });
    expect(result.token).toMatchObject({ kind: 'ONE_TIME', payload: 'restock:42', psid: 'user-1' });
    expect(result.payload.entry[0].messaging[0].optin).toEqual({
      type: 'one_time_notif_req',
      payload: 'restock:42',
      one_time_notif_token: result.token.token,
    });
    const again = await h.call('POST', '/__sandbox/webhooks/trigger', { type: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', inReplyTo: card.json.message_id });
    expect(again.status).toBe(409);
  });

  it('sends a recurring opt-in with expiry, status and the time zone of the card', async () => {
    const card = await h.send({
      recipient: { id: 'user-1' },
      messaging_type: 'RESPONSE',
      message: {
        attachment: {
          type: 'template',
          payload: {
            template_type: 'notification_messages',
            title: 'Weekly deals',
            payload: 'deals',
            notification_messages_frequency: 'WEEKLY',
            notification_messages_timezone: 'Europe/Berlin',
          },
        },
      },
    });
    const result = await h.trigger({ type: 'recurring_optin', pageId: PAGE_ID, psid: 'user-1', inReplyTo: card.json.message_id });
    const optin = result.payload.entry[0].messaging[0].optin;
    expect(optin).toEqual({
      type: 'notification_messages',
      payload: 'deals',
      title: 'Weekly deals',
      notification_messages_token: result.token.token,
      notification_messages_frequency: 'WEEKLY',
      notification_messages_timezone: 'Europe/Berlin',
      token_expiry_timestamp: expect.stringMatching(/^\d{10}$/),
      user_token_status: 'NOT_REFRESHED',
    });
    // WEEKLY tokens live 9 months.
    const lifetimeDays = (Number(optin.token_expiry_timestamp) * 1000 - Date.now()) / 86_400_000;
    expect(lifetimeDays).toBeGreaterThan(270);
    expect(lifetimeDays).toBeLessThan(277);
  });

  it.each([
    ['STOP', 'space', 'STOP NOTIFICATIONS'],
    ['STOP', 'underscore', 'STOP_NOTIFICATIONS'],
    ['RESUME', 'space', 'RESUME NOTIFICATIONS'],
    ['RESUME', 'underscore', 'RESUME_NOTIFICATIONS'],
  ])('sends %s with the %s spelling', async (status, spelling, wire) => {
    const optin = await h.trigger({ type: 'recurring_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'deals' });
    const result = await h.trigger({ type: 'recurring_status', pageId: PAGE_ID, token: optin.token.token, status, spelling });
    expect(result.payload.entry[0].messaging[0]).toMatchObject({
      sender: { id: 'user-1' },
      optin: { type: 'notification_messages', notification_messages_token: optin.token.token, notification_messages_status: wire },
    });
    expect(result.token.stopped).toBe(status === 'STOP');
  });

  it('sends a checkbox opt-in with user_ref and no sender', async () => {
    const result = await h.trigger({ type: 'checkbox_optin', pageId: PAGE_ID, userRef: 'checkout-9', ref: 'cart' });
    const item = result.payload.entry[0].messaging[0];
    expect(item).toEqual({ recipient: { id: PAGE_ID }, timestamp: expect.any(Number), optin: { user_ref: 'checkout-9', ref: 'cart' } });
    expect('sender' in item).toBe(false);
  });

  it('batches several events in one POST, as entries or as one entry per Page', async () => {
    const actions = [
      { type: 'message', pageId: PAGE_ID, psid: 'user-1', text: 'one' },
      { type: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'restock' },
      { type: 'checkbox_optin', pageId: PAGE_ID },
    ];
    const asEntries = await h.call('POST', '/__sandbox/webhooks/batch', { actions });
    expect(asEntries.status).toBe(200);
    expect(asEntries.json.payload.entry).toHaveLength(3);
    expect(asEntries.json.tokens[1]).toMatchObject({ kind: 'ONE_TIME' });
    const grouped = await h.call('POST', '/__sandbox/webhooks/batch', { actions, layout: 'messaging' });
    expect(grouped.json.payload.entry).toHaveLength(1);
    expect(grouped.json.payload.entry[0].messaging).toHaveLength(3);
    const hooks = await receiver.waitFor(2);
    for (const hook of hooks) expectSigned(hook.raw, hook.headers['x-hub-signature-256']);
  });

  it('retries a failing callback with the same bytes and redelivers on demand', async () => {
    receiver.status = 500;
    const result = await h.call('POST', '/__sandbox/webhooks/trigger', { type: 'message', pageId: PAGE_ID, psid: 'user-1', text: 'retry me', retries: 2 });
    expect(result.json.callback).toMatchObject({ status: 500, attempts: 3 });
    receiver.status = 200;
    const redelivered = await h.call('POST', '/__sandbox/webhooks/redeliver', { deliveryId: result.json.deliveryId });
    expect(redelivered.json.callback).toMatchObject({ status: 200, attempts: 4 });
    const hooks = await receiver.waitFor(4);
    expect(new Set(hooks.map((hook) => hook.raw.toString())).size).toBe(1);
    expect(new Set(hooks.map((hook) => hook.headers['x-hub-signature-256'])).size).toBe(1);
    const dup = await h.call('POST', '/__sandbox/webhooks/trigger', { type: 'message', pageId: PAGE_ID, psid: 'user-1', text: 'twice', repeat: 2 });
    expect(dup.json.callback.attempts).toBe(2);
    const deliveries = await h.call('GET', '/__sandbox/webhooks/deliveries');
    expect(deliveries.json.deliveries.map((d: Json) => d.deliveryId)).toEqual([result.json.deliveryId, dup.json.deliveryId]);
  });

  it('reports an unreachable callback instead of failing, and still applies the user action', async () => {
    await h.call('PUT', '/__sandbox/webhook', { url: 'http://127.0.0.1:9/nowhere' });
    const result = await h.trigger({ type: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'p' });
    expect(result.callback.status).toBeNull();
    expect(result.callback.error).toMatch(/ECONNREFUSED/);
    const user = await h.call('GET', `/__sandbox/pages/${PAGE_ID}/users/user-1`);
    expect(user.json.oneTimeTokens).toHaveLength(1);
  });

  it('performs the GET verification handshake against the callback', async () => {
    const ok = await h.call('POST', '/__sandbox/webhooks/verify', { verifyToken: receiver.verifyToken, challenge: '1158201444' });
    expect(ok.json).toMatchObject({ status: 200, body: '1158201444', verified: true });
    const bad = await h.call('POST', '/__sandbox/webhooks/verify', { verifyToken: 'wrong' });
    expect(bad.json).toMatchObject({ status: 403, verified: false });
  });

  it('answers a clear 4xx for bad trigger input', async () => {
    expect((await h.call('POST', '/__sandbox/webhooks/trigger', { type: 'wave', pageId: PAGE_ID })).status).toBe(400);
    expect((await h.call('POST', '/__sandbox/webhooks/trigger', { type: 'message', pageId: '404', psid: 'x', text: 'x' })).status).toBe(404);
    expect((await h.call('POST', '/__sandbox/webhooks/trigger', { type: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1' })).status).toBe(400);
    expect((await h.call('POST', '/__sandbox/webhooks/trigger', { type: 'recurring_status', pageId: PAGE_ID, token: 'nope', status: 'STOP' })).status).toBe(404);
  });

  it('bulk-issues tokens and emits their opt-in webhooks in batches', async () => {
    const result = await h.call('POST', `/__sandbox/pages/${PAGE_ID}/tokens/bulk`, { count: 250, kind: 'ONE_TIME', payload: 'restock', webhookBatchSize: 100 });
    expect(result.json).toMatchObject({ count: 250, webhookDeliveries: 3 });
    const hooks = await receiver.waitFor(3);
    const entries = hooks.flatMap((hook) => JSON.parse(hook.raw.toString()).entry);
    expect(entries).toHaveLength(250);
    expect(entries[0].messaging[0].optin.one_time_notif_token).toBe(result.json.tokens[0].token);
  });
});
