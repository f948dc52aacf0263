import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signPayload, toMetaJson, verifySignature } from './signature.js';

describe('webhook signatures', () => {
  const secret = 'app-secret';
  const body = toMetaJson({ object: 'page', text: 'äöå 👟 https://x.y/z' });

  it('serialises like Meta: non-ASCII as lowercase \\uXXXX, slashes escaped, still valid JSON', () => {
    expect(body).toContain('\\u00e4\\u00f6\\u00e5');
    expect(body).toContain('\\ud83d\\udc5f');
    expect(body).toContain('https:\\/\\/x.y\\/z');
    expect(/^[\x20-\x7e]*$/.test(body)).toBe(true);
    expect(JSON.parse(body)).toEqual({ object: 'page', text: 'äöå 👟 https://x.y/z' });
  });

  it('signs the exact bytes with HMAC-SHA256 and verifies them', () => {
    const header = signPayload(body, secret);
    expect(header).toBe(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
    expect(verifySignature(body, header, secret)).toBe(true);
    expect(verifySignature(Buffer.from(body), header, secret)).toBe(true);
    expect(verifySignature(body, header.toUpperCase().replace('SHA256=', 'sha256='), secret)).toBe(true);
  });

  it('rejects re-serialised JSON, another secret, and missing or malformed headers', () => {
    const header = signPayload(body, secret);
    expect(verifySignature(JSON.stringify(JSON.parse(body)), header, secret)).toBe(false);
    expect(verifySignature(body, header, 'other-secret')).toBe(false);
    expect(verifySignature(body, undefined, secret)).toBe(false);
    expect(verifySignature(body, '', secret)).toBe(false);
    expect(verifySignature(body, header.slice(7), secret)).toBe(false);
    expect(verifySignature(body, 'sha1=' + header.slice(7), secret)).toBe(false);
    expect(verifySignature(body, header.slice(0, -2), secret)).toBe(false);
    expect(verifySignature(body, `${header.slice(0, -1)}g`, secret)).toBe(false);
    expect(verifySignature(body, header, '')).toBe(false);
  });
});
