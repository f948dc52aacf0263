import { describe, expect, it } from 'vitest';
import { sendApiMessageSchema } from './message-schema.js';

const ok = (message: unknown) => expect(sendApiMessageSchema.safeParse(message).success, JSON.stringify(message)).toBe(true);
const refused = (message: unknown, path: string) => {
  const result = sendApiMessageSchema.safeParse(message);
  expect(result.success, JSON.stringify(message)).toBe(false);
  if (!result.success) expect(result.error.issues.map((issue) => issue.path.join('.'))).toContain(path);
};

describe('sendApiMessageSchema', () => {
  it('accepts the message shapes Renotify and Meta document', () => {
    ok({ text: 'Size 42 is back' });
    ok({ text: '👟'.repeat(2000) });
    ok({ text: 'Pick one', quick_replies: [{ content_type: 'text', title: 'Yes', payload: 'YES' }, { content_type: 'user_email' }] });
    ok({ attachment: { type: 'image', payload: { url: 'https://example.com/a.png', is_reusable: true } } });
    ok({ attachment: { type: 'template', payload: { template_type: 'button', text: 'Hi', buttons: [{ type: 'postback', title: 'Go', payload: 'GO' }] } } });
    ok({ attachment: { type: 'template', payload: { template_type: 'generic', elements: [{ title: 'Shoe', subtitle: 'New' }] } } });
    ok({ attachment: { type: 'template', payload: { template_type: 'one_time_notif_req', title: 'Back in stock?', payload: 'restock' } } });
    ok({ attachment: { type: 'template', payload: { template_type: 'media', elements: [] } } });
    ok({ attachments: [{ type: 'image', payload: { attachment_id: '123' } }] });
    ok({ text: 'x', metadata: 'm'.repeat(1000) });
  });

  it('refuses what Meta refuses with code 100', () => {
    refused({ text: 'x', quick_replies: [{ content_type: 'bogus', title: 'x', payload: 'x' }] }, 'quick_replies.0.content_type');
    refused({ text: 'x'.repeat(2001) }, 'text');
    refused({ text: '' }, 'text');
    refused({}, '');
    refused({ text: 'x', attachment: { type: 'image', payload: { url: 'https://e.com/a.png' } } }, '');
    refused({ text: 'x', quick_replies: [{ content_type: 'text', title: 'a'.repeat(21), payload: 'p' }] }, 'quick_replies.0.title');
    refused({ text: 'x', quick_replies: [{ content_type: 'text', payload: 'p' }] }, 'quick_replies.0.title');
    refused({ text: 'x', quick_replies: [{ content_type: 'text', title: 'a' }] }, 'quick_replies.0.payload');
    refused({ text: 'x', quick_replies: Array.from({ length: 14 }, () => ({ content_type: 'user_email' })) }, 'quick_replies');
    refused({ attachment: { type: 'image', payload: {} } }, 'attachment.payload');
    refused({ attachment: { type: 'sticker', payload: { url: 'https://e.com' } } }, 'attachment.type');
    refused({ attachment: { type: 'template', payload: { template_type: 'button', text: 'x', buttons: [] } } }, 'attachment.payload.buttons');
    refused({ attachment: { type: 'template', payload: { template_type: 'generic', elements: [{ title: 'x'.repeat(81) }] } } }, 'attachment.payload.elements.0.title');
    refused({ attachment: { type: 'template', payload: { template_type: 'one_time_notif_req', title: 'x'.repeat(66), payload: 'p' } } }, 'attachment.payload.title');
    refused({ attachment: { type: 'template', payload: {} } }, 'attachment.payload.template_type');
    refused({ attachments: Array.from({ length: 31 }, () => ({ type: 'image', payload: { attachment_id: '1' } })) }, 'attachments');
    refused({ text: 'x', metadata: 'm'.repeat(1001) }, 'metadata');
  });
});
