import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { loadPageForSending } from '@renotify/db';
import { resolvePagePolicy } from '@renotify/domain';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from '../index.js';

const auth = { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' };

/** #14 item 4: a Page's anti-spam guards (quiet hours, per-person cap) set through PATCH /v1/pages/:id. */
describe('per-Page settings', () => {
  let services: TestServices;
  let ingest: RunningIngest;
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${ingest.url}${path}`, { method, headers: auth, ...(body !== undefined && { body: JSON.stringify(body) }) });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  };
  const PAGE = '500100200';

  beforeAll(async () => {
    services = await createTestServices('pagesettings');
    ingest = await startIngest(loadIngestConfig(services.env));
    const created = await api('POST', '/v1/pages', { id: PAGE, name: 'Guarded', accessToken: 'EAAG-x', appSecret: 'secret-x' });
    expect(created.status).toBe(201);
    // A new Page has no guards: the profile alone decides.
    expect(created.json).toMatchObject({ quietHours: null, userCap: null });
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  it('sets quiet hours, the cap, the profile and the send rate; GET shows them; dispatch reads them as policy overrides', async () => {
    const patched = await api('PATCH', `/v1/pages/${PAGE}`, {
      quietHours: { start: '22:00', end: '08:00' },
      userCap: { maxSends: 3, windowHours: 24 },
      policyProfile: 'meta-2025-09',
      sendRatePerSec: 40,
      timezone: 'Europe/Paris',
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({
      quietHours: { start: '22:00', end: '08:00', timeZone: null },
      userCap: { maxSends: 3, windowHours: 24 },
      policyProfile: 'meta-2025-09',
      sendRatePerSec: 40,
      timezone: 'Europe/Paris',
    });
    expect((await api('GET', `/v1/pages/${PAGE}`)).json).toMatchObject({ quietHours: { start: '22:00', end: '08:00', timeZone: null }, userCap: { maxSends: 3, windowHours: 24 } });

    const sending = await loadPageForSending(ingest.deps.db, ingest.deps.secrets, PAGE);
    const policy = resolvePagePolicy(sending!.policyProfile, sending!.guards);
    expect(policy).toMatchObject({ id: 'meta-2025-09', quietHours: { start: '22:00', end: '08:00' }, userCap: { maxSends: 3, windowHours: 24 } });
  });

  it('a fixed zone for quiet hours; a PATCH of one guard leaves the other; null switches a guard off', async () => {
    const fixed = await api('PATCH', `/v1/pages/${PAGE}`, { quietHours: { start: '21:30', end: '07:15', timeZone: 'America/New_York' } });
    expect(fixed.json).toMatchObject({ quietHours: { start: '21:30', end: '07:15', timeZone: 'America/New_York' }, userCap: { maxSends: 3, windowHours: 24 } });

    const capOff = await api('PATCH', `/v1/pages/${PAGE}`, { userCap: null });
    expect(capOff.json).toMatchObject({ quietHours: { timeZone: 'America/New_York' }, userCap: null });
    const quietOff = await api('PATCH', `/v1/pages/${PAGE}`, { quietHours: null });
    expect(quietOff.json).toMatchObject({ quietHours: null, userCap: null });
    const sending = await loadPageForSending(ingest.deps.db, ingest.deps.secrets, PAGE);
    expect(sending!.guards).toEqual({ quietHours: null, userCap: null });
    // Switched off, not left as half a guard in the row.
    const row = (await ingest.deps.db.pool.query(`SELECT "quietHoursStart", "quietHoursEnd", "quietHoursTimeZone", "userCapMaxSends", "userCapWindowHours" FROM "Page" WHERE id = $1`, [PAGE])).rows[0];
    expect(Object.values(row)).toEqual([null, null, null, null, null]);
  });

  it.each([
    [{ quietHours: { start: '25:00', end: '08:00' } }, 'quietHours.start'],
    [{ quietHours: { start: '7:00', end: '08:00' } }, 'quietHours.start'],
    [{ quietHours: { start: '22:00', end: '22:00' } }, 'quietHours.end'],
    [{ quietHours: { start: '22:00' } }, 'quietHours.end'],
    [{ quietHours: { start: '22:00', end: '08:00', timeZone: 'Mars/Base' } }, 'quietHours.timeZone'],
    [{ quietHours: { start: '22:00', end: '08:00', zone: 'UTC' } }, 'quietHours.zone'],
    [{ userCap: { maxSends: 0, windowHours: 24 } }, 'userCap.maxSends'],
    [{ userCap: { maxSends: 2.5, windowHours: 24 } }, 'userCap.maxSends'],
    [{ userCap: { maxSends: 2, windowHours: 0 } }, 'userCap.windowHours'],
    [{ userCap: { maxSends: 2, windowHours: 745 } }, 'userCap.windowHours'],
    [{ userCap: { maxSends: 2 } }, 'userCap.windowHours'],
    [{ sendRatePerSec: 0 }, 'sendRatePerSec'],
    [{ timezone: 'Nowhere/City' }, 'timezone'],
  ])('refuses %o with 400 naming %s, and changes nothing', async (body, path) => {
    const before = (await api('GET', `/v1/pages/${PAGE}`)).json;
    const refused = await api('PATCH', `/v1/pages/${PAGE}`, body);
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe('invalid_request');
    expect(refused.json.error.details.map((detail: { path: string }) => detail.path)).toContain(path);
    expect((await api('GET', `/v1/pages/${PAGE}`)).json).toEqual(before);
  });

  it('404 for an unknown Page', async () => {
    expect((await api('PATCH', '/v1/pages/404404', { userCap: null })).status).toBe(404);
  });
});
