import { describe, expect, it } from 'vitest';
import { redactPayload, REDACTED, secretCandidates } from './redact-payload.js';

const TOKEN = 'AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789-tok';

describe('redactPayload', () => {
  it('redacts secret fields by name at any depth, also inside JSON text', () => {
    const rawBody = JSON.stringify({ entry: [{ messaging: [{ optin: { one_time_notif_token: TOKEN, payload: 'topic' } }] }] });
    const out = redactPayload({ receiptId: 'r', rawBody, deep: [[{ a: { b: { c: { appsecret_proof: 'p', notification_messages_token: 'n', tokenFingerprint: 'fp_1' } } } }]] });
    expect(JSON.stringify(out)).not.toContain(TOKEN);
    const parsed = JSON.parse((out as { rawBody: string }).rawBody);
    expect(parsed.entry[0].messaging[0].optin).toEqual({ one_time_notif_token: REDACTED, payload: 'topic' });
    expect((out as { deep: unknown }).deep).toEqual([[{ a: { b: { c: { appsecret_proof: REDACTED, notification_messages_token: REDACTED, tokenFingerprint: REDACTED } } } }]]);
  });

  it('cuts known secrets out of any string, and secret pairs and token-shaped runs out of unparsable bodies', () => {
    expect(redactPayload({ reason: `Key (token)=(${TOKEN}) already exists.`, note: `x ${TOKEN} y` }, { knownSecrets: [TOKEN] })).toEqual({
      reason: 'Key (token)=([Redacted]) already exists.',
      note: `x ${REDACTED} y`,
    });
    const broken = `{"entry":[{"messaging":[{"optin":{"notification_messages_token":"${TOKEN}", "other": "${TOKEN.toUpperCase()}"`;
    const out = redactPayload(broken) as string;
    expect(out).not.toContain(TOKEN);
    expect(out).not.toContain(TOKEN.toUpperCase());
    expect(redactPayload('https://graph.example/me?access_token=abc&x=1')).toBe('https://graph.example/me?access_token=[Redacted]&x=1');
  });

  it('keeps ordinary values, ids and long message ids in well-formed strings', () => {
    const mid = 'm_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP';
    const value = { receiptId: '5f1c8f64-2d9b-4d1e-9a39-0f6a1c1d2e3f', mid, n: 1, ok: true, nil: null };
    expect(redactPayload(value)).toEqual(value);
  });

  it('offers every string and token-shaped run as a candidate for the stored-token lookup', () => {
    const candidates = secretCandidates({ a: TOKEN, b: [`{"x":"${TOKEN}2"}`], c: `{broken ${TOKEN}3`, short: 'abc' });
    expect(candidates).toEqual(expect.arrayContaining([TOKEN, `${TOKEN}2`, `${TOKEN}3`]));
    expect(candidates).not.toContain('abc');
  });
});
