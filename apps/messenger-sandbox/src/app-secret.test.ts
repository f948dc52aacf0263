import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCESS_TOKEN, APP_SECRET, createPageWithUser, PAGE_ID, proofFor, startHarness, startReceiver, type Harness, type Json } from './test-support/harness.js';

/** Meta's exact answers (messenger-platform.md §3.3). */
const PROOF_REQUIRED = { message: 'API calls from the server require an appsecret_proof argument', type: 'GraphMethodException', code: 100 };
const PROOF_INVALID = { message: 'Invalid appsecret_proof provided in the API argument', type: 'GraphMethodException', code: 100 };

const text = { recipient: { id: 'user-1' }, messaging_type: 'RESPONSE', message: { text: 'hello' } };
const bearer = { authorization: `Bearer ${ACCESS_TOKEN}` };

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
  await createPageWithUser(h, 'user-1');
});
afterEach(() => h.close());

function expectProofError(result: { status: number; json: Json }, expected: typeof PROOF_REQUIRED) {
  expect(result.status).toBe(400);
  expect(result.json.error).toEqual({ ...expected, fbtrace_id: expect.any(String) });
}

describe('"Require App Secret" (appsecret_proof)', () => {
  it('is on for a new Page: a call without a proof is refused on every Graph route, with Meta\'s message', async () => {
    expect((await h.call('GET', `/__sandbox/pages/${PAGE_ID}`)).json.requireAppSecretProof).toBe(true);
    expectProofError(await h.send(text, { proof: null }), PROOF_REQUIRED);
    expectProofError(await h.call('GET', `/v24.0/${PAGE_ID}/notification_message_tokens`, undefined, bearer), PROOF_REQUIRED);
    expectProofError(await h.call('GET', '/v24.0/me?fields=id,name', undefined, bearer), PROOF_REQUIRED);
    expectProofError(await h.call('GET', `/v24.0/${PAGE_ID}/subscribed_apps`, undefined, bearer), PROOF_REQUIRED);
    expectProofError(await h.call('POST', `/v24.0/${PAGE_ID}/subscribed_apps?subscribed_fields=messages`, undefined, bearer), PROOF_REQUIRED);
    expectProofError(await h.call('GET', '/v24.0/user-1', undefined, bearer), PROOF_REQUIRED);
    expect((await h.call('GET', `/__sandbox/pages/${PAGE_ID}/messages`)).json.messages).toEqual([]);
  });

  it('accepts the right proof (HMAC-SHA256 of the token with the app secret) in the query or the body', async () => {
    expect((await h.send(text)).status).toBe(200);
    const viaBody = await h.call('POST', `/v24.0/${PAGE_ID}/messages`, { ...text, appsecret_proof: proofFor() }, bearer);
    expect(viaBody.status).toBe(200);
    expect(proofFor()).toBe(createHmac('sha256', APP_SECRET).update(ACCESS_TOKEN).digest('hex'));
  });

  it('refuses a wrong proof whenever one is present, even with the setting off', async () => {
    const wrong = [proofFor(ACCESS_TOKEN, 'another-app-secret'), proofFor('another-token'), 'not-hex', proofFor().slice(0, 62)];
    for (const proof of wrong) expectProofError(await h.send(text, { proof }), PROOF_INVALID);
    await h.call('PATCH', `/__sandbox/pages/${PAGE_ID}`, { requireAppSecretProof: false });
    expectProofError(await h.send(text, { proof: wrong[0]! }), PROOF_INVALID);
    expect((await h.send(text, { proof: null })).status).toBe(200);
  });

  it('can be off for a new Page, and follows a rotated app secret', async () => {
    await h.call('POST', '/__sandbox/pages', { id: '300000000000003', accessToken: 'other-page-token', appSecret: 'other-app-secret', requireAppSecretProof: false });
    await h.call('POST', '/__sandbox/pages/300000000000003/users', { psid: 'user-1' });
    expect((await h.send(text, { pageId: '300000000000003', token: 'other-page-token', proof: null })).status).toBe(200);

    await h.call('PATCH', `/__sandbox/pages/${PAGE_ID}`, { appSecret: 'rotated-app-secret' });
    expectProofError(await h.send(text), PROOF_INVALID);
    expect((await h.send(text, { appSecret: 'rotated-app-secret' })).status).toBe(200);
  });

  it('checks the access token before the proof (190 OAuthException for an unknown token)', async () => {
    const result = await h.send(text, { token: 'not-a-token', proof: null });
    expect(result.json.error).toMatchObject({ code: 190, type: 'OAuthException' });
  });
});

describe('GET /me, GET /{psid}, subscribed_apps', () => {
  const withProof = `appsecret_proof=${proofFor()}`;

  it('GET /me?fields=id,name answers the Page the token belongs to', async () => {
    expect((await h.call('GET', `/v24.0/me?fields=id,name&${withProof}`, undefined, bearer)).json).toEqual({ id: PAGE_ID, name: 'Test Page' });
    expect((await h.call('GET', `/v24.0/me?fields=id&${withProof}`, undefined, bearer)).json).toEqual({ id: PAGE_ID });
    expect((await h.call('GET', `/v24.0/${PAGE_ID}?${withProof}`, undefined, bearer)).json).toEqual({ id: PAGE_ID, name: 'Test Page' });
  });

  it('GET /{psid} answers the profile, or 100/33 GraphMethodException for an id the Page cannot see, never 190', async () => {
    await h.call('PATCH', `/__sandbox/pages/${PAGE_ID}/users/user-1`, { name: 'Ada Lovelace' });
    const profile = await h.call('GET', `/v24.0/user-1?fields=first_name,last_name,profile_pic&${withProof}`, undefined, bearer);
    expect(profile.json).toEqual({ id: 'user-1', first_name: 'Ada', last_name: 'Lovelace', profile_pic: expect.stringMatching(/^https:/) });
    for (const id of ['ghost', '300000000000003']) {
      const missing = await h.call('GET', `/v24.0/${id}?fields=first_name&${withProof}`, undefined, bearer);
      expect(missing.status).toBe(400);
      expect(missing.json.error).toMatchObject({ code: 100, error_subcode: 33, type: 'GraphMethodException', message: expect.stringMatching(/^Unsupported get request\. Object with ID '.+' does not exist/) });
    }
  });

  it('lists the app with its fields, re-subscribes with exactly the given fields, validates them, and unsubscribes', async () => {
    const listed = await h.call('GET', `/v24.0/${PAGE_ID}/subscribed_apps?${withProof}`, undefined, bearer);
    expect(listed.json).toEqual({
      data: [{ id: expect.any(String), name: expect.any(String), category: expect.any(String), link: expect.any(String), subscribed_fields: ['messages', 'messaging_optins', 'messaging_postbacks'] }],
    });
    expect((await h.call('POST', `/v24.0/${PAGE_ID}/subscribed_apps?subscribed_fields=messages,message_reads&${withProof}`, undefined, bearer)).json).toEqual({ success: true });
    expect((await h.call('GET', `/v24.0/${PAGE_ID}/subscribed_apps?${withProof}`, undefined, bearer)).json.data[0].subscribed_fields).toEqual(['messages', 'message_reads']);

    const bad = await h.call('POST', `/v24.0/${PAGE_ID}/subscribed_apps?subscribed_fields=messages,nope&${withProof}`, undefined, bearer);
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: 100, message: expect.stringContaining('subscribed_fields') });
    expect((await h.call('POST', `/v24.0/${PAGE_ID}/subscribed_apps?${withProof}`, undefined, bearer)).json.error.code).toBe(100);

    expect((await h.call('DELETE', `/v24.0/${PAGE_ID}/subscribed_apps?${withProof}`, undefined, bearer)).json).toEqual({ success: true });
    expect((await h.call('GET', `/v24.0/${PAGE_ID}/subscribed_apps?${withProof}`, undefined, bearer)).json).toEqual({ data: [] });
    await h.call('PATCH', `/__sandbox/pages/${PAGE_ID}`, { subscribedFields: ['messages'] });
    expect((await h.call('GET', `/v24.0/${PAGE_ID}/subscribed_apps?${withProof}`, undefined, bearer)).json.data[0].subscribed_fields).toEqual(['messages']);
  });
});

describe('webhook signatures', () => {
  it('sends the legacy X-Hub-Signature (sha1) next to X-Hub-Signature-256, both over the exact bytes', async () => {
    const receiver = await startReceiver();
    try {
      await h.call('PUT', '/__sandbox/webhook', { url: receiver.url });
      await h.trigger({ type: 'message', pageId: PAGE_ID, psid: 'user-1', text: 'Grüße' });
      const [hook] = await receiver.waitFor(1);
      expect(hook!.headers['x-hub-signature']).toBe(`sha1=${createHmac('sha1', APP_SECRET).update(hook!.raw).digest('hex')}`);
      expect(hook!.headers['x-hub-signature-256']).toBe(`sha256=${createHmac('sha256', APP_SECRET).update(hook!.raw).digest('hex')}`);
    } finally {
      await receiver.close();
    }
  });
});
