import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { ALL_QUEUES } from '@renotify/queue';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from '../server.js';
import { BULL_BOARD_PATH } from './board.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('Bull Board at /admin/queues', () => {
  let services: TestServices;
  let ingest: RunningIngest;

  beforeAll(async () => {
    services = await createTestServices('board');
    ingest = await startIngest(loadIngestConfig(services.env));
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  const get = (path: string, authorization?: string) => fetch(`${ingest.url}${path}`, { headers: authorization ? { authorization } : {} });

  it('asks a browser for credentials instead of showing the board', async () => {
    const response = await get(BULL_BOARD_PATH);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="Renotify admin"/);
    expect(await response.text()).not.toContain('<html');
    const wrong = await get(BULL_BOARD_PATH, basic('admin', 'not-the-key'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic/);
    const noPassword = await get(BULL_BOARD_PATH, `Basic ${Buffer.from('just-a-user').toString('base64')}`);
    expect(noPassword.status).toBe(401);
  });

  it('serves the UI with the API key as the Basic password (any user) or as a Bearer token', async () => {
    const viaBasic = await get(BULL_BOARD_PATH, basic('anyone', DEMO_API_KEY));
    expect(viaBasic.status).toBe(200);
    expect(viaBasic.headers.get('content-type')).toMatch(/text\/html/);
    expect(viaBasic.headers.get('www-authenticate')).toBeNull();
    expect(await viaBasic.text()).toContain('Renotify queues');
    const viaBearer = await get(BULL_BOARD_PATH, `Bearer ${DEMO_API_KEY}`);
    expect(viaBearer.status).toBe(200);
  });

  it("lists every queue through the board's API, which is guarded too", async () => {
    expect((await get(`${BULL_BOARD_PATH}/api/queues`)).status).toBe(401);
    const response = await get(`${BULL_BOARD_PATH}/api/queues`, basic('', DEMO_API_KEY));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { queues: Array<{ name: string }> };
    expect(body.queues.map((queue) => queue.name).sort()).toEqual([...ALL_QUEUES].sort());
  });

  it('keeps Bearer-only auth on the JSON API (Basic is for the admin UI)', async () => {
    expect((await get('/v1/pages', basic('x', DEMO_API_KEY))).status).toBe(401);
    expect((await get('/v1/pages', `Bearer ${DEMO_API_KEY}`)).status).toBe(200);
  });

  it('exposes /metrics without an API key', async () => {
    const response = await get('/metrics');
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('# TYPE renotify_events_ingested_total counter');
  });
});
