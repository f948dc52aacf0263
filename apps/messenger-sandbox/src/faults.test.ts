import { afterEach, describe, expect, it } from 'vitest';
import { buildSandbox } from './app.js';
import { createPageWithUser, PAGE_ID, proofFor, startHarness, type Harness } from './test-support/harness.js';

const text = { recipient: { id: 'user-1' }, messaging_type: 'RESPONSE', message: { text: 'hello' } };

const harnesses: Harness[] = [];
async function fresh(options: Parameters<typeof startHarness>[0] = {}) {
  const h = await startHarness(options);
  harnesses.push(h);
  await createPageWithUser(h, 'user-1');
  return h;
}
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

async function outcomes(h: Harness, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const result = await h.send(text);
    out.push(result.status === 200 ? 'ok' : `${result.json.error.code}${result.json.error.error_subcode ? `/${result.json.error.error_subcode}` : ''}`);
  }
  return out;
}

describe('per-Page send rate', () => {
  it('defaults to Meta\'s 300/s for new Pages', async () => {
    const sandbox = buildSandbox();
    try {
      expect(sandbox.state.createPage({ id: '9' }).rate.perSecond).toBe(300);
    } finally {
      await sandbox.close();
    }
  });

  it('answers 613 once the per-second rate is exceeded, and refills continuously', async () => {
    let clock = 0;
    const h = await fresh({ sendRatePerSecond: 300, rateClock: () => clock });
    const burst = await Promise.all(Array.from({ length: 300 }, () => h.send(text)));
    expect(burst.every((r) => r.status === 200)).toBe(true);
    const over = await h.send(text);
    expect(over.json.error).toMatchObject({ code: 613, type: 'OAuthException', message: expect.stringMatching(/rate limit/) });
    clock += 100; // 100 ms refills 30 sends at 300/s
    const refill = await outcomes(h, 31);
    expect(refill.slice(0, 30)).toEqual(Array(30).fill('ok'));
    expect(refill[30]).toBe('613');
  });

  it('can be set per Page, answer 4 instead, and be lifted', async () => {
    const h = await fresh({ rateClock: () => 0 });
    await h.call('PUT', `/__sandbox/pages/${PAGE_ID}/rate-limit`, { perSecond: 3, code: 4 });
    const limited = await outcomes(h, 5);
    expect(limited.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);
    expect(limited.slice(3)).toEqual(['4', '4']);
    const lifted = await h.call('PUT', `/__sandbox/pages/${PAGE_ID}/rate-limit`, { perSecond: null });
    expect(lifted.json).toEqual({ perSecond: null, code: 613 });
    expect(await outcomes(h, 50)).toEqual(Array(50).fill('ok'));
  });

  it('validates control input with a clear 400', async () => {
    const h = await fresh();
    const bad = await h.call('PUT', `/__sandbox/pages/${PAGE_ID}/rate-limit`, { perSecond: -1 });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/perSecond/);
    expect((await h.call('PUT', '/__sandbox/pages/999/rate-limit', { perSecond: 1 })).status).toBe(404);
  });
});

describe('fault injection', () => {
  it('injects error codes at the configured rates, reproducibly from the seed', async () => {
    const faults = {
      errors: [
        { code: 2, rate: 0.2 },
        { code: 613, rate: 0.1 },
        { code: 10, subcode: 1893063, rate: 0.1 },
      ],
    };
    const a = await fresh({ seed: 7 });
    const b = await fresh({ seed: 7 });
    const c = await fresh({ seed: 8 });
    for (const h of [a, b, c]) expect((await h.call('PUT', `/__sandbox/pages/${PAGE_ID}/faults`, faults)).status).toBe(200);
    const runA = await outcomes(a, 200);
    const runB = await outcomes(b, 200);
    const runC = await outcomes(c, 200);
    expect(runA).toEqual(runB);
    expect(runA).not.toEqual(runC);
    const count = (code: string) => runA.filter((o) => o === code).length;
    expect(count('2')).toBeGreaterThan(20);
    expect(count('2')).toBeLessThan(60);
    expect(count('613')).toBeGreaterThan(5);
    expect(count('10/1893063')).toBeGreaterThan(5);
    expect(count('ok')).toBeGreaterThan(90);
  });

  it('answers injected code 2 with HTTP 500 and the temporary-error message', async () => {
    const h = await fresh();
    await h.call('PUT', `/__sandbox/pages/${PAGE_ID}/faults`, { errors: [{ code: 2, rate: 1 }] });
    const result = await h.send(text);
    expect(result.status).toBe(500);
    expect(result.json.error).toMatchObject({ code: 2, message: expect.stringMatching(/retry/i) });
  });

  it('adds latency', async () => {
    const h = await fresh();
    await h.call('PUT', `/__sandbox/pages/${PAGE_ID}/faults`, { latencyMs: 150 });
    const started = performance.now();
    expect((await h.send(text)).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('throttles in bursts: on demand, and randomly from the seed', async () => {
    const h = await fresh();
    const burst = await h.call('POST', `/__sandbox/pages/${PAGE_ID}/throttle-burst`, { requests: 3, code: 32 });
    expect(burst.json).toEqual({ remaining: 3, code: 32 });
    expect(await outcomes(h, 5)).toEqual(['32', '32', '32', 'ok', 'ok']);

    await h.call('PUT', `/__sandbox/pages/${PAGE_ID}/faults`, { throttleBursts: { probability: 0.05, length: 4, code: 613 } });
    const run = (await outcomes(h, 300)).join(',');
    expect(run).toMatch(/613,613,613,613/);
    expect(run.split('613').length - 1).toBeGreaterThan(4);
  });

  it('does not consume a one-time token on an injected failure', async () => {
    const h = await fresh();
    const otn = await h.trigger({ type: 'one_time_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'p' });
    await h.call('PUT', `/__sandbox/pages/${PAGE_ID}/faults`, { errors: [{ code: 1200, rate: 1 }] });
    const body = { recipient: { one_time_notif_token: otn.token.token }, message: { text: 'x' } };
    expect((await h.send(body)).json.error.code).toBe(1200);
    await h.call('PUT', `/__sandbox/pages/${PAGE_ID}/faults`, {});
    expect((await h.send(body)).status).toBe(200);
  });

  it('rejects error rates that add up to more than 1', async () => {
    const h = await fresh();
    const result = await h.call('PUT', `/__sandbox/pages/${PAGE_ID}/faults`, { errors: [{ code: 2, rate: 0.7 }, { code: 4, rate: 0.4 }] });
    expect(result.status).toBe(400);
  });
});

describe('GET /{page-id}/notification_message_tokens', () => {
  it('lists recurring tokens 25 per page by default with an after cursor, at most 100 per page', async () => {
    const h = await fresh();
    const bulk = await h.call('POST', `/__sandbox/pages/${PAGE_ID}/tokens/bulk`, { count: 130, kind: 'RECURRING', payload: 'deals', title: 'Deals' });
    expect(bulk.json.count).toBe(130);
    const auth = { authorization: 'Bearer test-page-access-token' };
    const first = await h.call('GET', `/v24.0/${PAGE_ID}/notification_message_tokens?appsecret_proof=${proofFor()}`, undefined, auth);
    expect(first.status).toBe(200);
    expect(first.json.data).toHaveLength(25);
    expect(first.json.data[0]).toEqual({
      notification_messages_token: bulk.json.tokens[0].token,
      recipient_id: bulk.json.tokens[0].psid,
      notification_messages_reoptin: 'DISABLED',
      creation_timestamp: expect.any(Number),
      token_expiry_timestamp: expect.any(Number),
      user_token_status: 'NOT_REFRESHED',
      topic_title: 'Deals',
      notification_messages_timezone: 'UTC',
      next_eligible_time: expect.any(Number),
    });
    expect(first.json.paging.next).toContain('after=');

    const seen = new Set<string>();
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await h.call('GET', `/v24.0/${PAGE_ID}/notification_message_tokens?appsecret_proof=${proofFor()}&limit=500${after ? `&after=${after}` : ''}`, undefined, auth);
      expect(page.json.data.length).toBeLessThanOrEqual(100);
      for (const item of page.json.data) seen.add(item.notification_messages_token);
      after = page.json.paging?.next ? page.json.paging.cursors.after : undefined;
      pages++;
    } while (after);
    expect(seen.size).toBe(130);
    expect(pages).toBe(2);
  });

  it('shows next_eligible_time after a send and requires the Page token', async () => {
    const h = await fresh();
    const optin = await h.trigger({ type: 'recurring_optin', pageId: PAGE_ID, psid: 'user-1', payload: 'deals' });
    await h.send({ recipient: { notification_messages_token: optin.token.token }, message: { text: 'deal' } });
    const list = await h.call('GET', `/v24.0/${PAGE_ID}/notification_message_tokens?access_token=test-page-access-token&appsecret_proof=${proofFor()}`);
    const nowSeconds = Date.now() / 1000;
    expect(list.json.data[0].next_eligible_time).toBeGreaterThan(nowSeconds + 23 * 3600);
    const inspected = await h.call('GET', `/v24.0/notification_messages_${optin.token.token}?access_token=test-page-access-token&appsecret_proof=${proofFor()}`);
    expect(inspected.json.notification_messages_token).toBe(optin.token.token);
    expect((await h.call('GET', `/v24.0/${PAGE_ID}/notification_message_tokens`)).json.error.code).toBe(190);
    expect((await h.call('GET', `/v24.0/${PAGE_ID}/notification_message_tokens?access_token=test-page-access-token&appsecret_proof=${proofFor()}&limit=0`)).json.error.code).toBe(100);
  });
});

describe('reset and demo seed', () => {
  it('seeds the demo Page and user and restores them on reset', async () => {
    const sandbox = buildSandbox({ seedDemo: true });
    const base = await sandbox.listen(0);
    try {
      const send = () =>
        fetch(`${base}/v24.0/me/messages?appsecret_proof=${proofFor('demo-page-access-token', 'demo-app-secret')}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer demo-page-access-token' },
          body: JSON.stringify({ recipient: { id: 'demo-user-1' }, messaging_type: 'RESPONSE', message: { text: 'hi' } }),
        });
      expect((await send()).status).toBe(200);
      await fetch(`${base}/__sandbox/pages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: '5' }) });
      await fetch(`${base}/__sandbox/reset`, { method: 'POST' });
      const pages = (await (await fetch(`${base}/__sandbox/pages`)).json()) as { pages: Array<{ id: string; name: string; messages: number }> };
      expect(pages.pages).toEqual([expect.objectContaining({ id: '100000000000001', name: 'Demo Shoe Shop', messages: 0 })]);
      expect((await send()).status).toBe(200);
      expect(sandbox.userPageUrl()).toBe(`${base}/user?page=100000000000001&psid=demo-user-1`);
      const html = await (await fetch(sandbox.userPageUrl())).text();
      expect(html).toContain('<script>');
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok', pages: 1 });
      const index = await (await fetch(`${base}/`)).text();
      expect(index).toContain('Demo Shoe Shop');
    } finally {
      await sandbox.close();
    }
  });
});
