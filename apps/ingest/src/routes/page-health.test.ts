import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { buildSandbox, type Sandbox } from '@renotify/messenger-sandbox';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from '../index.js';
import { checkPageHealth, type PageHealth } from './page-health.js';
import { loadPageForSending } from '@renotify/db';

const auth = { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' };
const PAGE = { id: '400000000000001', name: 'Doctor Shop', accessToken: 'doctor-page-token', appSecret: 'doctor-app-secret' };

/** The doctor against the sandbox as Meta: green on a correct Page, and each check red on its own mis-configuration. */
describe('GET /v1/pages/:id/health', () => {
  let services: TestServices;
  let sandbox: Sandbox;
  let ingest: RunningIngest;

  async function call(method: string, url: string, body?: unknown) {
    const response = await fetch(url, { method, headers: auth, ...(body !== undefined && { body: JSON.stringify(body) }) });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  }
  const api = (method: string, path: string, body?: unknown) => call(method, `${ingest.url}${path}`, body);
  const control = (method: string, path: string, body?: unknown) => call(method, `${sandboxUrl}/__sandbox${path}`, body);
  let sandboxUrl = '';
  const health = async (pageId = PAGE.id): Promise<PageHealth> => {
    const result = await api('GET', `/v1/pages/${pageId}/health`);
    expect(result.status).toBe(200);
    return result.json as PageHealth;
  };
  const statuses = (report: PageHealth) => Object.fromEntries(report.checks.map((check) => [check.name, check.status]));
  const check = (report: PageHealth, name: string) => report.checks.find((c) => c.name === name)!;

  beforeAll(async () => {
    services = await createTestServices('ingesthealth');
    sandbox = buildSandbox({ seed: 7, sendRatePerSecond: null });
    sandboxUrl = await sandbox.listen(0, '127.0.0.1');
    ingest = await startIngest(loadIngestConfig({ ...services.env, GRAPH_API_BASE_URL: sandboxUrl }));
    await control('PUT', '/webhook', { url: `${ingest.url}/webhooks/messenger` });
    expect((await control('POST', '/pages', PAGE)).status).toBe(201);
    await control('POST', `/pages/${PAGE.id}/users`, { psid: 'doctor-user' });
    expect((await api('POST', '/v1/pages', PAGE)).status).toBe(201);
    // One signed webhook from the sandbox, stored as a receipt by the ingest.
    expect((await control('POST', '/webhooks/trigger', { type: 'message', pageId: PAGE.id, psid: 'doctor-user', text: 'hi' })).status).toBe(200);
  });
  afterAll(async () => {
    await ingest?.close();
    await sandbox?.close();
    await services?.cleanup();
  });

  it('is green for a correctly set-up Page (Require App Secret on, subscribed, v24.0, recent webhook)', async () => {
    const report = await health();
    expect(report.healthy, JSON.stringify(report.checks)).toBe(true);
    expect(statuses(report)).toEqual({ access_token: 'OK', app_secret: 'OK', webhook_subscription: 'OK', graph_version: 'OK', verify_token: 'OK', recent_webhook: 'OK' });
  });

  it('reports a wrong app secret (proof refused) with the fix, and skips the subscription check', async () => {
    await control('PATCH', `/pages/${PAGE.id}`, { appSecret: 'rotated-in-the-dashboard' });
    try {
      const report = await health();
      expect(report.healthy).toBe(false);
      expect(check(report, 'access_token').status).toBe('OK');
      expect(check(report, 'app_secret')).toMatchObject({ status: 'PROBLEM', detail: expect.stringContaining('Invalid appsecret_proof'), fix: expect.stringContaining('appSecret') });
      expect(check(report, 'webhook_subscription').status).toBe('SKIPPED');
    } finally {
      await control('PATCH', `/pages/${PAGE.id}`, { appSecret: PAGE.appSecret });
    }
  });

  it('reports a bad access token and skips the checks that need it', async () => {
    expect((await api('PATCH', `/v1/pages/${PAGE.id}`, { accessToken: 'revoked-token' })).status).toBe(200);
    try {
      const report = await health();
      expect(check(report, 'access_token')).toMatchObject({ status: 'PROBLEM', detail: expect.stringContaining('190'), fix: expect.stringContaining('accessToken') });
      expect(statuses(report)).toMatchObject({ app_secret: 'SKIPPED', webhook_subscription: 'SKIPPED' });
    } finally {
      await api('PATCH', `/v1/pages/${PAGE.id}`, { accessToken: PAGE.accessToken });
    }
  });

  it('reports an app subscribed without messaging_optins, and an app not subscribed at all, with the curl to fix it', async () => {
    await control('PATCH', `/pages/${PAGE.id}`, { subscribedFields: ['messages', 'messaging_postbacks'] });
    let report = await health();
    expect(check(report, 'webhook_subscription')).toMatchObject({ status: 'PROBLEM', detail: expect.stringContaining('without messaging_optins'), fix: expect.stringContaining('subscribed_fields=messages,messaging_optins,messaging_postbacks') });
    await control('PATCH', `/pages/${PAGE.id}`, { subscribedFields: [] });
    report = await health();
    expect(check(report, 'webhook_subscription')).toMatchObject({ status: 'PROBLEM', detail: expect.stringContaining('no app is subscribed') });
    await control('PATCH', `/pages/${PAGE.id}`, { subscribedFields: ['messages', 'messaging_optins', 'messaging_postbacks'] });
    expect((await health()).healthy).toBe(true);
  });

  it('reports a Graph version below v24 or expired', async () => {
    for (const version of ['v21.0', 'v19.0']) {
      await api('PATCH', `/v1/pages/${PAGE.id}`, { graphVersion: version });
      expect(check(await health(), 'graph_version')).toMatchObject({ status: 'PROBLEM', fix: expect.stringContaining('v24.0 or later') });
    }
    await api('PATCH', `/v1/pages/${PAGE.id}`, { graphVersion: 'v24.0' });
    expect(check(await health(), 'graph_version').status).toBe('OK');
  });

  it('reports a Page without a recent webhook', async () => {
    const quiet = { id: '400000000000002', name: 'Quiet Shop', accessToken: 'quiet-page-token', appSecret: 'quiet-app-secret' };
    await control('POST', '/pages', quiet);
    await api('POST', '/v1/pages', quiet);
    const report = await health(quiet.id);
    expect(check(report, 'recent_webhook')).toMatchObject({ status: 'PROBLEM', detail: expect.stringContaining('no webhook'), fix: expect.stringContaining('callback URL') });
    expect(check(report, 'access_token').status).toBe('OK');
  });

  it('reports the demo verify token in production', async () => {
    const page = (await loadPageForSending(ingest.deps.db, ingest.deps.secrets, PAGE.id))!;
    const production = { ...ingest.deps, config: { ...ingest.deps.config, NODE_ENV: 'production' as const } };
    expect(check(await checkPageHealth(production, page), 'verify_token')).toMatchObject({ status: 'PROBLEM', fix: expect.stringContaining('WEBHOOK_VERIFY_TOKEN') });
    const own = { ...ingest.deps, config: { ...production.config, WEBHOOK_VERIFY_TOKEN: 'a-long-random-verify-token' } };
    expect(check(await checkPageHealth(own, page), 'verify_token').status).toBe('OK');
  });

  it('answers 404 for an unknown Page and 401 without an API key', async () => {
    expect((await api('GET', '/v1/pages/999/health')).status).toBe(404);
    expect((await fetch(`${ingest.url}/v1/pages/${PAGE.id}/health`)).status).toBe(401);
  });
});
