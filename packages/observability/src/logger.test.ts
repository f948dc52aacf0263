import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, fingerprint, redactUrl } from './index.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'test', level: 'debug', destination }) };
}

describe('logger redaction', () => {
  it('never writes tokens, access tokens or secrets, at any depth', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        token: 'otn-secret-1',
        accessToken: 'EAAB-secret',
        page: { appSecret: 'app-secret', access_token: 'EAAC-secret' },
        recipient: { one_time_notif_token: 'otn-2', notification_messages_token: 'rn-3' },
        headers: { authorization: 'Bearer demo-api-key' },
        deliveryId: 'd-1',
      },
      'sending',
    );
    const text = JSON.stringify(lines);
    for (const secret of ['otn-secret-1', 'EAAB-secret', 'app-secret', 'EAAC-secret', 'otn-2', 'rn-3', 'demo-api-key']) {
      expect(text).not.toContain(secret);
    }
    expect(lines[0]).toMatchObject({ deliveryId: 'd-1', msg: 'sending', level: 'info', service: 'test' });
  });

  it('redacts access tokens in URLs', () => {
    expect(redactUrl('/v24.0/me/messages?access_token=EAAB&x=1')).toBe('/v24.0/me/messages?access_token=[Redacted]&x=1');
    expect(redactUrl('/healthz')).toBe('/healthz');
  });

  it('fingerprints are stable, short and differ per token', () => {
    expect(fingerprint('abc')).toBe(fingerprint('abc'));
    expect(fingerprint('abc')).not.toBe(fingerprint('abd'));
    expect(fingerprint('abc')).toMatch(/^fp_[0-9a-f]{12}$/);
  });
});
