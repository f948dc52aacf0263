import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { startIngest } from '@renotify/ingest';
import { createTestServices } from '@renotify/testing';

const run = promisify(execFile);
const example = fileURLToPath(new URL('./send-event-http.mjs', import.meta.url));
const PAGE_ID = '100000000000077';

/** The README's `pnpm build && node examples/send-event-http.mjs`, run as written against a real ingest. */
describe('examples/send-event-http.mjs', () => {
  let services;
  let ingest;

  beforeAll(async () => {
    services = await createTestServices('examplehttp');
    ingest = await startIngest(loadIngestConfig(services.env));
    const page = await fetch(`${ingest.url}/v1/pages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: PAGE_ID, name: 'Example Shop', accessToken: 'example-token', appSecret: 'example-secret' }),
    });
    expect(page.status).toBe(201);
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  const runExample = (env) =>
    run(process.execPath, [example], { env: { PATH: process.env.PATH, RENOTIFY_URL: ingest.url, RENOTIFY_API_KEY: DEMO_API_KEY, ...env }, timeout: 30_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );

  it('imports only the published @renotify/client, not source files or another package', async () => {
    const source = await readFile(example, 'utf8');
    expect([...source.matchAll(/from '([^']+)'/g)].map((match) => match[1])).toEqual(['@renotify/client']);
  });

  it('runs with plain node: the event is accepted and read back; a second run is answered the same (Idempotency-Key replay)', async () => {
    const first = await runExample({ PAGE_ID });
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(/^accepted \[ 'restock-100000000000077-sku-123-42-\d{4}-\d{2}-\d{2}' \] duplicates \[\]\n/);
    expect(first.stdout).toMatch(/\nevent restock-100000000000077-sku-123-42-\S+: ACCEPTED, topic back_in_stock:sku-123:42, deliveries by status \{.*"SENT":0.*\}\n$/);
    const second = await runExample({ PAGE_ID });
    expect(second.stdout).toBe(first.stdout);
  }, 60_000);

  it("prints the API's refusal (code, message, details) and exits 1 for a Page that is not registered", async () => {
    const refused = await runExample({ PAGE_ID: '100000000000404' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^send: HTTP 400 invalid_request: .+\n {2}- pageId: unknown page "100000000000404"/);
  }, 60_000);
});
