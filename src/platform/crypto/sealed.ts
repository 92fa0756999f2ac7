import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { GatehouseError } from '../errors.js';
import { decodeSecretKey } from './secret-key.js';
import { deriveKey } from './tokens.js';

const FORMAT = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SealingKey {
  readonly id: string;
  readonly key: Buffer;
}

/**
 * Encryption for secrets Gatehouse must read back (TOTP seeds, later upstream tokens): AES-256-GCM with a
 * fresh 96-bit IV per value. The key id travels with the ciphertext (`v1.<kid>.<iv>.<ciphertext+tag>`), so
 * keys can be rotated: new values use the first key, older ones still open with theirs. `context` is bound
 * as additional data (e.g. the row id), so a ciphertext copied into another row does not decrypt.
 */
export interface SealedBox {
  seal(plaintext: string, context: string): string;
  open(sealed: string, context: string): string;
  readonly activeKeyId: string;
}

/**
 * Parses `secrets.encryptionKeys` entries (`id:key`, the key as 64 hex characters or base64url of 32 bytes).
 * Without any, one key (`k0`) is derived from the master key, so the default install encrypts too.
 */
export function sealingKeysFrom(entries: readonly string[], masterKey: Buffer): SealingKey[] {
  if (entries.length === 0) return [{ id: 'k0', key: deriveKey(masterKey, 'sealed-box:k0') }];
  const seen = new Set<string>();
  return entries.map((entry, index) => {
    const separator = entry.indexOf(':');
    const id = entry.slice(0, separator);
    const key = separator > 0 ? decodeSecretKey(entry.slice(separator + 1)) : undefined;
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id) || !key) {
      throw new GatehouseError(
        'secret_key_invalid',
        `secrets.encryptionKeys[${index}] must be id:key with a 32-byte key (64 hex characters)`,
      );
    }
    if (seen.has(id)) throw new GatehouseError('secret_key_invalid', `encryption key id ${id} is repeated`);
    seen.add(id);
    return { id, key };
  });
}

export function createSealedBox(keys: readonly SealingKey[]): SealedBox {
  const active = keys[0];
  if (!active) throw new GatehouseError('secret_key_invalid', 'no encryption key');
  const byId = new Map(keys.map((entry) => [entry.id, entry.key]));
  return {
    activeKeyId: active.id,
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', active.key, iv);
      cipher.setAAD(Buffer.from(`${FORMAT}.${active.id}.${context}`));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${FORMAT}.${active.id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
    },
    open(sealed, context) {
      const [format, keyId, ivText, bodyText] = sealed.split('.');
      const key = keyId ? byId.get(keyId) : undefined;
      if (format !== FORMAT || !key || !ivText || !bodyText) {
        throw new GatehouseError(
          'internal_error',
          `cannot open a sealed value (key ${keyId ?? '?'} unknown)`,
        );
      }
      const body = Buffer.from(bodyText, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(ivText, 'base64url'));
      decipher.setAAD(Buffer.from(`${format}.${keyId}.${context}`));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      try {
        return Buffer.concat([
          decipher.update(body.subarray(0, body.length - TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
      } catch (error) {
        throw new GatehouseError('internal_error', 'a sealed value failed its integrity check', {
          cause: error,
        });
      }
    },
  };
}
