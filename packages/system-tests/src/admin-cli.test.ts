import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@renotify/testing';
import { allFinal, deliveryCounts, seedTokens, startStack, TEST_PAGE, type Stack } from './support.js';

/**
 * The CLI as users run it: its own process, talking to the running stack over HTTP. `--conditions=source` resolves
 * the workspace packages (@renotify/client) to their TypeScript source, as the tests do, so no build is needed.
 */
const CLI_MAIN = fileURLToPath(new URL('../../cli/src/main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

// Each CLI call is a fresh node + tsx process (1–2 s on a loaded 2-core machine); the tests make many.
describe('renotify CLI against a running stack', { timeout: 120_000 }, () => {
  let stack: Stack;

  const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--conditions=source', '--import', 'tsx', CLI_MAIN, ...args],
        // RENOTIFY_URL points at the test ingest; the API key is the documented default.
        { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', RENOTIFY_URL: stack.ingest.url, ...env }, timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const json = (result: CliResult) => {
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // Test assertions walk the CLI's JSON freely; its shape is what is under test.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return JSON.parse(result.stdout) as any;
  };

  /** The person writes to the Page (through the sandbox's webhook): Renotify learns it, and their 24 h window opens. */
  const personWrites = async (psid: string) => {
    await stack.control('POST', `/pages/${TEST_PAGE.id}/users`, { psid, windowOpen: true });
    await stack.control('POST', '/webhooks/trigger', { type: 'message', pageId: TEST_PAGE.id, psid, text: 'hello' });
    await waitFor(async () => (await stack.db.pool.query(`SELECT 1 FROM "Subscriber" WHERE psid = $1 AND "lastUserMessageAt" IS NOT NULL`, [psid])).rowCount === 1, {
      what: `${psid}'s message to open the window`,
    });
  };

  beforeAll(async () => {
    stack = await startStack('cli');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('pages add / list: human and --json output, 409 as exit 1 with the API message, usage errors as exit 2', async () => {
    const added = json(await cli(['pages', 'add', '--id', '300000000000009', '--name', 'CLI Shop', '--timezone', 'Europe/Paris', '--json'], {
      RENOTIFY_PAGE_ACCESS_TOKEN: 'cli-page-token',
      RENOTIFY_PAGE_APP_SECRET: 'cli-app-secret',
    }));
    expect(added).toMatchObject({ id: '300000000000009', name: 'CLI Shop', timezone: 'Europe/Paris' });
    expect(JSON.stringify(added)).not.toContain('cli-page-token');

    const listed = json(await cli(['--json', 'pages', 'list']));
    expect(listed.items.map((page: { id: string }) => page.id).sort()).toEqual([TEST_PAGE.id, '300000000000009'].sort());

    const human = await cli(['pages', 'list']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ID\s+NAME\s+TIMEZONE/);
    expect(human.stdout).toContain('CLI Shop');

    const again = await cli(['pages', 'add', '--id', '300000000000009', '--name', 'CLI Shop', '--access-token', 'x', '--app-secret', 'y']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^Error: page_exists: Page 300000000000009 is already registered.* \(HTTP 409\)\n/);

    const invalid = await cli(['pages', 'add', '--id', 'bad id!', '--name', 'X', '--access-token', 'x', '--app-secret', 'y', '--timezone', 'Mars/Base']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^Error: invalid_request: Invalid request body \(HTTP 400\)\n/);
    expect(invalid.stderr).toMatch(/- id: /);
    expect(invalid.stderr).toMatch(/- timezone: /);

    const missing = await cli(['pages', 'add', '--id', '1']);
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toContain('--name is required');
    expect(missing.stderr).toContain('renotify pages add --help');
  });

  it('optins list and events show', async () => {
    const tokens = await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:cli', count: 3, psidPrefix: 'cli-' });
    const optins = json(await cli(['optins', 'list', TEST_PAGE.id, '--topic', 'back_in_stock:cli', '--json']));
    expect(optins.items).toHaveLength(3);
    expect(optins.items.map((item: { psid: string }) => item.psid).sort()).toEqual(tokens.map((token) => token.psid).sort());
    expect(optins.items[0].tokenFingerprint).toMatch(/^fp_/);

    const paged = json(await cli(['optins', 'list', TEST_PAGE.id, '--topic', 'back_in_stock:cli', '--limit', '2', '--all', '--json']));
    expect(paged.items).toHaveLength(3);

    const posted = await stack.api('POST', '/v1/events', { id: 'cli-evt', type: 'back_in_stock', pageId: TEST_PAGE.id, productId: 'cli' });
    expect(posted.status).toBe(202);
    await waitFor(() => allFinal(stack.db, 'cli-evt'), { timeoutMs: 20_000, what: 'cli-evt deliveries' });
    const event = json(await cli(['events', 'show', 'cli-evt', '--json']));
    expect(event).toMatchObject({ id: 'cli-evt', type: 'BACK_IN_STOCK' });
    expect(event.deliveries).toHaveLength(3);
    const human = await cli(['events', 'show', 'cli-evt']);
    expect(human.stdout).toMatch(/id:\s+cli-evt/);
    expect(human.stdout).toContain('SENT');

    const unknown = await cli(['events', 'show', 'no-such-event']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Error: not_found: Event "no-such-event" not found (HTTP 404)');
    const unknownJson = await cli(['events', 'show', 'no-such-event', '--json']);
    expect(unknownJson.code).toBe(1);
    expect(unknownJson.stdout).toBe('');
    expect(JSON.parse(unknownJson.stderr)).toMatchObject({ error: { status: 404, code: 'not_found' } });
  });

  it('dead-letters list / redrive, without a progress bar when stderr is not a TTY', async () => {
    await seedTokens(stack, { kind: 'ONE_TIME', topic: 'back_in_stock:cli-dlq', count: 2, psidPrefix: 'cli-dlq-' });
    const good = await stack.db.pool.query(`SELECT "accessTokenCipher" FROM "Page" WHERE id = $1`, [TEST_PAGE.id]);
    await stack.db.pool.query(`UPDATE "Page" SET "accessTokenCipher" = $2 WHERE id = $1`, [TEST_PAGE.id, stack.ingest.deps.secrets.encrypt('revoked-token')]);
    try {
      expect((await stack.api('POST', '/v1/events', { id: 'cli-dlq', type: 'back_in_stock', pageId: TEST_PAGE.id, productId: 'cli-dlq' })).status).toBe(202);
      await waitFor(() => allFinal(stack.db, 'cli-dlq'), { timeoutMs: 20_000, what: 'cli-dlq deliveries' });
      expect(await deliveryCounts(stack.db, 'cli-dlq')).toEqual({ DEAD: 2 });
    } finally {
      await stack.db.pool.query(`UPDATE "Page" SET "accessTokenCipher" = $2 WHERE id = $1`, [TEST_PAGE.id, good.rows[0].accessTokenCipher]);
    }
    const dead = json(await cli(['dead-letters', 'list', '--kind', 'delivery', '--json']));
    expect(dead.items.filter((item: { source: { id: string } }) => item.source.id === 'cli-dlq')).toHaveLength(2);
    const human = await cli(['dead-letters', 'list', '--kind', 'delivery']);
    expect(human.stdout).toMatch(/^KIND\s+ID\s+AT/);
    expect(human.stdout).toContain('190');

    expect((await cli(['dead-letters', 'redrive'])).code).toBe(2);
    const redriven = await cli(['dead-letters', 'redrive', '--source', 'cli-dlq']);
    expect(redriven).toMatchObject({ code: 0, stderr: '' });
    expect(redriven.stdout).toBe('Redrove 2 of 2 dead deliveries in 1 dispatch batch(es).\n');
    await waitFor(async () => (await deliveryCounts(stack.db, 'cli-dlq')).SENT === 2, { timeoutMs: 20_000, what: 'redriven deliveries sent' });
    expect(json(await cli(['dead-letters', 'redrive', '--source', 'cli-dlq', '--json']))).toEqual({ redriven: 0, batches: 0, requested: 0 });
  });

  it('campaigns list / run', async () => {
    const created = await stack.api('POST', '/v1/campaigns', {
      pageId: TEST_PAGE.id,
      name: 'CLI weekly',
      topic: 'cli-weekly',
      message: 'Hello {{name}}',
      variables: { name: 'there' },
      schedule: { cron: '0 9 * * 1' },
    });
    expect(created.status).toBe(201);
    const listed = json(await cli(['campaigns', 'list', '--page', TEST_PAGE.id, '--json']));
    expect(listed.items.map((campaign: { id: string }) => campaign.id)).toContain(created.body.id);
    const run = json(await cli(['campaigns', 'run', created.body.id, '--json']));
    expect(run).toMatchObject({ created: true, run: { campaignId: created.body.id } });
    const notUuid = await cli(['campaigns', 'run', 'nope']);
    expect(notUuid.code).toBe(1);
    expect(notUuid.stderr).toContain('campaign id must be a UUID');
  });

  it('campaigns create / pause / resume: flags become the API body; the API\'s refusals name the field', async () => {
    const created = json(
      await cli([
        'campaigns', 'create', '--page', TEST_PAGE.id, '--name', 'CLI made', '--topic', 'cli-made', '--text', 'Hi {{who}}',
        '--variables', '{"who":"you"}', '--cron', '0 9 * * 1', '--timezone', 'Europe/Paris', '--idempotency-key', 'cli-made-1', '--json',
      ]),
    );
    expect(created).toMatchObject({ pageId: TEST_PAGE.id, name: 'CLI made', topic: 'cli-made', status: 'ACTIVE', schedule: { cron: '0 9 * * 1', timezone: 'Europe/Paris' } });
    expect(created.message).toEqual({ text: 'Hi {{who}}' });
    expect(created.nextOccurrenceAt).toMatch(/T0[78]:00:00/);
    // Same key, same body: the first answer again, no second campaign.
    const replayed = json(
      await cli([
        'campaigns', 'create', '--page', TEST_PAGE.id, '--name', 'CLI made', '--topic', 'cli-made', '--text', 'Hi {{who}}',
        '--variables', '{"who":"you"}', '--cron', '0 9 * * 1', '--timezone', 'Europe/Paris', '--idempotency-key', 'cli-made-1', '--json',
      ]),
    );
    expect(replayed.id).toBe(created.id);

    const paused = await cli(['campaigns', 'pause', created.id]);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toContain(`Campaign ${created.id} is PAUSED.`);
    const pausedList = json(await cli(['campaigns', 'list', '--page', TEST_PAGE.id, '--status', 'paused', '--json']));
    expect(pausedList.items.map((campaign: { id: string }) => campaign.id)).toEqual([created.id]);
    expect(json(await cli(['campaigns', 'resume', created.id, '--json']))).toMatchObject({ id: created.id, status: 'ACTIVE' });

    const localTime = json(await cli(['campaigns', 'create', '--page', TEST_PAGE.id, '--name', 'Mornings', '--topic', 'cli-mornings', '--message', '{"text":"Good morning"}', '--local-time', '08:30', '--json']));
    expect(localTime.schedule).toEqual({ localTime: '08:30' });

    const badCron = await cli(['campaigns', 'create', '--page', TEST_PAGE.id, '--name', 'Bad', '--topic', 'bad', '--text', 'x', '--cron', 'every day']);
    expect(badCron.code).toBe(1);
    expect(badCron.stderr).toMatch(/^Error: invalid_schedule: .*"every day".*\(HTTP 400\)\n$/);
    const badDate = await cli(['campaigns', 'create', '--page', TEST_PAGE.id, '--name', 'Bad', '--topic', 'bad', '--text', 'x', '--cron', '0 9 * * *', '--start-at', 'tomorrow']);
    expect(badDate.code).toBe(1);
    expect(badDate.stderr).toMatch(/^Error: invalid_request: .*\(HTTP 400\)\n {2}- startAt: .+\n$/);
    const both = await cli(['campaigns', 'create', '--page', TEST_PAGE.id, '--name', 'Bad', '--topic', 'bad', '--text', 'x', '--cron', '0 9 * * *', '--local-time', '09:00']);
    expect(both).toMatchObject({ code: 2, stdout: '' });
    expect(both.stderr).toContain('give either --cron');
    expect((await cli(['campaigns', 'pause', 'not-a-uuid'])).code).toBe(1);
  });

  it('optin-requests send: the card reaches the person through Meta; outside the 24 h window the API refuses (409)', async () => {
    const psid = 'cli-asker';
    await personWrites(psid);

    const args = ['optin-requests', 'send', '--page', TEST_PAGE.id, '--psid', psid, '--kind', 'one-time', '--title', 'Blue mug is back', '--subject', '{"type":"back_in_stock","productId":"mug-1"}'];
    const sent = json(await cli([...args, '--idempotency-key', 'cli-ask-1', '--json']));
    expect(sent).toMatchObject({ pageId: TEST_PAGE.id, psid, kind: 'ONE_TIME', topic: 'back_in_stock:mug-1', title: 'Blue mug is back' });
    const thread = await stack.control('GET', `/pages/${TEST_PAGE.id}/users/${psid}/thread`);
    expect(thread.items.filter((item: { from: string }) => item.from === 'page').at(-1)).toMatchObject({ mid: sent.messageId, card: { type: 'one_time', payload: 'back_in_stock:mug-1' } });
    expect(json(await cli([...args, '--idempotency-key', 'cli-ask-1', '--json'])).messageId).toBe(sent.messageId);

    const human = await cli(['optin-requests', 'send', '--page', TEST_PAGE.id, '--psid', psid, '--kind', 'recurring', '--title', 'Weekly deals', '--topic', 'cli-deals', '--frequency', 'weekly']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`Opt-in request sent to ${psid} (topic cli-deals).`);

    const stranger = await cli(['optin-requests', 'send', '--page', TEST_PAGE.id, '--psid', 'never-wrote', '--kind', 'one-time', '--title', 'Hi', '--topic', 'x']);
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toMatch(/^Error: [a-z_]+: .*\(HTTP (404|409)\)/);
    const neither = await cli(['optin-requests', 'send', '--page', TEST_PAGE.id, '--psid', psid, '--kind', 'one-time', '--title', 'Hi']);
    expect(neither).toMatchObject({ code: 2, stdout: '' });
    expect(neither.stderr).toContain('give either --topic or --subject');
  });

  it('pages set / show: quiet hours and the per-person cap switched on and off; bad values are refused before or by the API', async () => {
    try {
      const set = json(await cli(['pages', 'set', TEST_PAGE.id, '--quiet-hours', '22:00-08:00', '--cap', '3/24h', '--json']));
      expect(set).toMatchObject({ id: TEST_PAGE.id, quietHours: { start: '22:00', end: '08:00', timeZone: null }, userCap: { maxSends: 3, windowHours: 24 } });
      const shown = await cli(['pages', 'show', TEST_PAGE.id]);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(/^quietHours:\s+22:00-08:00 \(each person's zone\)$/m);
      expect(shown.stdout).toMatch(/^userCap:\s+3\/24h$/m);
      const fixedZone = json(await cli(['pages', 'set', TEST_PAGE.id, '--quiet-hours', '21:30-07:00', '--quiet-hours-zone', 'Europe/Paris', '--json']));
      expect(fixedZone.quietHours).toEqual({ start: '21:30', end: '07:00', timeZone: 'Europe/Paris' });
    } finally {
      // The other tests send to this Page: leave it without guards.
      const off = await cli(['pages', 'set', TEST_PAGE.id, '--quiet-hours', 'off', '--cap', 'off']);
      expect(off.code).toBe(0);
      expect(off.stdout).toContain(`Page ${TEST_PAGE.id} updated.`);
      expect(off.stdout).toMatch(/^quietHours:\s+off$/m);
      expect(off.stdout).toMatch(/^userCap:\s+off$/m);
    }
    expect(json(await cli(['pages', 'set', TEST_PAGE.id, '--send-rate', '250', '--json'])).sendRatePerSec).toBe(250);
    // The API's maximum; the stack made the Page faster directly in the database, and later tests send to it.
    expect(json(await cli(['pages', 'set', TEST_PAGE.id, '--send-rate', '10000', '--json'])).sendRatePerSec).toBe(10_000);

    const nothing = await cli(['pages', 'set', TEST_PAGE.id]);
    expect(nothing).toMatchObject({ code: 2, stdout: '' });
    expect(nothing.stderr).toContain('nothing to change');
    const badCap = await cli(['pages', 'set', TEST_PAGE.id, '--cap', '3']);
    expect(badCap.code).toBe(2);
    expect(badCap.stderr).toContain('--cap: expected <sends>/<hours>h');
    const badZone = await cli(['pages', 'set', TEST_PAGE.id, '--timezone', 'Mars/Base']);
    expect(badZone.code).toBe(1);
    expect(badZone.stderr).toMatch(/^Error: invalid_request: .*\(HTTP 400\)\n {2}- timezone: /);
    expect((await cli(['pages', 'show', '999999999'])).code).toBe(1);
  });

  it('subscribers list / set / stop / erase: erase leaves no PSID or token behind', async () => {
    const seeded = await seedTokens(stack, { kind: 'RECURRING', topic: 'cli-subs', count: 2, psidPrefix: 'cli-sub-' });
    const [kept, erased] = seeded.map((token) => token.psid).sort() as [string, string];
    const listed = json(await cli(['subscribers', 'list', TEST_PAGE.id, '--topic', 'cli-subs', '--json']));
    expect(listed.items.map((item: { psid: string }) => item.psid).sort()).toEqual([kept, erased]);
    expect(listed.items[0].activeTokens).toEqual({ ONE_TIME: 0, RECURRING: 1 });
    const human = await cli(['subscribers', 'list', TEST_PAGE.id, '--topic', 'cli-subs']);
    expect(human.stdout).toMatch(/^PSID\s+WINDOWENDSAT\s+ONETIME\s+RECURRING\s+TIMEZONE/);
    expect(human.stdout).toMatch(new RegExp(`^${kept}\\s+-\\s+0\\s+1\\b`, 'm'));

    await personWrites('cli-writer');
    const open = json(await cli(['subscribers', 'list', TEST_PAGE.id, '--window-open', '--all', '--json']));
    const writer = open.items.find((item: { psid: string }) => item.psid === 'cli-writer');
    expect(Date.parse(writer.windowEndsAt)).toBeGreaterThan(Date.now());
    expect(open.items.map((item: { psid: string }) => item.psid)).not.toContain(kept);

    expect(json(await cli(['subscribers', 'set', TEST_PAGE.id, kept, '--timezone', 'America/New_York', '--locale', 'en_US', '--json']))).toMatchObject({
      psid: kept,
      timezone: 'America/New_York',
      locale: 'en_US',
    });
    const stopped = await cli(['subscribers', 'stop', TEST_PAGE.id, kept]);
    expect(stopped).toMatchObject({ code: 0, stderr: '' });
    expect(stopped.stdout).toBe(`Stopped 1 token(s) of ${kept}; 0 waiting delivery(ies) skipped.\n`);
    expect(json(await cli(['optins', 'list', TEST_PAGE.id, '--psid', kept, '--json'])).items[0].status).toBe('STOPPED');

    const unconfirmed = await cli(['subscribers', 'erase', TEST_PAGE.id, erased]);
    expect(unconfirmed).toMatchObject({ code: 2, stdout: '' });
    expect(unconfirmed.stderr).toContain('add --yes to confirm');
    expect(await cli(['subscribers', 'erase', TEST_PAGE.id, erased, '--yes'])).toMatchObject({ code: 0, stdout: `Erased ${erased} from Page ${TEST_PAGE.id}.\n` });
    const left = await stack.db.pool.query(
      `SELECT (SELECT count(*) FROM "Subscriber" WHERE psid = $1)::int AS subscribers, (SELECT count(*) FROM "OptIn" WHERE topic = 'cli-subs')::int AS tokens`,
      [erased],
    );
    expect(left.rows[0]).toEqual({ subscribers: 0, tokens: 1 });
    expect((await cli(['subscribers', 'erase', TEST_PAGE.id, erased, '--yes'])).code).toBe(0);
    expect(json(await cli(['subscribers', 'list', TEST_PAGE.id, '--topic', 'cli-subs', '--json'])).items.map((item: { psid: string }) => item.psid)).not.toContain(erased);
  });

  it('webhooks add / list / messages / redrive / remove', async () => {
    const added = await cli(['webhooks', 'add', '--page', TEST_PAGE.id, '--endpoint-url', 'https://shop.example/hooks/renotify', '--events', 'delivery.sent, optin.created', '--description', 'CLI hook']);
    expect(added).toMatchObject({ code: 0, stderr: '' });
    expect(added.stdout).toMatch(/^Endpoint [0-9a-f-]{36} added\. Keep its signing secret: it is not shown again\.\n/);
    expect(added.stdout).toMatch(/^secret:\s+whsec_/m);
    const id = /^Endpoint ([0-9a-f-]{36})/.exec(added.stdout)![1]!;

    const listed = json(await cli(['webhooks', 'list', '--page', TEST_PAGE.id, '--json']));
    expect(listed.items).toEqual([expect.objectContaining({ id, url: 'https://shop.example/hooks/renotify', events: ['delivery.sent', 'optin.created'], enabled: true })]);
    expect(JSON.stringify(listed)).not.toContain('whsec_');
    expect((await cli(['webhooks', 'list'])).stdout).toMatch(new RegExp(`${id}\\s+${TEST_PAGE.id}\\s+https://shop\\.example/hooks/renotify\\s+delivery\\.sent,optin\\.created`));

    expect(json(await cli(['webhooks', 'messages', id, '--status', 'dead', '--json']))).toEqual({ items: [], nextCursor: null });
    expect(await cli(['webhooks', 'redrive', id])).toMatchObject({ code: 0, stdout: `Redrove 0 dead message(s) of endpoint ${id}.\n` });
    expect(await cli(['webhooks', 'remove', id])).toMatchObject({ code: 0, stdout: `Endpoint ${id} removed.\n` });
    expect(json(await cli(['webhooks', 'list', '--json'])).items).toEqual([]);

    const badEvent = await cli(['webhooks', 'add', '--page', TEST_PAGE.id, '--endpoint-url', 'https://shop.example/h', '--events', 'delivery.exploded']);
    expect(badEvent.code).toBe(1);
    expect(badEvent.stderr).toMatch(/^Error: invalid_request: .*\(HTTP 400\)\n {2}- events\.0: /);
    expect((await cli(['webhooks', 'remove', id])).code).toBe(1);
  });

  it('retention status', async () => {
    const status = json(await cli(['retention', 'status', '--json']));
    expect(status.schedule.cron).toEqual(expect.any(String));
    expect(status.tables.map((entry: { table: string }) => entry.table)).toContain('Delivery');
    const human = await cli(['retention', 'status']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^Purge: cron ".+" \(UTC\), next .+, batches of \d+\n\nTABLE\s+KEPTDAYS\s+ROWS\s+SIZE/);
    expect(human.stdout).toMatch(/^Delivery\s+/m);
  });

  it('reconcile one Page or all of them', async () => {
    const one = json(await cli(['reconcile', TEST_PAGE.id, '--json']));
    expect(one.items).toHaveLength(1);
    expect(one.items[0]).toMatchObject({ pageId: TEST_PAGE.id });
    expect(one.items[0].details).toBeUndefined();
    expect(typeof one.items[0].fetched).toBe('number');
    // The Page added by the first test has an access token the sandbox (as Meta) refuses: the others still run.
    const all = await cli(['reconcile', '--all']);
    expect(all.code).toBe(1);
    expect(all.stdout).toMatch(/^PAGEID\s+FETCHED\s+ADDED/);
    expect(all.stdout).toContain(TEST_PAGE.id);
    expect(all.stdout).toMatch(/300000000000009 .*Meta refused the token listing/);
    expect(all.stderr).toBe('Error: 1 of 2 Page(s) failed to reconcile.\n');
    const allJson = await cli(['reconcile', '--all', '--json']);
    expect(allJson.code).toBe(1);
    const items = JSON.parse(allJson.stdout).items as Array<{ pageId: string; error?: string }>;
    expect(items.find((item) => item.pageId === TEST_PAGE.id)?.error).toBeUndefined();
    expect(items.find((item) => item.pageId === '300000000000009')?.error).toMatch(/^meta_error: .*\(HTTP 502\)$/);
    expect((await cli(['reconcile'])).code).toBe(2);
    const missing = await cli(['reconcile', 'no-such-page']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Page no-such-page not found');
  });

  it('fails clearly on a wrong API key, an unreachable API and an unknown command', async () => {
    const wrongKey = await cli(['pages', 'list', '--api-key', 'wrong']);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('Error: unauthorized: Unknown API key (HTTP 401)');
    expect(wrongKey.stderr).toContain('RENOTIFY_API_KEY');
    const unreachable = await cli(['pages', 'list'], { RENOTIFY_URL: 'http://127.0.0.1:1' });
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain('Cannot reach the Renotify API at http://127.0.0.1:1');
    const unknown = await cli(['pages', 'explode']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "pages explode"');
    const badOption = await cli(['pages', 'list', '--colour']);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain("Unknown option '--colour'");
  });
});
