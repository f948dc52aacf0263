import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, fingerprint, redactDatabaseText, redactRequestUrl, redactUrl } from './index.js';

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

  it('never writes the person: psid / userRef / user_ref fields, and PSIDs in request URLs (path or query)', () => {
    const { lines, logger } = capture();
    logger.info({ pageId: 'p-1', psid: 'psid-4711', sender: { user_ref: 'ref-4712' }, entry: { person: { userRef: 'ref-4713' } } }, 'opt-in request sent');
    logger.info({ req: { method: 'DELETE', url: '/v1/pages/p-1/subscribers/psid-4714?x=1', id: 'r1' } }, 'request');
    const text = JSON.stringify(lines);
    for (const person of ['psid-4711', 'ref-4712', 'ref-4713', 'psid-4714']) expect(text).not.toContain(person);
    expect(lines[0]).toMatchObject({ pageId: 'p-1', psid: '[Redacted]' });
    expect(lines[1]).toMatchObject({ req: { url: '/v1/pages/p-1/subscribers/[Redacted]?x=1' } });
    expect(redactRequestUrl('/v1/pages/1/subscribers/123/stop')).toBe('/v1/pages/1/subscribers/[Redacted]/stop');
    expect(redactRequestUrl('/v1/pages/1/subscribers?windowOpen=true&limit=5')).toBe('/v1/pages/1/subscribers?windowOpen=true&limit=5');
    expect(redactRequestUrl('/v1/pages/1/optins?psid=123&access_token=EAAB')).toBe('/v1/pages/1/optins?psid=[Redacted]&access_token=[Redacted]');
  });

  it('fingerprints are stable, short and differ per token', () => {
    expect(fingerprint('abc')).toBe(fingerprint('abc'));
    expect(fingerprint('abc')).not.toBe(fingerprint('abd'));
    expect(fingerprint('abc')).toMatch(/^fp_[0-9a-f]{12}$/);
  });

  it('never writes values that database errors quote: pg detail/where/params, Prisma meta, "Key (…)=(…)" text', () => {
    const { lines, logger } = capture();
    // The fields of pg's DatabaseError for a unique violation, as the driver builds it.
    const unique = Object.assign(new Error('duplicate key value violates unique constraint "OptIn_token_key"'), {
      code: '23505',
      severity: 'ERROR',
      detail: 'Key (token)=(otn-race-1) already exists.',
      where: 'SQL statement "INSERT INTO … VALUES (otn-race-1)"',
      constraint: 'OptIn_token_key',
      table: 'OptIn',
      parameters: ['otn-race-1'],
    });
    const wrapped = new Error('apply failed', { cause: unique });
    const prisma = Object.assign(new Error('Unique constraint failed on the fields: (`token`)'), {
      code: 'P2002',
      meta: { modelName: 'OptIn', target: ['token'], driverAdapterError: { cause: { originalMessage: 'Key (token)=(otn-race-2) already exists.' } } },
    });
    logger.warn({ err: unique }, 'webhook event failed');
    logger.warn({ err: wrapped }, 'wrapped');
    logger.warn({ err: prisma }, 'prisma');
    logger.warn({ error: unique, reason: 'Key (token)=(otn-race-3) already exists.' }, 'other key');
    logger.warn('Key (token, "pageId")=(otn-race-4, 1) already exists.');
    logger.warn({ err: Object.assign(new Error('null value in column "topic"'), { detail: 'Failing row contains (id, otn-race-5, null).' }) }, 'not null');
    const text = JSON.stringify(lines);
    for (const token of ['otn-race-1', 'otn-race-2', 'otn-race-3', 'otn-race-4', 'otn-race-5']) expect(text).not.toContain(token);
    // What explains the error stays.
    expect(lines[0]).toMatchObject({ err: { code: '23505', constraint: 'OptIn_token_key', table: 'OptIn', detail: '[Redacted]' } });
    expect(lines[2]).toMatchObject({ err: { code: 'P2002', meta: { modelName: 'OptIn', target: ['token'], driverAdapterError: '[Redacted]' } } });
  });

  it('cuts quoted values out of database text and leaves other text alone', () => {
    expect(redactDatabaseText('Key (token)=(abc) already exists.')).toBe('Key (token)=([Redacted]) already exists.');
    expect(redactDatabaseText('Key ("pageId", token)=(1, a(b)c) is not present in table "Page".')).toBe('Key ("pageId", token)=([Redacted]) is not present in table "Page".');
    expect(redactDatabaseText('Failing row contains (1, tok, null).')).toBe('Failing row contains ([Redacted]).');
    expect(redactDatabaseText('batch dispatched')).toBe('batch dispatched');
  });
});
