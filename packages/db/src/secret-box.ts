import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for Page secrets at rest. Ciphertexts name the key that made them
 * (`v1.<keyId>.<iv>.<tag>.<data>`, base64url), so a rotation adds the new key as current, keeps the
 * old one in the previous list until `reencrypt` has rewritten every row, then drops it.
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  private readonly currentKeyId: string;

  constructor(currentKeyBase64: string, previousKeysBase64: readonly string[] = []) {
    const current = decodeKey(currentKeyBase64);
    this.currentKeyId = keyId(current);
    this.keys.set(this.currentKeyId, current);
    for (const previous of previousKeysBase64) {
      const key = decodeKey(previous);
      this.keys.set(keyId(key), key);
    }
  }

  encrypt(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentKeyId)!, iv);
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', this.currentKeyId, iv, cipher.getAuthTag(), data]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  decrypt(sealed: string): string {
    const [version, id, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !id || !iv || !tag || data === undefined) throw new Error('not a Renotify secret ciphertext');
    const key = this.keys.get(id);
    if (!key) throw new Error(`secret was encrypted with key ${id}, which is neither ENCRYPTION_KEY nor in ENCRYPTION_KEYS_PREVIOUS`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** True when `sealed` was made with an older key and should be rewritten with the current one. */
  needsRotation(sealed: string): boolean {
    return sealed.split('.')[1] !== this.currentKeyId;
  }
}

function decodeKey(base64: string): Buffer {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== 32) throw new Error('encryption keys must be 32 bytes, base64-encoded');
  return key;
}

function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}
