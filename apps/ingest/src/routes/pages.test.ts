import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, DEMO_ENCRYPTION_KEY, loadIngestConfig } from '@renotify/config';
import { findAppSecrets, loadPageForSending } from '@renotify/db';
import { createLogger } from '@renotify/observability';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from '../index.js';

const auth = { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' };

async function call(base: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, { method, headers: auth, ...(body !== undefined && { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, text, json: text ? JSON.parse(text) : undefined };
}

describe('Page registration API', () => {
  let services: TestServices;
  let ingest: RunningIngest;
  const logLines: string[] = [];
  const api = (method: string, path: string, body?: unknown) => call(ingest.url, method, path, body);

  beforeAll(async () => {
    services = await createTestServices('ingestpages');
    const destination = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    ingest = await startIngest(loadIngestConfig(services.env), createLogger({ name: 'ingest', level: 'debug', destination }));
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  const page = { id: '100200300', name: 'Shoe Shop', accessToken: 'EAAG-secret-access-token', appSecret: 'app-secret-xyz' };

  it('registers a Page (201), refuses the same id again (409) and never returns or logs its secrets', async () => {
    const created = await api('POST', '/v1/pages', { ...page, policyProfile: 'meta-2025-09', sendRatePerSec: 100 });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ id: page.id, name: 'Shoe Shop', graphVersion: 'v24.0', policyProfile: 'meta-2025-09', sendRatePerSec: 100, timezone: 'UTC' });
    expect(created.text).not.toContain(page.accessToken);
    expect(created.text).not.toContain(page.appSecret);

    const again = await api('POST', '/v1/pages', page);
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('page_exists');

    const listed = await api('GET', '/v1/pages');
    expect(listed.json.items.map((p: { id: string }) => p.id)).toEqual([page.id]);
    const one = await api('GET', `/v1/pages/${page.id}`);
    expect(one.status).toBe(200);
    for (const text of [listed.text, one.text, logLines.join('')]) {
      expect(text).not.toContain(page.accessToken);
      expect(text).not.toContain(page.appSecret);
    }
  });

  it('stores secrets as AES-256-GCM ciphertexts, not plaintext', async () => {
    const row = (await ingest.deps.db.pool.query('SELECT "accessTokenCipher", "appSecretCipher" FROM "Page" WHERE id = $1', [page.id])).rows[0];
    expect(row.accessTokenCipher).toMatch(/^v1\.[0-9a-f]{8}\./);
    expect(row.accessTokenCipher).not.toContain(page.accessToken);
    expect(row.appSecretCipher).not.toContain(page.appSecret);
  });

  it('validates input with every problem listed', async () => {
    const bad = await api('POST', '/v1/pages', { id: 'has space', name: '', accessToken: '', appSecret: 'x', graphVersion: '24', policyProfile: 'meta-1999', timezone: 'Mars/Base' });
    expect(bad.status).toBe(400);
    const paths = bad.json.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['id', 'name', 'accessToken', 'graphVersion', 'policyProfile', 'timezone']));
    expect(JSON.stringify(bad.json)).toMatch(/meta-2022/);
    expect((await api('POST', '/v1/pages', { ...page, id: '55', extra: true })).status).toBe(400);
  });

  it('updates settings and secrets with PATCH; 404 for unknown Pages', async () => {
    const patched = await api('PATCH', `/v1/pages/${page.id}`, { name: 'Shoe Shop EU', timezone: 'Europe/Paris', accessToken: 'EAAG-rotated' });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ name: 'Shoe Shop EU', timezone: 'Europe/Paris' });
    expect(patched.text).not.toContain('EAAG-rotated');
        const sending = await loadPageForSending(ingest.deps.db, ingest.deps.secrets, page.id);
    expect(sending).toMatchObject({ accessToken: 'EAAG-rotated', appSecret: page.appSecret, timezone: 'Europe/Paris', pausedUntil: null });
    expect((await api('PATCH', `/v1/pages/${page.id}`, {})).status).toBe(400);
    expect((await api('PATCH', '/v1/pages/999', { name: 'x' })).status).toBe(404);
    expect((await api('GET', '/v1/pages/999')).status).toBe(404);
  });

  it('soft-deletes: gone from the API and from loadPageForSending, and can be registered again', async () => {
    await api('POST', '/v1/pages', { ...page, id: '777' });
    expect((await api('DELETE', '/v1/pages/777')).status).toBe(204);
    expect((await api('DELETE', '/v1/pages/777')).status).toBe(404);
    expect((await api('GET', '/v1/pages/777')).status).toBe(404);
        expect(await loadPageForSending(ingest.deps.db, ingest.deps.secrets, '777')).toBeNull();
    expect([...(await findAppSecrets(ingest.deps.db, ingest.deps.secrets, ['777', page.id])).keys()]).toEqual([page.id]);
    const revived = await api('POST', '/v1/pages', { ...page, id: '777', name: 'Back again' });
    expect(revived.status).toBe(201);
    expect(revived.json.name).toBe('Back again');
  });

  it('re-encrypts rows sealed with an old key after a rotation', async () => {
    const newKey = Buffer.alloc(32, 9).toString('base64');
    const rotated = await startIngest(loadIngestConfig({ ...services.env, ENCRYPTION_KEY: newKey, ENCRYPTION_KEYS_PREVIOUS: DEMO_ENCRYPTION_KEY }));
    try {
      const first = await call(rotated.url, 'POST', '/v1/admin/reencrypt-secrets');
      expect(first.status).toBe(200);
      expect(first.json).toEqual({ scanned: 2, reencrypted: 2 });
      expect((await call(rotated.url, 'POST', '/v1/admin/reencrypt-secrets')).json).toEqual({ scanned: 2, reencrypted: 0 });
    } finally {
      await rotated.close();
    }
    // Only the new key is needed now.
    const newOnly = await startIngest(loadIngestConfig({ ...services.env, ENCRYPTION_KEY: newKey }));
    try {
            expect((await loadPageForSending(newOnly.deps.db, newOnly.deps.secrets, page.id))?.accessToken).toBe('EAAG-rotated');
    } finally {
      await newOnly.close();
    }
  });
});
