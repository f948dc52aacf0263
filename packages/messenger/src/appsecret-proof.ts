import { createHmac } from 'node:crypto';

/** `appsecret_proof` (messenger-platform.md §3.3): lowercase hex HMAC-SHA256 of the access token, keyed with the app secret. */
export function appSecretProof(accessToken: string, appSecret: string): string {
  return createHmac('sha256', appSecret).update(accessToken).digest('hex');
}

/**
 * Proofs per (token, secret) pair, so a batch of thousands of sends to one Page computes its proof once.
 * Bounded: a process serving many Pages drops the whole cache when it grows past `maxEntries` (cheap to refill).
 */
export class AppSecretProofs {
  private readonly cache = new Map<string, string>();

  constructor(private readonly maxEntries = 10_000) {}

  of(accessToken: string, appSecret: string): string {
    // The pair is the key: a rotated token or secret gets a fresh proof, never a stale one.
    const key = `${appSecret}\u0000${accessToken}`;
    let proof = this.cache.get(key);
    if (proof === undefined) {
      if (this.cache.size >= this.maxEntries) this.cache.clear();
      proof = appSecretProof(accessToken, appSecret);
      this.cache.set(key, proof);
    }
    return proof;
  }
}
