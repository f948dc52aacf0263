import { createHash } from 'node:crypto';

/** A short, stable, non-reversible label for a secret (opt-in tokens), safe to log and show. */
export function fingerprint(secret: string): string {
  return `fp_${createHash('sha256').update(secret).digest('hex').slice(0, 12)}`;
}
