import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, runCli, type Io } from './index.js';

function capture(env: Record<string, string | undefined>) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { stdout: { write: (text: string) => out.push(text) }, stderr: { write: (text: string) => err.push(text) }, env };
  return { io, stdout: () => out.join(''), stderr: () => err.join('') };
}

const green = {
  pageId: '1',
  healthy: true,
  checkedAt: '2026-11-30T12:00:00.000Z',
  checks: [
    { name: 'access_token', status: 'OK', detail: 'GET /me answers Page 1 (Shop)' },
    { name: 'app_secret', status: 'OK', detail: 'a call with appsecret_proof succeeds' },
  ],
};
const red = {
  pageId: '2',
  healthy: false,
  checkedAt: '2026-11-30T12:00:00.000Z',
  checks: [
    { name: 'access_token', status: 'OK', detail: 'the token is valid' },
    { name: 'app_secret', status: 'PROBLEM', detail: 'Meta answered 100: Invalid appsecret_proof provided in the API argument', fix: 'PATCH /v1/pages/:id {"appSecret":"…"}' },
    { name: 'webhook_subscription', status: 'SKIPPED', detail: 'needs a working token and app secret' },
  ],
};

/** The CLI side of the doctor; the checks themselves are tested against the sandbox in apps/ingest (page-health.test.ts). */
describe('renotify doctor', () => {
  let server: Server;
  let url: string;
  const paths: string[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      paths.push(request.url ?? '');
      const json = (status: number, body: unknown) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (request.url?.split('?')[0] === '/v1/pages') return json(200, { items: [{ id: '1', name: 'Shop' }, { id: '2', name: 'Other' }], nextCursor: null });
      if (request.url === '/v1/pages/1/health') return json(200, green);
      if (request.url === '/v1/pages/2/health') return json(200, red);
      return json(404, { error: { code: 'not_found', message: 'Page 9 not found' } });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('exits 0 and prints every check for a healthy Page', async () => {
    const run = capture({ RENOTIFY_URL: url });
    expect(await runCli(['doctor', '1'], run.io)).toBe(ExitCode.ok);
    expect(paths.at(-1)).toBe('/v1/pages/1/health');
    expect(run.stdout()).toMatch(/^Page 1: all checks pass\n {2}ok {7}access_token {2}GET \/me answers Page 1 \(Shop\)\n/);
  });

  it('checks every Page without an id, prints problems with their fix, and exits 4', async () => {
    const run = capture({ RENOTIFY_URL: url });
    expect(await runCli(['doctor'], run.io)).toBe(ExitCode.unhealthy);
    const out = run.stdout();
    expect(out).toContain('Page 1 (Shop): all checks pass');
    expect(out).toContain('Page 2 (Other): 2 check(s) need attention');
    expect(out).toMatch(/PROBLEM +app_secret +Meta answered 100: Invalid appsecret_proof/);
    expect(out).toMatch(/\n +fix: PATCH \/v1\/pages\/:id \{"appSecret":"…"\}\n/);
    expect(out).toMatch(/skipped +webhook_subscription/);
  });

  it('prints the reports as JSON with --json', async () => {
    const run = capture({ RENOTIFY_URL: url });
    expect(await runCli(['doctor', '2', '--json'], run.io)).toBe(ExitCode.unhealthy);
    expect(JSON.parse(run.stdout())).toEqual({ healthy: false, items: [red] });
  });

  it('reports an unknown Page as an API error, and refuses a second argument', async () => {
    const missing = capture({ RENOTIFY_URL: url });
    expect(await runCli(['doctor', '9'], missing.io)).toBe(ExitCode.apiError);
    expect(missing.stderr()).toContain('Page 9 not found');
    const extra = capture({ RENOTIFY_URL: url });
    expect(await runCli(['doctor', '1', '2'], extra.io)).toBe(ExitCode.usage);
  });
});
