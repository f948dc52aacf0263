import { describe, expect, it } from 'vitest';
import {
  buildOneTimeNotifRequest,
  buildPsidSend,
  buildRecurringOptInRequest,
  buildTextMessage,
  buildTokenSend,
  characterCount,
  recipientKindOf,
} from './builders.js';

describe('request builders', () => {
  it('builds a text message and enforces 2000 characters (counting an emoji once)', () => {
    expect(buildTextMessage('hi')).toEqual({ text: 'hi' });
    expect(characterCount('👟'.repeat(2000))).toBe(2000);
    expect(() => buildTextMessage('👟'.repeat(2000))).not.toThrow();
    expect(() => buildTextMessage('x'.repeat(2001))).toThrow(/at most 2000/);
    expect(() => buildTextMessage('')).toThrow(/non-empty/);
  });

  it('builds a PSID send with messaging type and tag rules', () => {
    const body = buildPsidSend({ psid: '42', message: { text: 'x' } });
    expect(body).toEqual({ recipient: { id: '42' }, messaging_type: 'RESPONSE', message: { text: 'x' } });
    const tagged = buildPsidSend({ psid: '42', message: { text: 'x' }, messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' });
    expect(tagged.tag).toBe('HUMAN_AGENT');
    expect(() => buildPsidSend({ psid: '42', message: { text: 'x' }, messagingType: 'MESSAGE_TAG' })).toThrow(/needs a tag/);
    expect(() => buildPsidSend({ psid: '42', message: { text: 'x' }, tag: 'HUMAN_AGENT' })).toThrow(/MESSAGE_TAG/);
  });

  it('builds the one-time opt-in card with a title of at most 65 characters', () => {
    const body = buildOneTimeNotifRequest({ psid: '42', title: 'Size 42 back in stock?', payload: 'restock:42' });
    expect(body.message).toEqual({
      attachment: {
        type: 'template',
        payload: { template_type: 'one_time_notif_req', title: 'Size 42 back in stock?', payload: 'restock:42' },
      },
    });
    expect(() => buildOneTimeNotifRequest({ psid: '42', title: 't'.repeat(65), payload: 'p' })).not.toThrow();
    expect(() => buildOneTimeNotifRequest({ psid: '42', title: 't'.repeat(66), payload: 'p' })).toThrow(/65/);
  });

  it('builds the recurring opt-in card with only the fields given', () => {
    const minimal = buildRecurringOptInRequest({ psid: '42', payload: 'deals' });
    expect(minimal.message).toEqual({ attachment: { type: 'template', payload: { template_type: 'notification_messages', payload: 'deals' } } });
    const full = buildRecurringOptInRequest({
      psid: '42',
      payload: 'deals',
      title: 'Weekly deals',
      frequency: 'WEEKLY',
      timezone: 'Europe/Berlin',
      imageUrl: 'https://example.com/a.png',
      imageAspectRatio: 'SQUARE',
      ctaText: 'SIGN_UP',
      reoptin: true,
    });
    expect(full.message).toMatchObject({
      attachment: {
        payload: {
          title: 'Weekly deals',
          notification_messages_frequency: 'WEEKLY',
          notification_messages_timezone: 'Europe/Berlin',
          image_url: 'https://example.com/a.png',
          image_aspect_ratio: 'SQUARE',
          notification_messages_cta_text: 'SIGN_UP',
          notification_messages_reoptin: 'ENABLED',
        },
      },
    });
    expect(() => buildRecurringOptInRequest({ psid: '42', payload: 'p', timezone: 'Mars/Olympus' })).toThrow(/time zone/);
    expect(() => buildRecurringOptInRequest({ psid: '42', payload: 'p', title: 'x'.repeat(66) })).toThrow(/65/);
    expect(() => buildRecurringOptInRequest({ psid: '42', payload: 'p', imageUrl: 'not a url' })).toThrow(/URL/);
  });

  it('builds token sends for both token kinds and reports the recipient kind', () => {
    const oneTime = buildTokenSend({ kind: 'ONE_TIME', token: 'tok', message: { text: 'back in stock' } });
    expect(oneTime).toEqual({ recipient: { one_time_notif_token: 'tok' }, message: { text: 'back in stock' } });
    const recurring = buildTokenSend({ kind: 'RECURRING', token: 'tok', message: { text: 'deals' } });
    expect(recurring.recipient).toEqual({ notification_messages_token: 'tok' });
    expect(recipientKindOf(oneTime)).toBe('one_time_notif_token');
    expect(recipientKindOf(recurring)).toBe('notification_messages_token');
    expect(recipientKindOf(buildPsidSend({ psid: '1', message: { text: 'x' } }))).toBe('id');
    expect(recipientKindOf({ recipient: { user_ref: 'r' } })).toBe('user_ref');
    expect(recipientKindOf({})).toBe('unknown');
  });
});
