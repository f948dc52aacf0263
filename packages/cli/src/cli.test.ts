import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands, ExitCode, Progress, runCli, table, type Io } from './index.js';

function capture(env: Record<string, string | undefined> = {}, isTTY = false) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    stdout: { write: (text: string) => out.push(text), isTTY },
    stderr: { write: (text: string) => err.push(text), isTTY },
    env,
  };
  return { io, stdout: () => out.join(''), stderr: () => err.join('') };
}

describe('output helpers', () => {
  it('draws a progress bar on a TTY only', () => {
    const tty = capture({}, true);
    const bar = new Progress(tty.io.stderr, 4, 'redrive', true);
    bar.advance(2);
    bar.finish();
    expect(tty.stderr()).toContain('redrive [###############---------------] 2/4');
    const pipe = capture({}, false);
    const quiet = new Progress(pipe.io.stderr, 4, 'redrive', true);
    quiet.advance(4);
    quiet.finish();
    expect(pipe.stderr()).toBe('');
    const jsonMode = capture({}, true);
    new Progress(jsonMode.io.stderr, 4, 'redrive', false).advance();
    expect(jsonMode.stderr()).toBe('');
  });

  it('renders tables with headers, placeholders and cut cells', () => {
    expect(table([{ a: 'x', b: null }, { a: 'longer', b: 'y'.repeat(60) }], ['a', 'b'], 10)).toBe(
      `A       B\nx       -\nlonger  ${'y'.repeat(9)}…\n`,
    );
    expect(table([], ['a'])).toBe('(none)\n');
  });
});

describe('runCli (in-process)', () => {
  let server: Server;
  let url: string;
  const seen: Array<{ method?: string; url?: string; authorization?: string; body: string }> = [];

  beforeAll(async () => {
    // A stand-in for the ingest API that records what the CLI sends.
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        seen.push({ method: request.method, url: request.url, authorization: request.headers.authorization, body });
        if (request.url?.startsWith('/v1/pages?') || request.url === '/v1/pages') {
          response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [{ id: '1', name: 'Shop' }] }));
        } else if (request.url?.startsWith('/v1/campaigns')) {
          const campaign = { id: 'c1', pageId: '1', name: 'Weekly', topic: 'deals', status: 'ACTIVE', nextOccurrenceAt: '2030-01-07T09:00:00.000Z' };
          response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [campaign], nextCursor: null }));
        } else if (request.url === '/v1/optin-requests') {
          const refusal = { error: { code: 'invalid_request', message: 'Invalid request body', details: [{ path: 'title', message: 'Too big' }, { path: 'psid', message: 'Required' }] } };
          response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify(refusal));
        } else if (request.url === '/v1/events/busy') {
          const unavailable = { error: { code: 'storage_unavailable', message: 'Postgres did not answer', retryable: true, retryAfterSeconds: 5 } };
          response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' }).end(JSON.stringify(unavailable));
        } else if (request.url === '/v1/events/e2') {
          const delivery = { id: 'd1', optInId: 'optin-7', batchNo: 1, status: 'SENT', skipReason: null, attempts: 1, lastErrorCode: null, finishedAt: '2030-01-01T00:00:00.000Z' };
          const event = { id: 'e2', pageId: '1', type: 'CUSTOM', topic: 'deals', status: 'FANNED_OUT', counts: { byStatus: { SENT: 1 }, bySkipReason: {} }, deliveries: [delivery], nextCursor: null };
          response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(event));
        } else {
          response.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('takes the URL and key from flags over the environment, and sends Bearer auth', async () => {
    const run = capture({ RENOTIFY_URL: 'http://127.0.0.1:9', RENOTIFY_API_KEY: 'env-key' });
    expect(await runCli(['pages', 'list', '--url', url, '--json'], run.io)).toBe(ExitCode.ok);
    expect(JSON.parse(run.stdout())).toEqual({ items: [{ id: '1', name: 'Shop' }] });
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/v1/pages', authorization: 'Bearer env-key' });

    const byEnv = capture({ RENOTIFY_URL: url });
    expect(await runCli(['--api-key', 'flag-key', 'pages', 'list'], byEnv.io)).toBe(ExitCode.ok);
    expect(seen.at(-1)?.authorization).toBe('Bearer flag-key');
    expect(byEnv.stdout().split('\n')[0]).toMatch(/^ID\s+NAME\s+TIMEZONE/);
    expect(byEnv.stdout().split('\n')[1]).toMatch(/^1\s+Shop\s+-/);
  });

  it('defaults to the demo key and reports a non-JSON error body verbatim', async () => {
    const run = capture({ RENOTIFY_URL: url });
    expect(await runCli(['events', 'show', 'e1'], run.io)).toBe(ExitCode.apiError);
    expect(seen.at(-1)?.authorization).toBe('Bearer demo-api-key');
    expect(run.stderr()).toBe('Error: http_500: boom (HTTP 500)\n');
  });

  it('prints help, and rejects unknown commands, options and missing arguments with exit 2', async () => {
    const help = capture();
    expect(await runCli(['--help'], help.io)).toBe(ExitCode.ok);
    expect(help.stdout()).toContain('dead-letters redrive');
    const none = capture();
    expect(await runCli([], none.io)).toBe(ExitCode.usage);
    expect(none.stderr()).toContain('Usage: renotify <command>');
    const commandHelp = capture();
    expect(await runCli(['optins', 'list', '--help'], commandHelp.io)).toBe(ExitCode.ok);
    expect(commandHelp.stdout()).toContain('Usage: renotify optins list <pageId>');
    const missing = capture({ RENOTIFY_URL: url });
    expect(await runCli(['optins', 'list'], missing.io)).toBe(ExitCode.usage);
    expect(missing.stderr()).toContain('missing <pageId>');
    const extra = capture({ RENOTIFY_URL: url });
    expect(await runCli(['pages', 'list', 'oops'], extra.io)).toBe(ExitCode.usage);
    const badLimit = capture({ RENOTIFY_URL: url });
    expect(await runCli(['dead-letters', 'list', '--limit', 'ten', '--json'], badLimit.io)).toBe(ExitCode.usage);
    expect(JSON.parse(badLimit.stderr())).toEqual({ error: { code: 'usage', message: '--limit must be a positive integer (got "ten")' } });
    const badUrl = capture();
    expect(await runCli(['pages', 'list', '--url', 'not a url'], badUrl.io)).toBe(ExitCode.usage);
  });

  it('prints its version, and shows the columns the API returns (nextOccurrenceAt, optInId)', async () => {
    const version = capture();
    expect(await runCli(['--version'], version.io)).toBe(ExitCode.ok);
    expect(version.stdout()).toMatch(/^renotify \d+\.\d+\.\d+\n$/);
    const campaigns = capture({ RENOTIFY_URL: url });
    expect(await runCli(['campaigns', 'list'], campaigns.io)).toBe(ExitCode.ok);
    expect(campaigns.stdout()).toMatch(/NEXTOCCURRENCEAT/i);
    expect(campaigns.stdout()).toContain('2030-01-07T09:00:00.000Z');
    const event = capture({ RENOTIFY_URL: url });
    expect(await runCli(['events', 'show', 'e2'], event.io)).toBe(ExitCode.ok);
    expect(event.stdout()).toContain('optin-7');
    expect(event.stdout()).not.toMatch(/\bPSID\b/i);
  });

  it('shows an API refusal as "code: message" with one line per detail, and sends the flags as the typed body', async () => {
    const run = capture({ RENOTIFY_URL: url });
    const args = ['optin-requests', 'send', '--page', '1', '--psid', 'p', '--kind', 'one-time', '--title', 'T', '--topic', 'deals', '--cta-text', 'get-updates', '--idempotency-key', 'k1'];
    expect(await runCli(args, run.io)).toBe(ExitCode.apiError);
    expect(run.stderr()).toBe('Error: invalid_request: Invalid request body (HTTP 400)\n  - title: Too big\n  - psid: Required\n');
    expect(JSON.parse(seen.at(-1)!.body)).toEqual({ pageId: '1', psid: 'p', kind: 'ONE_TIME', title: 'T', topic: 'deals', ctaText: 'GET_UPDATES' });
    const asJson = capture({ RENOTIFY_URL: url });
    expect(await runCli([...args, '--json'], asJson.io)).toBe(ExitCode.apiError);
    expect(JSON.parse(asJson.stderr())).toEqual({ error: { status: 400, code: 'invalid_request', message: 'Invalid request body', details: [{ path: 'title', message: 'Too big' }, { path: 'psid', message: 'Required' }] } });
  });

  it('says when to retry after a 429 or 503', async () => {
    const run = capture({ RENOTIFY_URL: url });
    expect(await runCli(['events', 'show', 'busy'], run.io)).toBe(ExitCode.apiError);
    expect(run.stderr()).toBe('Error: storage_unavailable: Postgres did not answer (HTTP 503)\nRetry in 5 s.\n');
    const asJson = capture({ RENOTIFY_URL: url });
    expect(await runCli(['events', 'show', 'busy', '--json'], asJson.io)).toBe(ExitCode.apiError);
    expect(JSON.parse(asJson.stderr()).error).toMatchObject({ status: 503, code: 'storage_unavailable', retryAfterSeconds: 5 });
  });

  it('keeps every command option apart from the global ones (--url, --api-key, --json, --help)', () => {
    for (const command of commands) {
      for (const option of Object.keys(command.options ?? {})) expect(['url', 'api-key', 'json', 'help'], `${command.words.join(' ')} --${option}`).not.toContain(option);
    }
  });

  it("gives every command's --help its usage and at least one example that names the command", async () => {
    for (const command of commands) {
      const name = command.words.join(' ');
      const help = capture();
      expect(await runCli([...command.words, '--help'], help.io)).toBe(ExitCode.ok);
      expect(help.stdout()).toContain(`Usage: renotify ${name}`);
      expect(help.stdout()).toMatch(/\nExamples?:\n {2}/);
      expect(command.examples.length).toBeGreaterThan(0);
      for (const example of command.examples) expect(example).toContain(`renotify ${name}`);
    }
  });

  it('exits 3 with the reason when the API cannot be reached', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise((resolve) => probe.close(resolve));
    const run = capture({ RENOTIFY_URL: closedUrl });
    expect(await runCli(['pages', 'list'], run.io)).toBe(ExitCode.unreachable);
    expect(run.stderr()).toContain(`Cannot reach the Renotify API at ${closedUrl}: ECONNREFUSED`);
    expect(run.stderr()).toContain('Set --url or RENOTIFY_URL');
  });
});
