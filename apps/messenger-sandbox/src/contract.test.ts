/**
 * Contract between @renotify/messenger (the client the product uses) and this sandbox (our stand-in for Meta):
 * every request the client can build is sent to the sandbox, and every webhook the sandbox can emit goes
 * through the client's signature check and parser. If either side drifts, this file fails.
 */
import {
  appSecretProof,
  buildOneTimeNotifRequest,
  buildPsidSend,
  buildRecurringOptInRequest,
  buildTextMessage,
  buildTokenSend,
  createGraphClient,
  parseWebhookPayload,
  verifySignature,
  type GraphClient,
  type SendOutcome,
  type WebhookEvent,
} from '@renotify/messenger';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCESS_TOKEN, APP_SECRET, createPageWithUser, HOUR, PAGE_ID, startHarness, startReceiver, type Harness, type Receiver } from './test-support/harness.js';
import type { Json } from './test-support/harness.js';

let h: Harness;
let receiver: Receiver;
let client: GraphClient;
/** Renotify's side of a Page: the client computes appsecret_proof from the app secret. */
const page = { pageId: PAGE_ID, accessToken: ACCESS_TOKEN, appSecret: APP_SECRET, graphVersion: 'v24.0' };

beforeEach(async () => {
  receiver = await startReceiver();
  // A frozen rate-limiter clock: a Page limited to 1/s stays throttled however slow the machine is.
  h = await startHarness({ webhookUrl: receiver.url, rateClock: () => 0 });
  await createPageWithUser(h, 'user-1');
  client = createGraphClient({ baseUrl: h.baseUrl, connections: 4 });
});
afterEach(async () => {
  await client.close();
  await h.close();
  await receiver.close();
});

function expectOk(outcome: SendOutcome): asserts outcome is Extract<SendOutcome, { ok: true }> {
  if (!outcome.ok) throw new Error(`expected success, got ${JSON.stringify(outcome)}`);
}

/** Fires one user action and returns the events the client parses out of the webhook that arrived. */
async function webhookEvents(action: Record<string, unknown>): Promise<{ events: WebhookEvent[]; result: Json }> {
  const before = receiver.received.length;
  const result = await h.trigger(action);
  const [hook] = (await receiver.waitFor(before + 1)).slice(before);
  expect(verifySignature(hook!.raw, hook!.headers['x-hub-signature-256'] as string, APP_SECRET)).toBe(true);
  expect(verifySignature(hook!.raw, hook!.headers['x-hub-signature-256'] as string, 'wrong-secret')).toBe(false);
  const parsed = parseWebhookPayload(JSON.parse(hook!.raw.toString('utf8')));
  if (!parsed.ok) throw new Error(parsed.error);
  expect(parsed.entries.flatMap((entry) => entry.rejects)).toEqual([]);
  return { events: parsed.entries.flatMap((entry) => entry.events), result };
}

describe('client requests against the sandbox', () => {
  it('sends a text message to a PSID (and with a HUMAN_AGENT tag)', async () => {
    const outcome = await client.sendMessage({ ...page, body: buildPsidSend({ psid: 'user-1', message: buildTextMessage('Hi 👋', { metadata: 'm' }) }) });
    expectOk(outcome);
    expect(outcome).toMatchObject({ recipientId: 'user-1', httpStatus: 200, messageId: expect.stringMatching(/^m_/) });
    const tagged = buildPsidSend({ psid: 'user-1', message: buildTextMessage('human'), messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', notificationType: 'SILENT_PUSH' });
    expectOk(await client.sendMessage({ ...page, pageId: 'me', body: tagged }));
  });

  it('sends both opt-in request templates, with every option the builder has', async () => {
    expectOk(await client.sendMessage({ ...page, body: buildOneTimeNotifRequest({ psid: 'user-1', title: 'Back in stock?', payload: 'restock:42' }) }));
    expectOk(await client.sendMessage({ ...page, body: buildRecurringOptInRequest({ psid: 'user-1', payload: 'deals' }) }));
    const full = buildRecurringOptInRequest({
      psid: 'user-1',
      payload: 'weekly-deals',
      title: 'Weekly deals',
      frequency: 'WEEKLY',
      timezone: 'Europe/Berlin',
      imageUrl: 'https://example.com/shoe.png',
      imageAspectRatio: 'SQUARE',
      ctaText: 'SIGN_UP',
      reoptin: false,
    });
    expectOk(await client.sendMessage({ ...page, body: full }));
    const messages = await h.call('GET', `/__sandbox/pages/${PAGE_ID}/messages?psid=user-1`);
    expect(messages.json.messages.map((m: Json) => m.message.attachment.payload.template_type)).toEqual([
      'one_time_notif_req',
      'notification_messages',
      'notification_messages',
    ]);
  });

  it('sends with a one-time token once; the reuse classifies as token_invalid', async () => {
    const { events } = await webhookEvents({ type: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'restock:42' });
    const optin = events[0];
    if (optin?.kind !== 'one_time_optin') throw new Error('expected a one-time opt-in');
    const body = buildTokenSend({ kind: 'ONE_TIME', token: optin.token, message: buildTextMessage('Size 42 is back') });
    const first = await client.sendMessage({ ...page, body });
    expectOk(first);
    expect(first.recipientId).toBe('user-1');
    const second = await client.sendMessage({ ...page, body });
    expect(second).toMatchObject({ ok: false, httpStatus: 400, error: { code: 100, subcode: null, type: 'OAuthException' }, failure: { kind: 'token_invalid', retry: false } });
    if (!second.ok) expect(second.error.fbtraceId).toEqual(expect.any(String));
    // Serialised once and passed as text, the hint tells the classifier what the recipient was.
    const asText = await client.sendMessage({ ...page, body: JSON.stringify(body), recipientKind: 'one_time_notif_token' });
    expect(asText).toMatchObject({ ok: false, failure: { kind: 'token_invalid' } });
  });

  it('sends with a recurring token, parsing `recipient`; the next send classifies as cooldown, then stopped', async () => {
    const { events } = await webhookEvents({ type: 'recurring_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'deals', title: 'Deals' });
    const optin = events[0];
    if (optin?.kind !== 'recurring_optin') throw new Error('expected a recurring opt-in');
    const body = buildTokenSend({ kind: 'RECURRING', token: optin.token, message: buildTextMessage("Today's deals") });
    const first = await client.sendMessage({ ...page, body });
    expectOk(first);
    expect(first.recipientId).toBe('user-1');
    expect(await client.sendMessage({ ...page, body })).toMatchObject({ ok: false, error: { code: 4, subcode: 2018354 }, failure: { kind: 'cooldown' } });
    await webhookEvents({ type: 'recurring_status', pageId: PAGE_ID, token: optin.token, status: 'STOP' });
    await h.call('POST', '/__sandbox/clock', { advanceMs: 25 * HOUR });
    expect(await client.sendMessage({ ...page, body })).toMatchObject({ ok: false, error: { code: 10, subcode: 1893015 }, failure: { kind: 'stopped' } });
  });

  it('sends to a checkbox user_ref without a recipient id', async () => {
    const { events } = await webhookEvents({ type: 'checkbox_optin', pageId: PAGE_ID, ref: 'cart' });
    const optin = events[0];
    if (optin?.kind !== 'checkbox_optin') throw new Error('expected a checkbox opt-in');
    const outcome = await client.sendMessage({ ...page, body: { recipient: { user_ref: optin.userRef }, messaging_type: 'UPDATE', message: buildTextMessage('cart') } });
    expectOk(outcome);
    expect(outcome.recipientId).toBeUndefined();
  });

  it('classifies every sandbox error the way the worker needs', async () => {
    const send = (body: Parameters<GraphClient['sendMessage']>[0]['body'], over: Partial<typeof page> = {}) => client.sendMessage({ ...page, ...over, body });
    const psidText = (psid: string) => buildPsidSend({ psid, message: buildTextMessage('x') });

    expect(await send(psidText('user-1'), { accessToken: 'bad' })).toMatchObject({ failure: { kind: 'access_token_invalid' }, error: { code: 190 } });
    expect(await send(psidText('ghost'))).toMatchObject({ failure: { kind: 'permanent' }, error: { code: 100, subcode: 2018001 } });
    expect(await send(buildTokenSend({ kind: 'RECURRING', token: 'made-up', message: { text: 'x' } }))).toMatchObject({ failure: { kind: 'token_invalid' } });

    await h.call('PATCH', `/__sandbox/pages/${PAGE_ID}/users/user-1`, { blocked: true });
    expect(await send(psidText('user-1'))).toMatchObject({ failure: { kind: 'recipient_unavailable' }, error: { code: 551, subcode: 1545041 } });
    await h.call('PATCH', `/__sandbox/pages/${PAGE_ID}/users/user-1`, { blocked: false });

    expectOk(await send(buildOneTimeNotifRequest({ psid: 'user-1', title: 'Dup', payload: 'p' })));
    expect(await send(buildOneTimeNotifRequest({ psid: 'user-1', title: 'Dup', payload: 'p' }))).toMatchObject({
      failure: { kind: 'permanent', retry: false },
      error: { code: 613, subcode: 1893016 },
    });

    await h.call('POST', '/__sandbox/clock', { advanceMs: 25 * HOUR });
    expect(await send(psidText('user-1'))).toMatchObject({ failure: { kind: 'outside_window' }, error: { code: 10, subcode: 2018278 } });
    await h.call('POST', '/__sandbox/clock', { now: Date.UTC(2026, 4, 1) });
    await h.trigger({ type: 'message', pageId: PAGE_ID, psid: 'user-1', text: 'hi' });
    const deadTag = buildPsidSend({ psid: 'user-1', message: { text: 'x' }, messagingType: 'MESSAGE_TAG', tag: 'ACCOUNT_UPDATE' });
    // A request-level 100 (here a dead tag) is about the request: the source stops, no token is touched.
    expect(await send(deadTag)).toMatchObject({ failure: { kind: 'request_invalid', retry: false }, error: { code: 100 } });

    await h.call('PUT', `/__sandbox/pages/${PAGE_ID}/rate-limit`, { perSecond: 1 });
    expectOk(await send(psidText('user-1')));
    expect(await send(psidText('user-1'))).toMatchObject({ failure: { kind: 'throttled', retry: true }, error: { code: 613 } });
    await h.call('PUT', `/__sandbox/pages/${PAGE_ID}/rate-limit`, { perSecond: null });

    const injected: Array<[Record<string, unknown>, string, boolean]> = [
      [{ code: 2 }, 'retryable', true],
      [{ code: 1200 }, 'retryable', true],
      [{ code: 4 }, 'throttled', true],
      [{ code: 32 }, 'throttled', true],
      [{ code: 368 }, 'retryable', true],
      [{ code: 10, subcode: 1893063 }, 'page_paused', true],
      [{ code: 10, subcode: 2018108 }, 'recipient_unavailable', false],
      [{ code: 613, subcode: 2018338 }, 'permanent', false],
      [{ code: 200, subcode: 1545041 }, 'recipient_unavailable', false],
    ];
    for (const [fault, kind, retry] of injected) {
      await h.call('PUT', `/__sandbox/pages/${PAGE_ID}/faults`, { errors: [{ ...fault, rate: 1 }] });
      const outcome = await send(psidText('user-1'));
      expect(outcome, JSON.stringify(fault)).toMatchObject({ ok: false, failure: { kind, retry } });
    }
  });

  it('pages through notification_message_tokens with the client', async () => {
    await h.call('POST', `/__sandbox/pages/${PAGE_ID}/tokens/bulk`, { count: 60, kind: 'RECURRING', payload: 'deals', title: 'Deals' });
    const tokens = new Set<string>();
    let after: string | undefined;
    let calls = 0;
    do {
      const pageOfTokens = await client.listNotificationMessageTokens({ ...page, limit: 25, ...(after ? { after } : {}) });
      for (const token of pageOfTokens.tokens) {
        tokens.add(token.token);
        expect(token).toMatchObject({ topicTitle: 'Deals', userTokenStatus: 'NOT_REFRESHED', reoptin: 'DISABLED', timezone: 'UTC' });
        expect(token.expiresAt!.getTime()).toBeGreaterThan(Date.now());
        expect(token.createdAt).toBeInstanceOf(Date);
        expect(token.nextEligibleAt).toBeInstanceOf(Date);
      }
      after = pageOfTokens.nextCursor;
      calls++;
    } while (after);
    expect(tokens.size).toBe(60);
    expect(calls).toBe(3);
    await expect(client.listNotificationMessageTokens({ ...page, accessToken: 'bad' })).rejects.toMatchObject({
      name: 'GraphRequestError',
      failure: { kind: 'access_token_invalid' },
    });
  });
});

describe('appsecret_proof and the doctor\'s reads, client against sandbox', () => {
  it('carries a valid proof on every call the client makes (the sandbox requires one)', async () => {
    expect((await h.call('GET', `/__sandbox/pages/${PAGE_ID}`)).json.requireAppSecretProof).toBe(true);
    expectOk(await client.sendMessage({ ...page, body: buildPsidSend({ psid: 'user-1', message: buildTextMessage('proof') }) }));
    expect((await client.listNotificationMessageTokens(page)).tokens).toEqual([]);
    expect(await client.getPageIdentity(page)).toMatchObject({ ok: true, value: { id: PAGE_ID, name: 'Test Page' } });
    expect(await client.getSubscribedApps(page)).toMatchObject({ ok: true, value: [{ subscribedFields: ['messages', 'messaging_optins', 'messaging_postbacks'] }] });
    expect(await client.subscribeApp({ ...page, fields: ['messages', 'messaging_optins'] })).toMatchObject({ ok: true, value: { success: true } });
    expect(await client.getSubscribedApps(page)).toMatchObject({ ok: true, value: [{ subscribedFields: ['messages', 'messaging_optins'] }] });
    expect(await client.getUserProfile({ ...page, psid: 'user-1' })).toMatchObject({ ok: true, value: { id: 'user-1', first_name: expect.any(String) } });
    // A precomputed proof works the same as the secret.
    const { appSecret: _secret, ...withoutSecret } = page;
    expect(await client.getPageIdentity({ ...withoutSecret, appSecretProof: appSecretProof(ACCESS_TOKEN, APP_SECRET) })).toMatchObject({ ok: true });
  });

  it('classifies a missing or wrong proof as page_misconfigured on a token send, and the token still works afterwards', async () => {
    const { events } = await webhookEvents({ type: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'restock:42' });
    const optin = events[0] as Extract<WebhookEvent, { kind: 'one_time_optin' }>;
    const body = buildTokenSend({ kind: 'ONE_TIME', token: optin.token, message: buildTextMessage('Back in stock') });
    const { appSecret: _secret, ...withoutSecret } = page;

    const missing = await client.sendMessage({ ...withoutSecret, body });
    expect(missing).toMatchObject({ ok: false, httpStatus: 400, error: { code: 100, type: 'GraphMethodException', message: 'API calls from the server require an appsecret_proof argument' }, failure: { kind: 'page_misconfigured', retry: false } });
    const wrong = await client.sendMessage({ ...page, appSecret: 'not-the-app-secret', body });
    expect(wrong).toMatchObject({ ok: false, error: { code: 100, type: 'GraphMethodException', message: 'Invalid appsecret_proof provided in the API argument' }, failure: { kind: 'page_misconfigured' } });
    expect(await client.getPageIdentity({ ...page, appSecret: 'not-the-app-secret' })).toMatchObject({ ok: false, failure: { kind: 'page_misconfigured' } });

    // A refused message shape on a token send keeps the token too.
    const bogus = JSON.stringify({ recipient: { one_time_notif_token: optin.token }, message: { text: 'x', quick_replies: [{ content_type: 'bogus', title: 'x', payload: 'x' }] } });
    expect(await client.sendMessage({ ...page, body: bogus, recipientKind: 'one_time_notif_token' })).toMatchObject({ ok: false, error: { code: 100 }, failure: { kind: 'request_invalid' } });

    expectOk(await client.sendMessage({ ...page, body }));
  });

  it('profile lookups answer 100/33 for a PSID the Page cannot see, classified permanent (not a token problem)', async () => {
    expect(await client.getUserProfile({ ...page, psid: 'ghost' })).toMatchObject({ ok: false, error: { code: 100, subcode: 33, type: 'GraphMethodException' }, failure: { kind: 'permanent' } });
    expect(await client.getPageIdentity({ ...page, accessToken: 'bad' })).toMatchObject({ ok: false, error: { code: 190 }, failure: { kind: 'access_token_invalid' } });
  });
});

describe('sandbox webhooks through the client parser', () => {
  it('parses a user message, a postback and a checkbox opt-in', async () => {
    const message = await webhookEvents({ type: 'message', pageId: PAGE_ID, psid: 'user-1', text: 'Grüße 👟' });
    expect(message.events).toEqual([
      { kind: 'message', pageId: PAGE_ID, psid: 'user-1', timestamp: expect.any(Number), mid: expect.stringMatching(/^m_/), text: 'Grüße 👟' },
    ]);
    const postback = await webhookEvents({ type: 'postback', pageId: PAGE_ID, psid: 'user-1', payload: 'GET_STARTED', title: 'Get Started' });
    expect(postback.events).toEqual([
      { kind: 'postback', pageId: PAGE_ID, psid: 'user-1', timestamp: expect.any(Number), payload: 'GET_STARTED', title: 'Get Started', mid: expect.any(String) },
    ]);
    const checkbox = await webhookEvents({ type: 'checkbox_optin', pageId: PAGE_ID, userRef: 'u-ref-1', ref: 'cart' });
    expect(checkbox.events).toEqual([{ kind: 'checkbox_optin', pageId: PAGE_ID, timestamp: expect.any(Number), userRef: 'u-ref-1', ref: 'cart' }]);
  });

  it('parses one-time and recurring opt-ins with the token the sandbox issued', async () => {
    const oneTime = await webhookEvents({ type: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'restock:42' });
    expect(oneTime.events).toEqual([
      { kind: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', timestamp: expect.any(Number), token: oneTime.result.token.token, payload: 'restock:42' },
    ]);
    const recurring = await webhookEvents({
      type: 'recurring_optin',
      pageId: PAGE_ID,
      psid: 'user-1',
      payload: 'deals',
      title: 'Monthly deals',
      frequency: 'MONTHLY',
      timezone: 'Asia/Tokyo',
    });
    expect(recurring.events).toEqual([
      {
        kind: 'recurring_optin',
        pageId: PAGE_ID,
        psid: 'user-1',
        timestamp: expect.any(Number),
        token: recurring.result.token.token,
        payload: 'deals',
        title: 'Monthly deals',
        frequency: 'MONTHLY',
        timezone: 'Asia/Tokyo',
        expiresAt: new Date(Math.floor(recurring.result.token.expiresAt / 1000) * 1000),
        userTokenStatus: 'NOT_REFRESHED',
      },
    ]);
  });

  it.each([
    ['STOP', 'space'],
    ['STOP', 'underscore'],
    ['RESUME', 'space'],
    ['RESUME', 'underscore'],
  ])('parses %s sent with the %s spelling', async (status, spelling) => {
    const optin = await h.trigger({ type: 'recurring_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'deals' });
    const { events } = await webhookEvents({ type: 'recurring_status', pageId: PAGE_ID, token: optin.token.token, status, spelling });
    expect(events).toEqual([
      {
        kind: 'recurring_status',
        pageId: PAGE_ID,
        psid: 'user-1',
        timestamp: expect.any(Number),
        token: optin.token.token,
        payload: 'deals',
        title: 'Updates and promotions',
        status,
      },
    ]);
  });

  it('parses a re-opt-in after expiry as REFRESHED', async () => {
    const first = await h.trigger({ type: 'recurring_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'deals', expiresAt: Date.now() + HOUR });
    await h.call('POST', '/__sandbox/clock', { advanceMs: 2 * HOUR });
    const { events } = await webhookEvents({ type: 'recurring_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'deals' });
    expect(events[0]).toMatchObject({ kind: 'recurring_optin', token: first.token.token, userTokenStatus: 'REFRESHED' });
  });

  it('parses a batched webhook (several entries, several items per entry)', async () => {
    const actions = [
      { type: 'message', pageId: PAGE_ID, psid: 'user-1', text: 'a' },
      { type: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'restock' },
      { type: 'checkbox_optin', pageId: PAGE_ID },
    ];
    for (const layout of ['entries', 'messaging']) {
      const before = receiver.received.length;
      await h.call('POST', '/__sandbox/webhooks/batch', { actions, layout });
      const [hook] = (await receiver.waitFor(before + 1)).slice(before);
      expect(verifySignature(hook!.raw, hook!.headers['x-hub-signature-256'] as string, APP_SECRET)).toBe(true);
      const parsed = parseWebhookPayload(JSON.parse(hook!.raw.toString()));
      if (!parsed.ok) throw new Error(parsed.error);
      expect(parsed.entries.flatMap((e) => e.events).map((e) => e.kind)).toEqual(['message', 'one_time_optin', 'checkbox_optin']);
    }
  });
});
