import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { loadPageForSending } from '@renotify/db';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from '../index.js';

const auth = { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' };

/** The Page's messaging region, which the meta-2026 policy profile reads to decide where recurring notifications still go. */
describe('Page messagingRegion', () => {
  let services: TestServices;
  let ingest: RunningIngest;
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${ingest.url}${path}`, { method, headers: auth, ...(body !== undefined && { body: JSON.stringify(body) }) });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    services = await createTestServices('ingestregion');
    ingest = await startIngest(loadIngestConfig(services.env));
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  it('is stored upper-cased, shown, changed, cleared, and reaches loadPageForSending', async () => {
    const created = await api('POST', '/v1/pages', { id: '500600700', name: 'Paris Shop', accessToken: 't', appSecret: 's', policyProfile: 'meta-2026', messagingRegion: 'fr' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ policyProfile: 'meta-2026', messagingRegion: 'FR' });
    expect((await loadPageForSending(ingest.deps.db, ingest.deps.secrets, '500600700'))?.messagingRegion).toBe('FR');
    expect((await api('PATCH', '/v1/pages/500600700', { messagingRegion: 'US' })).json.messagingRegion).toBe('US');
    expect((await api('PATCH', '/v1/pages/500600700', { messagingRegion: null })).json.messagingRegion).toBeNull();
    const plain = await api('POST', '/v1/pages', { id: '500600701', name: 'No Region', accessToken: 't', appSecret: 's' });
    expect(plain.json).toMatchObject({ messagingRegion: null, policyProfile: 'meta-2022' });
  });

  it('refuses anything but a two-letter code with a 400', async () => {
    for (const messagingRegion of ['France', 'F', '12', 42]) {
      const result = await api('PATCH', '/v1/pages/500600700', { messagingRegion });
      expect(result.status, String(messagingRegion)).toBe(400);
    }
  });
});
