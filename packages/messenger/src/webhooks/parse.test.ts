import { describe, expect, it } from 'vitest';
import { parseWebhookPayload, type WebhookEntry } from './parse.js';

const PAGE = '100000000000001';
const base = { sender: { id: 'psid-1' }, recipient: { id: PAGE }, timestamp: 1458692752478 };

function single(item: unknown): WebhookEntry {
  const parsed = parseWebhookPayload({ object: 'page', entry: [{ id: PAGE, time: 1458692752478, messaging: [item] }] });
  if (!parsed.ok) throw new Error(parsed.error);
  const entry = parsed.entries[0];
  if (!entry) throw new Error('no entry');
  return entry;
}

describe('parseWebhookPayload', () => {
  it('parses a user message and a postback', () => {
    expect(single({ ...base, message: { mid: 'm_1', text: 'hi' } }).events).toEqual([
      { kind: 'message', pageId: PAGE, timestamp: 1458692752478, psid: 'psid-1', mid: 'm_1', text: 'hi' },
    ]);
    expect(single({ ...base, postback: { title: 'Start', payload: 'GET_STARTED', mid: 'm_2' } }).events).toEqual([
      { kind: 'postback', pageId: PAGE, timestamp: 1458692752478, psid: 'psid-1', payload: 'GET_STARTED', title: 'Start', mid: 'm_2' },
    ]);
  });

  it('parses a one-time opt-in', () => {
    const entry = single({ ...base, optin: { type: 'one_time_notif_req', payload: 'restock:42', one_time_notif_token: 'otn-1' } });
    expect(entry.events).toEqual([
      { kind: 'one_time_optin', pageId: PAGE, timestamp: 1458692752478, psid: 'psid-1', token: 'otn-1', payload: 'restock:42' },
    ]);
  });

  it('parses a recurring opt-in with string timestamps, expiry in seconds and defaults', () => {
    const entry = single({
      ...base,
      timestamp: '1700000000000',
      optin: {
        type: 'notification_messages',
        payload: 'deals',
        title: 'Deals',
        notification_messages_token: 'rec-1',
        notification_messages_timezone: 'Europe/Berlin',
        token_expiry_timestamp: '1715000000',
      },
    });
    expect(entry.events).toEqual([
      {
        kind: 'recurring_optin',
        pageId: PAGE,
        timestamp: 1700000000000,
        psid: 'psid-1',
        token: 'rec-1',
        payload: 'deals',
        title: 'Deals',
        frequency: 'DAILY',
        timezone: 'Europe/Berlin',
        expiresAt: new Date(1715000000 * 1000),
        userTokenStatus: 'NOT_REFRESHED',
      },
    ]);
    const ms = single({
      ...base,
      optin: {
        type: 'notification_messages',
        payload: 'deals',
        notification_messages_token: 'rec-1',
        notification_messages_frequency: 'WEEKLY',
        token_expiry_timestamp: 1715000000123,
        user_token_status: 'REFRESHED',
      },
    }).events[0];
    expect(ms).toMatchObject({ frequency: 'WEEKLY', expiresAt: new Date(1715000000123), userTokenStatus: 'REFRESHED' });
  });

  it.each([
    ['STOP NOTIFICATIONS', 'STOP'],
    ['STOP_NOTIFICATIONS', 'STOP'],
    ['RESUME NOTIFICATIONS', 'RESUME'],
    ['RESUME_NOTIFICATIONS', 'RESUME'],
  ])('parses notification_messages_status %s as %s', (wire, status) => {
    const entry = single({
      ...base,
      optin: { type: 'notification_messages', payload: 'deals', notification_messages_token: 'rec-1', notification_messages_status: wire },
    });
    expect(entry.events).toEqual([
      { kind: 'recurring_status', pageId: PAGE, timestamp: 1458692752478, psid: 'psid-1', token: 'rec-1', payload: 'deals', status },
    ]);
  });

  it('parses a checkbox opt-in, which has no sender', () => {
    const entry = single({ recipient: { id: PAGE }, timestamp: 1458692752478, optin: { ref: 'cart-7', user_ref: 'uref-1' } });
    expect(entry.events).toEqual([{ kind: 'checkbox_optin', pageId: PAGE, timestamp: 1458692752478, userRef: 'uref-1', ref: 'cart-7' }]);
  });

  it('keeps good siblings when one item is broken and explains the broken one', () => {
    const parsed = parseWebhookPayload({
      object: 'page',
      entry: [
        {
          id: PAGE,
          time: 1,
          messaging: [
            { ...base, message: { mid: 'm_1', text: 'first' } },
            { ...base, optin: { type: 'one_time_notif_req', payload: 'x' } },
            'garbage',
            { ...base, optin: { type: 'notification_messages', payload: 'd', notification_messages_token: 't', notification_messages_status: 'PAUSE' } },
            { ...base, delivery: { mids: ['m_1'], watermark: 1 } },
            { ...base, message: { mid: 'm_echo', text: 'echo', is_echo: true } },
            { ...base, message: { mid: 'm_2', text: 'last' } },
          ],
        },
        { time: 5 },
        { id: '2', messaging: [{ ...base, sender: { id: 'p2' }, recipient: { id: '2' }, message: { mid: 'm_3' } }] },
      ],
    });
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const [first, second] = parsed.entries;
    expect(first?.events.map((e) => (e.kind === 'message' ? e.text : e.kind))).toEqual(['first', 'message_delivery', 'last']);
    expect(first?.rejects.map((r) => r.index)).toEqual([1, 2, 3]);
    expect(first?.rejects[0]?.reason).toMatch(/one_time_notif_token/);
    expect(first?.rejects[1]?.raw).toBe('garbage');
    expect(first?.ignored.map((i) => i.reason)).toEqual(['message echo']);
    expect(parsed.entryRejects).toEqual([{ index: 1, reason: 'entry without an id', raw: { time: 5 } }]);
    expect(second?.events).toEqual([{ kind: 'message', pageId: '2', timestamp: 1458692752478, psid: 'p2', mid: 'm_3' }]);
  });

  it('parses message_deliveries (watermark + mids) and message_reads (watermark); broken ones are rejects', () => {
    const parsed = parseWebhookPayload({
      object: 'page',
      entry: [
        {
          id: PAGE,
          time: 1,
          messaging: [
            { ...base, delivery: { mids: ['m_a', 'm_b'], watermark: 1458668856253 } },
            { ...base, delivery: { watermark: '1458668856' } },
            { ...base, read: { watermark: 1458668856253 } },
            { ...base, read: {} },
            { ...base, delivery: { mids: 'm_a', watermark: 1 } },
          ],
        },
      ],
    });
    if (!parsed.ok) throw new Error(parsed.error);
    const [entry] = parsed.entries;
    expect(entry?.events).toEqual([
      { kind: 'message_delivery', pageId: PAGE, timestamp: 1458692752478, psid: base.sender.id, watermark: 1458668856253, mids: ['m_a', 'm_b'] },
      { kind: 'message_delivery', pageId: PAGE, timestamp: 1458692752478, psid: base.sender.id, watermark: 1458668856000, mids: [] },
      { kind: 'message_read', pageId: PAGE, timestamp: 1458692752478, psid: base.sender.id, watermark: 1458668856253 },
    ]);
    expect(entry?.rejects.map((reject) => [reject.index, reject.reason.split(':')[0]])).toEqual([
      [3, 'read'],
      [4, 'delivery'],
    ]);
  });

  it('fails clearly on a non-page object, a missing entry array and non-objects', () => {
    expect(parseWebhookPayload({ object: 'instagram', entry: [] })).toEqual({
      ok: false,
      object: 'instagram',
      error: 'unsupported webhook object "instagram" (expected "page")',
    });
    expect(parseWebhookPayload({ object: 'page' })).toMatchObject({ ok: false, error: expect.stringMatching(/entry/) });
    expect(parseWebhookPayload(null)).toMatchObject({ ok: false });
    expect(parseWebhookPayload([1])).toMatchObject({ ok: false });
    expect(parseWebhookPayload({ entry: [] })).toMatchObject({ ok: false, error: expect.stringMatching(/object/) });
  });
});
