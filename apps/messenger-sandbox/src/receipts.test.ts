import { parseWebhookPayload } from '@renotify/messenger';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPageWithUser, PAGE_ID, startHarness, startReceiver, type Harness, type Receiver } from './test-support/harness.js';

/** Meta's delivery and read receipts as the sandbox user produces them, and the outbound-webhook test receiver. */

let h: Harness;
let receiver: Receiver;
beforeEach(async () => {
  receiver = await startReceiver();
  h = await startHarness({ webhookUrl: receiver.url });
  await createPageWithUser(h, 'user-1');
});
afterEach(async () => {
  await h.close();
  await receiver.close();
});

function eventsOf(index: number) {
  const parsed = parseWebhookPayload(JSON.parse(receiver.received[index]!.raw.toString('utf8')));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.entries.flatMap((entry) => entry.events);
}

describe('delivery and read receipts', () => {
  it('a delivery names the messages shown since the last one (watermark now); a read carries the watermark', async () => {
    await h.call('PATCH', `/__sandbox/pages/${PAGE_ID}/users/user-1`, { lastUserMessageAt: Date.now() });
    const first = await h.send({ recipient: { id: 'user-1' }, messaging_type: 'RESPONSE', message: { text: 'one' } });
    const second = await h.send({ recipient: { id: 'user-1' }, messaging_type: 'RESPONSE', message: { text: 'two' } });
    expect(first.status).toBe(200);

    await h.trigger({ type: 'delivery', pageId: PAGE_ID, psid: 'user-1' });
    await receiver.waitFor(1);
    const [delivery] = eventsOf(0);
    expect(delivery).toMatchObject({ kind: 'message_delivery', pageId: PAGE_ID, psid: 'user-1', mids: [first.json.message_id, second.json.message_id] });
    if (delivery?.kind !== 'message_delivery') throw new Error('unreachable');
    expect(delivery.watermark).toBeGreaterThanOrEqual(delivery.timestamp - 1);

    const third = await h.send({ recipient: { id: 'user-1' }, messaging_type: 'RESPONSE', message: { text: 'three' } });
    await h.trigger({ type: 'delivery', pageId: PAGE_ID, psid: 'user-1' });
    await h.trigger({ type: 'read', pageId: PAGE_ID, psid: 'user-1', watermark: 1_700_000_000_000 });
    await receiver.waitFor(3);
    expect(eventsOf(1)[0]).toMatchObject({ kind: 'message_delivery', mids: [third.json.message_id] }); // only the new one
    expect(eventsOf(2)[0]).toEqual({ kind: 'message_read', pageId: PAGE_ID, psid: 'user-1', timestamp: expect.any(Number), watermark: 1_700_000_000_000 });

    const unknownUser = await h.call('POST', '/__sandbox/webhooks/trigger', { type: 'read', pageId: PAGE_ID, psid: 'nobody' });
    expect(unknownUser.status).toBe(404);
  });
});

describe('test receiver /__receiver/:name', () => {
  it('records headers and the raw body, answers 204, and fails or hangs on demand', async () => {
    const url = `${h.baseUrl}/__receiver/crm`;
    const body = '{"b":1,  "a":"é"}';
    const ok = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1' } });
    expect(ok.status).toBe(204);

    expect((await h.call('PUT', '/__receiver/crm/behaviour', { status: 503, failNext: 2 })).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(url, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } })).status);
    expect(statuses).toEqual([503, 503, 204]);

    await h.call('PUT', '/__receiver/crm/behaviour', { status: 500, latencyMs: 300 });
    const started = Date.now();
    expect((await fetch(url, { method: 'POST', body: '{}' })).status).toBe(500);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);

    const inbox = await h.call('GET', '/__receiver/crm');
    expect(inbox.json.requests).toHaveLength(5);
    expect(inbox.json.requests[0]).toMatchObject({ method: 'POST', body, answeredWith: 204, headers: { 'webhook-id': 'msg_1' } });
    expect(inbox.json.requests.map((request: { answeredWith: number }) => request.answeredWith)).toEqual([204, 503, 503, 204, 500]);
    expect((await h.call('GET', '/__receiver/other')).json.requests).toEqual([]);

    expect((await h.call('PUT', '/__receiver/crm/behaviour', { status: 99 })).status).toBe(400);
    expect((await h.call('GET', '/__receiver/bad%20name')).status).toBe(400);
    await h.call('DELETE', '/__receiver/crm');
    expect((await h.call('GET', '/__receiver/crm')).json.requests).toEqual([]);
  });
});
