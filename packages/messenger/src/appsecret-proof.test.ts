import { describe, expect, it } from 'vitest';
import { AppSecretProofs, appSecretProof } from './appsecret-proof.js';

describe('appsecret_proof', () => {
  it('is the lowercase hex HMAC-SHA256 of the token keyed with the app secret (checked against openssl)', () => {
    // printf '%s' 'EAAG-token' | openssl dgst -sha256 -hmac 'app-secret'
    expect(appSecretProof('EAAG-token', 'app-secret')).toBe('d402b447efc46005b36c8e1f71fb619235c471fc7a8348fa3529923d2f42f4d4');
  });

  it('is cached per (token, secret): a rotated token or secret gets its own proof', () => {
    const proofs = new AppSecretProofs();
    const first = proofs.of('EAAG-token', 'app-secret');
    expect(proofs.of('EAAG-token', 'app-secret')).toBe(first);
    expect(proofs.of('EAAG-token', 'other-secret')).toBe(appSecretProof('EAAG-token', 'other-secret'));
    expect(proofs.of('EAAG-other', 'app-secret')).toBe(appSecretProof('EAAG-other', 'app-secret'));
  });

  it('stays bounded: past maxEntries it starts over and still answers right', () => {
    const proofs = new AppSecretProofs(2);
    for (let i = 0; i < 5; i++) expect(proofs.of(`token-${i}`, 's')).toBe(appSecretProof(`token-${i}`, 's'));
    expect((proofs as unknown as { cache: Map<string, string> }).cache.size).toBeLessThanOrEqual(2);
  });
});
