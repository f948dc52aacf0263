import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from './secret-box.js';

const newKey = () => randomBytes(32).toString('base64');

describe('SecretBox', () => {
  it('round-trips and never stores the plaintext', () => {
    const box = new SecretBox(newKey());
    const sealed = box.encrypt('EAAB-page-access-token');
    expect(sealed).not.toContain('EAAB');
    expect(box.decrypt(sealed)).toBe('EAAB-page-access-token');
    expect(box.encrypt('same')).not.toBe(box.encrypt('same'));
  });

  it('rejects tampered ciphertexts', () => {
    const box = new SecretBox(newKey());
    const parts = box.encrypt('secret').split('.');
    parts[4] = Buffer.from('other').toString('base64url');
    expect(() => box.decrypt(parts.join('.'))).toThrow();
  });

  it('rotates keys: old ciphertexts still open, and are flagged for re-encryption', () => {
    const oldKey = newKey();
    const sealedWithOld = new SecretBox(oldKey).encrypt('secret');
    const rotated = new SecretBox(newKey(), [oldKey]);
    expect(rotated.decrypt(sealedWithOld)).toBe('secret');
    expect(rotated.needsRotation(sealedWithOld)).toBe(true);
    expect(rotated.needsRotation(rotated.encrypt('secret'))).toBe(false);
    expect(() => new SecretBox(newKey()).decrypt(sealedWithOld)).toThrow(/ENCRYPTION_KEYS_PREVIOUS/);
  });
});
