import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCESS_TOKEN, createPageWithUser, DAY, HOUR, PAGE_ID, proofFor, startHarness, type Harness } from './test-support/harness.js';
import type { Json } from './test-support/harness.js';

function expectGraphError(result: { status: number; json: Json }, code: number, subcode?: number, status = 400) {
  expect(result.status).toBe(status);
  expect(result.json.error).toMatchObject({ code, type: 'OAuthException', message: expect.any(String), fbtrace_id: expect.any(String) });
  if (subcode === undefined) expect(result.json.error.error_subcode).toBeUndefined();
  else expect(result.json.error.error_subcode).toBe(subcode);
}

const text = (psid: string, body = 'hello', extra: Record<string, unknown> = {}) => ({
  recipient: { id: psid },
  messaging_type: 'RESPONSE',
  message: { text: body },
  ...extra,
});

const otnRequest = (psid: string, title = 'Size 42 back in stock?', payload = 'restock:42') => ({
  recipient: { id: psid },
  messaging_type: 'RESPONSE',
  message: { attachment: { type: 'template', payload: { template_type: 'one_time_notif_req', title, payload } } },
});

const recurringRequest = (psid: string, payload: Record<string, unknown> = {}) => ({
  recipient: { id: psid },
  messaging_type: 'RESPONSE',
  message: { attachment: { type: 'template', payload: { template_type: 'notification_messages', payload: 'deals', ...payload } } },
});

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
  await createPageWithUser(h, 'user-1');
});
afterEach(() => h.close());

describe('Send API: access tokens and routing', () => {
  it('accepts the Page token as a Bearer header or access_token query, on /{page-id} and /me', async () => {
    const viaHeader = await h.send(text('user-1'));
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.json).toEqual({ recipient_id: 'user-1', message_id: expect.stringMatching(/^m_/) });
    const viaQuery = await h.send(text('user-1'), { viaQuery: true, pageId: 'me' });
    expect(viaQuery.status).toBe(200);
    expect(viaQuery.json.message_id).not.toBe(viaHeader.json.message_id);
  });

  it('answers 190 for a missing, unknown, or other-Page access token', async () => {
    expectGraphError(await h.call('POST', `/v24.0/${PAGE_ID}/messages`, text('user-1')), 190);
    expectGraphError(await h.send(text('user-1'), { token: 'not-a-token' }), 190);
    await h.call('POST', '/__sandbox/pages', { id: '300000000000003', accessToken: 'other-page-token', appSecret: 'other-app-secret' });
    expectGraphError(await h.send(text('user-1'), { token: 'other-page-token', appSecret: 'other-app-secret' }), 190);
  });

  it('rejects an unknown path component or version like Graph', async () => {
    expectGraphError(await h.call('POST', `/latest/${PAGE_ID}/messages`, text('user-1'), { authorization: `Bearer ${ACCESS_TOKEN}` }), 2500);
    expectGraphError(await h.call('POST', `/v24.0/${PAGE_ID}/nope`, {}), 2500);
  });

  it('answers malformed JSON with a Meta-shaped 100', async () => {
    const result = await h.call('POST', `/v24.0/${PAGE_ID}/messages`, '{"recipient":', { authorization: `Bearer ${ACCESS_TOKEN}` });
    expectGraphError(result, 100);
  });

  it('accepts a form-encoded body with JSON-valued fields, as Meta does', async () => {
    const form = new URLSearchParams({
      recipient: '{"id":"user-1"}',
      messaging_type: 'RESPONSE',
      message: '{"text":"from a form"}',
      access_token: ACCESS_TOKEN,
      appsecret_proof: proofFor(),
    });
    const result = await h.call('POST', `/v24.0/me/messages`, form.toString(), { 'content-type': 'application/x-www-form-urlencoded' });
    expect(result.status).toBe(200);
    expect(result.json.recipient_id).toBe('user-1');
  });
});

describe('Send API: request validation', () => {
  it('requires exactly one recipient kind', async () => {
    expectGraphError(await h.send({ messaging_type: 'RESPONSE', message: { text: 'x' } }), 100);
    expectGraphError(await h.send({ recipient: {}, message: { text: 'x' } }), 100);
    expectGraphError(await h.send({ recipient: { id: 'user-1', user_ref: 'r' }, message: { text: 'x' } }), 100);
    expectGraphError(await h.send({ recipient: { phone_number: '+1' }, message: { text: 'x' } }), 100);
  });

  it('checks messaging_type and tag rules', async () => {
    expectGraphError(await h.send(text('user-1', 'x', { messaging_type: 'PROMO' })), 100);
    expectGraphError(await h.send(text('user-1', 'x', { messaging_type: 'MESSAGE_TAG' })), 100);
    expectGraphError(await h.send(text('user-1', 'x', { messaging_type: 'RESPONSE', tag: 'HUMAN_AGENT' })), 100);
    expectGraphError(await h.send(text('user-1', 'x', { messaging_type: 'MESSAGE_TAG', tag: 'MADE_UP' })), 100);
    const humanAgent = await h.send(text('user-1', 'x', { messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' }));
    expect(humanAgent.status).toBe(200);
  });

  it('rejects CONFIRMED_EVENT_UPDATE, POST_PURCHASE_UPDATE and ACCOUNT_UPDATE with 100 from 2026-04-27, and allows them before', async () => {
    await h.call('PATCH', '/__sandbox/pages/' + PAGE_ID + '/users/user-1', { lastUserMessageAt: null });
    await h.call('POST', '/__sandbox/clock', { now: Date.UTC(2026, 3, 26, 12) });
    for (const tag of ['CONFIRMED_EVENT_UPDATE', 'POST_PURCHASE_UPDATE', 'ACCOUNT_UPDATE']) {
      const before = await h.send(text('user-1', 'x', { messaging_type: 'MESSAGE_TAG', tag }));
      expect(before.status, tag).toBe(200);
    }
    await h.call('POST', '/__sandbox/clock', { now: Date.UTC(2026, 3, 27) });
    for (const tag of ['CONFIRMED_EVENT_UPDATE', 'POST_PURCHASE_UPDATE', 'ACCOUNT_UPDATE']) {
      const after = await h.send(text('user-1', 'x', { messaging_type: 'MESSAGE_TAG', tag }));
      expectGraphError(after, 100);
      expect(after.json.error.message).toContain(tag);
    }
  });

  it('limits text to 2000 characters (an emoji is one) and refuses empty messages', async () => {
    expect((await h.send(text('user-1', '👟'.repeat(2000)))).status).toBe(200);
    expectGraphError(await h.send(text('user-1', 'x'.repeat(2001))), 100);
    expectGraphError(await h.send(text('user-1', '')), 100);
    expectGraphError(await h.send({ recipient: { id: 'user-1' }, message: {} }), 100);
    expectGraphError(await h.send({ recipient: { id: 'user-1' }, message: { text: 'x', attachment: { type: 'image', payload: { url: 'https://x.y/a.png' } } } }), 100);
    expectGraphError(await h.send(text('user-1', 'x', { message: { text: 'x', metadata: 'm'.repeat(1001) } })), 100);
  });

  it('validates the one-time opt-in template (title at most 65 characters, payload required)', async () => {
    expect((await h.send(otnRequest('user-1', 't'.repeat(65)))).status).toBe(200);
    const tooLong = await h.send(otnRequest('user-1', 't'.repeat(66)));
    expectGraphError(tooLong, 100);
    expect(tooLong.json.error.message).toContain('message[attachment][payload][title]');
    expectGraphError(await h.send(otnRequest('user-1', 'Another', '')), 100);
  });

  it.each([
    ['frequency', { notification_messages_frequency: 'HOURLY' }],
    ['cta text', { notification_messages_cta_text: 'BUY_NOW' }],
    ['image aspect ratio', { image_aspect_ratio: 'PORTRAIT', image_url: 'https://x.y/a.png' }],
    ['time zone', { notification_messages_timezone: 'Mars/Olympus_Mons' }],
    ['reoptin', { notification_messages_reoptin: 'MAYBE' }],
    ['title length', { title: 'x'.repeat(66) }],
    ['image url', { image_url: 'not a url' }],
    ['missing payload', { payload: undefined }],
    ['carousel without title', { elements: [{ payload: 'a', notification_messages_frequency: 'DAILY' }] }],
    ['carousel of six', { title: 'T', elements: Array.from({ length: 6 }, () => ({ payload: 'a', notification_messages_frequency: 'DAILY' })) }],
  ])('rejects a recurring opt-in template with a bad %s', async (_label, fields) => {
    expectGraphError(await h.send(recurringRequest('user-1', fields)), 100);
  });

  it('accepts every valid recurring template option', async () => {
    for (const [i, cta] of ['ALLOW', 'GET', 'GET_UPDATES', 'OPT_IN', 'SIGN_UP'].entries()) {
      const result = await h.send(
        recurringRequest('user-1', {
          title: `Deals ${i}`,
          notification_messages_cta_text: cta,
          notification_messages_frequency: ['DAILY', 'WEEKLY', 'MONTHLY'][i % 3],
          notification_messages_timezone: 'Europe/Berlin',
          notification_messages_reoptin: 'ENABLED',
          image_url: 'https://example.com/shoe.png',
          image_aspect_ratio: i % 2 ? 'SQUARE' : 'HORIZONTAL',
        }),
      );
      expect(result.status, cta).toBe(200);
    }
  });

  it('answers 100/2018001 for a PSID unknown to this Page, including one from another Page', async () => {
    expectGraphError(await h.send(text('nobody')), 100, 2018001);
    await h.call('POST', '/__sandbox/pages', { id: '300000000000003', accessToken: 'other-page-token' });
    await h.call('POST', '/__sandbox/pages/300000000000003/users', { psid: 'other-user' });
    expectGraphError(await h.send(text('other-user')), 100, 2018001);
  });
});

describe('Send API: the 24h standard window', () => {
  it('accepts RESPONSE/UPDATE inside 24h and answers 10/2018278 after, until the user writes again', async () => {
    await h.call('POST', '/__sandbox/clock', { advanceMs: 23 * HOUR });
    expect((await h.send(text('user-1', 'x', { messaging_type: 'UPDATE' }))).status).toBe(200);
    await h.call('POST', '/__sandbox/clock', { advanceMs: HOUR + 1000 });
    expectGraphError(await h.send(text('user-1')), 10, 2018278);
    await h.trigger({ type: 'message', pageId: PAGE_ID, psid: 'user-1', text: 'hi again' });
    expect((await h.send(text('user-1'))).status).toBe(200);
  });

  it('treats a message without messaging_type as RESPONSE (window applies)', async () => {
    await h.call('POST', '/__sandbox/clock', { advanceMs: 25 * HOUR });
    expectGraphError(await h.send({ recipient: { id: 'user-1' }, message: { text: 'x' } }), 10, 2018278);
  });

  it('lets HUMAN_AGENT reply up to 7 days after the user message, not after', async () => {
    await h.call('POST', '/__sandbox/clock', { advanceMs: 6 * DAY });
    const tagged = text('user-1', 'a human here', { messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' });
    expect((await h.send(tagged)).status).toBe(200);
    await h.call('POST', '/__sandbox/clock', { advanceMs: DAY + 1000 });
    expectGraphError(await h.send(tagged), 10, 2018278);
  });

  it('answers 10/2018065 for NON_PROMOTIONAL_SUBSCRIPTION unless the Page is a news Page', async () => {
    const tagged = text('user-1', 'news', { messaging_type: 'MESSAGE_TAG', tag: 'NON_PROMOTIONAL_SUBSCRIPTION' });
    expectGraphError(await h.send(tagged), 10, 2018065);
    await h.call('PATCH', `/__sandbox/pages/${PAGE_ID}`, { newsPage: true });
    expect((await h.send(tagged)).status).toBe(200);
  });

  it('requires the window for opt-in requests too, and refuses them with a tag', async () => {
    await h.call('POST', '/__sandbox/clock', { advanceMs: 25 * HOUR });
    expectGraphError(await h.send(otnRequest('user-1')), 10, 2018278);
    expectGraphError(await h.send(recurringRequest('user-1')), 10, 2018278);
    const tagged = { ...otnRequest('user-1'), messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' };
    expectGraphError(await h.send(tagged), 100);
  });
});

describe('Send API: opt-in request dedup', () => {
  it('answers 613/1893016 for the same title to the same person within 7 days, per template kind', async () => {
    expect((await h.send(otnRequest('user-1', 'Restock'))).status).toBe(200);
    expectGraphError(await h.send(otnRequest('user-1', 'Restock')), 613, 1893016);
    expect((await h.send(otnRequest('user-1', 'Price drop'))).status).toBe(200);
    expect((await h.send(recurringRequest('user-1', { title: 'Restock' }))).status).toBe(200);
    // The default recurring title counts as a title.
    expect((await h.send(recurringRequest('user-1'))).status).toBe(200);
    expectGraphError(await h.send(recurringRequest('user-1', { title: 'Updates and promotions' })), 613, 1893016);
    await h.call('POST', `/__sandbox/pages/${PAGE_ID}/users`, { psid: 'user-2' });
    expect((await h.send(otnRequest('user-2', 'Restock'))).status).toBe(200);
  });

  it('allows the same title again after 7 days', async () => {
    expect((await h.send(otnRequest('user-1', 'Restock'))).status).toBe(200);
    await h.call('POST', '/__sandbox/clock', { advanceMs: 7 * DAY + 1000 });
    await h.trigger({ type: 'message', pageId: PAGE_ID, psid: 'user-1', text: 'window please' });
    expect((await h.send(otnRequest('user-1', 'Restock'))).status).toBe(200);
  });
});

describe('Send API: one-time notification tokens', () => {
  async function optIn(extra: Record<string, unknown> = {}) {
    const result = await h.trigger({ type: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'restock:42', ...extra });
    return result.token.token as string;
  }
  const otnSend = (token: string, body = 'Size 42 is back') => ({ recipient: { one_time_notif_token: token }, message: { text: body } });

  it('sends once, even outside the 24h window, then answers 100 for the reused token', async () => {
    const token = await optIn();
    await h.call('POST', '/__sandbox/clock', { advanceMs: 30 * DAY });
    const first = await h.send(otnSend(token));
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ recipient_id: 'user-1', message_id: expect.stringMatching(/^m_/) });
    const reused = await h.send(otnSend(token));
    expectGraphError(reused, 100);
    expect(reused.json.error.message).toMatch(/already been used/);
  });

  it('answers 100 for an unknown token, a token of another Page, and an expired token', async () => {
    expectGraphError(await h.send(otnSend('made-up-token')), 100);
    const expiring = await optIn({ expiresAt: Date.now() + HOUR });
    await h.call('POST', '/__sandbox/clock', { advanceMs: 2 * HOUR });
    const expired = await h.send(otnSend(expiring));
    expectGraphError(expired, 100);
    expect(expired.json.error.message).toMatch(/expired/);
    await h.call('POST', '/__sandbox/pages', { id: '300000000000003', accessToken: 'other-page-token', appSecret: 'other-app-secret' });
    const token = await optIn();
    expectGraphError(await h.send(otnSend(token), { token: 'other-page-token', appSecret: 'other-app-secret', pageId: 'me' }), 100);
  });

  it('expires unused tokens after a year', async () => {
    const token = await optIn();
    await h.call('POST', '/__sandbox/clock', { advanceMs: 366 * DAY });
    expectGraphError(await h.send(otnSend(token)), 100);
  });

  it('does not accept a recurring token as a one-time token, nor an opt-in request through a token', async () => {
    const recurring = await h.trigger({ type: 'recurring_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'deals' });
    expectGraphError(await h.send(otnSend(recurring.token.token)), 100);
    const token = await optIn();
    expectGraphError(await h.send({ recipient: { one_time_notif_token: token }, message: otnRequest('x').message }), 100);
  });
});

describe('Send API: recurring notification tokens', () => {
  async function optIn(extra: Record<string, unknown> = {}) {
    const result = await h.trigger({ type: 'recurring_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'deals', ...extra });
    return result.token.token as string;
  }
  const recurringSend = (token: string) => ({ recipient: { notification_messages_token: token }, message: { text: 'Today\'s deals' } });

  it('answers with `recipient` (Meta\'s recurring doc) and enforces the 24h cooldown with 4/2018354 (meta-2022)', async () => {
    const token = await optIn();
    const first = await h.send(recurringSend(token));
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ recipient: 'user-1', message_id: expect.stringMatching(/^m_/) });
    expectGraphError(await h.send(recurringSend(token)), 4, 2018354);
    await h.call('POST', '/__sandbox/clock', { advanceMs: 23 * HOUR });
    expectGraphError(await h.send(recurringSend(token)), 4, 2018354);
    await h.call('POST', '/__sandbox/clock', { advanceMs: HOUR + 1000 });
    expect((await h.send(recurringSend(token))).status).toBe(200);
  });

  it('needs 48h under the meta-2025-09 profile', async () => {
    await h.call('PATCH', `/__sandbox/pages/${PAGE_ID}`, { cooldownPolicy: 'meta-2025-09' });
    const token = await optIn();
    expect((await h.send(recurringSend(token))).status).toBe(200);
    await h.call('POST', '/__sandbox/clock', { advanceMs: 25 * HOUR });
    expectGraphError(await h.send(recurringSend(token)), 4, 2018354);
    await h.call('POST', '/__sandbox/clock', { advanceMs: 24 * HOUR });
    expect((await h.send(recurringSend(token))).status).toBe(200);
  });

  it('picks 24h or 48h by the clock under the by-date profile', async () => {
    await h.call('PATCH', `/__sandbox/pages/${PAGE_ID}`, { cooldownPolicy: 'by-date' });
    await h.call('POST', '/__sandbox/clock', { now: Date.UTC(2025, 5, 1) });
    const token = await optIn();
    expect((await h.send(recurringSend(token))).status).toBe(200);
    await h.call('POST', '/__sandbox/clock', { advanceMs: DAY + 1000 });
    expect((await h.send(recurringSend(token))).status).toBe(200);
    await h.call('POST', '/__sandbox/clock', { now: Date.UTC(2025, 8, 10) });
    expect((await h.send(recurringSend(token))).status).toBe(200);
    await h.call('POST', '/__sandbox/clock', { advanceMs: DAY + 1000 });
    expectGraphError(await h.send(recurringSend(token)), 4, 2018354);
  });

  it('uses calendar weeks (Monday 00:00 in the Page time zone) for WEEKLY tokens', async () => {
    await h.call('PATCH', `/__sandbox/pages/${PAGE_ID}`, { timezone: 'Europe/Berlin' });
    // Sunday 2025-03-02 20:00 Berlin (19:00 UTC).
    await h.call('POST', '/__sandbox/clock', { now: Date.UTC(2025, 2, 2, 19) });
    const token = await optIn({ frequency: 'WEEKLY' });
    expect((await h.send(recurringSend(token))).status).toBe(200);
    await h.call('POST', '/__sandbox/clock', { now: Date.UTC(2025, 2, 2, 22, 59) }); // 23:59 Berlin, same week
    expectGraphError(await h.send(recurringSend(token)), 4, 2018354);
    await h.call('POST', '/__sandbox/clock', { now: Date.UTC(2025, 2, 2, 23, 0, 1) }); // Monday 00:00:01 Berlin
    expect((await h.send(recurringSend(token))).status).toBe(200);
  });

  it('uses calendar months for MONTHLY tokens', async () => {
    await h.call('POST', '/__sandbox/clock', { now: Date.UTC(2025, 0, 31, 12) });
    const token = await optIn({ frequency: 'MONTHLY' });
    expect((await h.send(recurringSend(token))).status).toBe(200);
    await h.call('POST', '/__sandbox/clock', { now: Date.UTC(2025, 0, 31, 23, 59) });
    expectGraphError(await h.send(recurringSend(token)), 4, 2018354);
    await h.call('POST', '/__sandbox/clock', { now: Date.UTC(2025, 1, 1, 0, 0, 1) });
    expect((await h.send(recurringSend(token))).status).toBe(200);
  });

  it('answers 10/1893015 after STOP and sends again after RESUME (either wire spelling)', async () => {
    const token = await optIn();
    await h.trigger({ type: 'recurring_status', pageId: PAGE_ID, token, status: 'STOP', spelling: 'underscore' });
    expectGraphError(await h.send(recurringSend(token)), 10, 1893015);
    await h.trigger({ type: 'recurring_status', pageId: PAGE_ID, token, status: 'RESUME', spelling: 'space' });
    expect((await h.send(recurringSend(token))).status).toBe(200);
  });

  it('answers 100 for an expired or unknown recurring token; opting in again refreshes it', async () => {
    expectGraphError(await h.send(recurringSend('made-up')), 100);
    const token = await optIn({ expiresAt: Date.now() + HOUR });
    await h.call('POST', '/__sandbox/clock', { advanceMs: 2 * HOUR });
    const expired = await h.send(recurringSend(token));
    expectGraphError(expired, 100);
    expect(expired.json.error.message).toMatch(/expired/);
    const again = await h.trigger({ type: 'recurring_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'deals' });
    expect(again.token).toMatchObject({ token, userTokenStatus: 'REFRESHED' });
    expect((await h.send(recurringSend(token))).status).toBe(200);
  });

  it('expires DAILY tokens after 6 months by default', async () => {
    const token = await optIn();
    await h.call('POST', '/__sandbox/clock', { advanceMs: 185 * DAY });
    expectGraphError(await h.send(recurringSend(token)), 100);
  });

  it('issues one token per (user, title, frequency)', async () => {
    const daily = await optIn({ title: 'Deals' });
    const dailyAgain = await optIn({ title: 'Deals' });
    const weekly = await optIn({ title: 'Deals', frequency: 'WEEKLY' });
    const other = await optIn({ title: 'New arrivals' });
    expect(dailyAgain).toBe(daily);
    expect(new Set([daily, weekly, other]).size).toBe(3);
  });
});

describe('Send API: unavailable users', () => {
  it('answers 551/1545041 for a person who blocked the Page, whatever the recipient kind', async () => {
    const otn = await h.trigger({ type: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'p' });
    const recurring = await h.trigger({ type: 'recurring_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'p' });
    await h.call('PATCH', `/__sandbox/pages/${PAGE_ID}/users/user-1`, { blocked: true });
    expectGraphError(await h.send(text('user-1')), 551, 1545041);
    expectGraphError(await h.send({ recipient: { one_time_notif_token: otn.token.token }, message: { text: 'x' } }), 551, 1545041);
    expectGraphError(await h.send({ recipient: { notification_messages_token: recurring.token.token }, message: { text: 'x' } }), 551, 1545041);
    // A failed send does not consume the one-time token.
    await h.call('PATCH', `/__sandbox/pages/${PAGE_ID}/users/user-1`, { blocked: false });
    expect((await h.send({ recipient: { one_time_notif_token: otn.token.token }, message: { text: 'x' } })).status).toBe(200);
  });
});

describe('Send API: checkbox user_ref', () => {
  it('sends to a user_ref within 24h of the opt-in, without recipient_id in the answer', async () => {
    const optin = await h.trigger({ type: 'checkbox_optin', pageId: PAGE_ID, userRef: 'cart-user-7', ref: 'cart' });
    expect(optin.userRef).toBe('cart-user-7');
    const result = await h.send({ recipient: { user_ref: 'cart-user-7' }, messaging_type: 'UPDATE', message: { text: 'Your cart' } });
    expect(result.status).toBe(200);
    expect(result.json).toEqual({ message_id: expect.stringMatching(/^m_/) });
    expectGraphError(await h.send({ recipient: { user_ref: 'unknown-ref' }, message: { text: 'x' } }), 100, 2018001);
    await h.call('POST', '/__sandbox/clock', { advanceMs: 25 * HOUR });
    expectGraphError(await h.send({ recipient: { user_ref: 'cart-user-7' }, message: { text: 'x' } }), 10, 2018278);
  });
});

describe('Send API: recorded messages', () => {
  it('records every accepted message per Page and per PSID, and nothing that was rejected', async () => {
    await h.call('POST', `/__sandbox/pages/${PAGE_ID}/users`, { psid: 'user-2' });
    await h.send(text('user-1', 'one'));
    await h.send(text('user-2', 'two'));
    await h.send(text('user-1', 'x'.repeat(2001)));
    const otn = await h.trigger({ type: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'restock:42' });
    await h.send({ recipient: { one_time_notif_token: otn.token.token }, message: { text: 'three' } });
    const all = await h.call('GET', `/__sandbox/pages/${PAGE_ID}/messages`);
    expect(all.json.total).toBe(3);
    expect(all.json.messages.map((m: Json) => m.message.text)).toEqual(['one', 'two', 'three']);
    expect(all.json.messages[2]).toMatchObject({ psid: 'user-1', recipientKind: 'one_time_notif_token', tokenKind: 'ONE_TIME', topic: 'restock:42' });
    const one = await h.call('GET', `/__sandbox/pages/${PAGE_ID}/messages?psid=user-1`);
    expect(one.json.messages.map((m: Json) => m.message.text)).toEqual(['one', 'three']);
    const paged = await h.call('GET', `/__sandbox/pages/${PAGE_ID}/messages?limit=2`);
    expect(paged.json.messages).toHaveLength(2);
    const rest = await h.call('GET', `/__sandbox/pages/${PAGE_ID}/messages?after=${paged.json.nextAfter}`);
    expect(rest.json.messages.map((m: Json) => m.message.text)).toEqual(['three']);
    const stats = await h.call('GET', '/__sandbox/stats');
    expect(stats.json.pages[PAGE_ID]).toEqual({ accepted: 3, rejected: { '100': 1 } });
  });

  it('with keepMessages off, answers and counts every message but keeps none (what benchmarks of millions run)', async () => {
    await h.close();
    h = await startHarness({ keepMessages: false });
    await createPageWithUser(h, 'user-1');
    const sent = await h.send(text('user-1', 'one'));
    expect(sent.json).toEqual({ recipient_id: 'user-1', message_id: expect.stringMatching(/^m_/) });
    const otn = await h.trigger({ type: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'restock:42' });
    expect((await h.send({ recipient: { one_time_notif_token: otn.token.token }, message: { text: 'two' } })).status).toBe(200);
    // Still single-use: what Meta enforces does not depend on what the sandbox keeps.
    expectGraphError(await h.send({ recipient: { one_time_notif_token: otn.token.token }, message: { text: 'again' } }), 100);
    expect((await h.call('GET', '/__sandbox/stats')).json.pages[PAGE_ID]).toEqual({ accepted: 2, rejected: { '100': 1 } });
    expect((await h.call('GET', `/__sandbox/pages/${PAGE_ID}/messages`)).json.total).toBe(0);
    expect((await h.call('GET', `/__sandbox/pages/${PAGE_ID}/messages?psid=user-1`)).json.messages).toEqual([]);
  });
});
