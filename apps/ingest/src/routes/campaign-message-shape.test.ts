import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadIngestConfig } from '@renotify/config';
import { createTestServices, type TestServices } from '@renotify/testing';
import { startIngest, type RunningIngest } from '../index.js';

const auth = { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' };
const PAGE = { id: '300400501', name: 'Shape Shop', accessToken: 'EAAG-shape-token', appSecret: 'shape-app-secret' };

/** Issue #12: a message Meta would refuse (code 100 for every recipient) is a 400 when the campaign is created. */
describe('campaign messages are checked against the Send API message shape', () => {
  let services: TestServices;
  let ingest: RunningIngest;
  const create = async (message: unknown) => {
    const response = await fetch(`${ingest.url}/v1/campaigns`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ pageId: PAGE.id, name: 'Shape', topic: 'deals', message, schedule: { cron: '0 9 * * *', timezone: 'UTC' } }),
    });
    return { status: response.status, json: (await response.json()) as { error?: { code: string; message: string; details?: unknown } } };
  };

  beforeAll(async () => {
    services = await createTestServices('ingestmsgshape');
    ingest = await startIngest(loadIngestConfig(services.env));
    const page = await fetch(`${ingest.url}/v1/pages`, { method: 'POST', headers: auth, body: JSON.stringify(PAGE) });
    expect(page.status).toBe(201);
  });
  afterAll(async () => {
    await ingest?.close();
    await services?.cleanup();
  });

  it.each([
    ['a quick reply with content_type "bogus" (the issue\'s reproduction)', { text: 'Deals', quick_replies: [{ content_type: 'bogus', title: 'x', payload: 'x' }] }, 'content_type'],
    ['a text quick reply without a payload', { text: 'Deals', quick_replies: [{ content_type: 'text', title: 'Yes' }] }, 'payload'],
    ['a quick reply title over 20 characters', { text: 'Deals', quick_replies: [{ content_type: 'text', title: 'x'.repeat(21), payload: 'p' }] }, 'title'],
    ['an image attachment without url or attachment_id', { attachment: { type: 'image', payload: {} } }, 'url'],
    ['a button template without buttons', { attachment: { type: 'template', payload: { template_type: 'button', text: 'Hi', buttons: [] } } }, 'buttons'],
    ['a template without template_type', { attachment: { type: 'template', payload: {} } }, 'template_type'],
  ])('refuses %s with a 400 naming the field', async (_label, message, field) => {
    const result = await create(message);
    expect(result.status).toBe(400);
    expect(JSON.stringify(result.json.error)).toContain(field);
  });

  it('accepts valid quick replies, attachments and templates', async () => {
    for (const message of [
      { text: 'Deals {{date}}', quick_replies: [{ content_type: 'text', title: 'More', payload: 'MORE' }, { content_type: 'user_email' }] },
      { attachment: { type: 'image', payload: { url: 'https://example.com/deal.png' } } },
      { attachment: { type: 'template', payload: { template_type: 'generic', elements: [{ title: 'Sneakers', buttons: [{ type: 'web_url', url: 'https://example.com', title: 'Buy' }] }] } } },
    ]) {
      const result = await create(message);
      expect(result.status, JSON.stringify(result.json)).toBe(201);
    }
  });
});
