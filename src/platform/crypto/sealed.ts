import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { GatehouseError } from '../errors.js';
import { decodeSecretKey } from './secret-key.js';
import { deriveKey } from './tokens.js';

const FORMAT = 'v2';
const LEGACY_FORMAT = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SealingKey {
  readonly id: string;
  readonly key: Buffer;
}

/** Where a sealed value lives: its ciphertext is bound to this table, column and row. */
export interface SealedField {
  readonly table: string;
  readonly column: string;
  readonly row: string;
  /** The additional data values sealed before v2 were bound to (the row id, or a prefixed one). */
  readonly legacyContext?: string;
}

/**
 * Encryption for secrets Gatehouse must read back (TOTP seeds, signing keys, later upstream tokens):
 * AES-256-GCM with a fresh 96-bit IV per value. The key id travels with the ciphertext
 * (`v2.<kid>.<iv>.<ciphertext+tag>`), so keys can be rotated: new values use the first key, older ones still
 * open with theirs (and `gatehouse keys rotate-data` moves them to the first). The table, column and row are
 * bound as additional data, so a ciphertext copied into another row or column does not decrypt. Values sealed
 * by earlier versions (`v1`, bound to the row only) still open until rotate-data rewrites them.
 */
export interface SealedBox {
  seal(plaintext: string, field: SealedField): string;
  open(sealed: string, field: SealedField): string;
  /** The key id a sealed value was made with, and whether it is the current format and key. */
  describe(sealed: string): { format: string; keyId: string; current: boolean };
  readonly activeKeyId: string;
}

const additionalData = (format: string, keyId: string, field: SealedField) =>
  format === LEGACY_FORMAT
    ? `${format}.${keyId}.${field.legacyContext ?? field.row}`
    : `${format}.${keyId}.${field.table}.${field.column}.${field.row}`;

/**
 * Parses `secrets.encryptionKeys` entries (`id:key`, the key as 64 hex characters or base64url of 32 bytes).
 * Without any, one key (`k0`) is derived from the master key, so the default install encrypts too; with
 * some, the derived `k0` still opens (never seals) unless an entry named k0 replaces it.
 */
export function sealingKeysFrom(entries: readonly string[], masterKey: Buffer): SealingKey[] {
  const derived = { id: 'k0', key: deriveKey(masterKey, 'sealed-box:k0') };
  if (entries.length === 0) return [derived];
  const seen = new Set<string>();
  const keys = entries.map((entry, index) => {
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
  // The default key keeps opening what was sealed before keys were configured (it is only as secret as the
  // master key it comes from), so moving off it takes one new key and `gatehouse keys rotate-data`.
  return seen.has('k0') ? keys : [...keys, derived];
}

export function createSealedBox(keys: readonly SealingKey[]): SealedBox {
  const active = keys[0];
  if (!active) throw new GatehouseError('secret_key_invalid', 'no encryption key');
  const byId = new Map(keys.map((entry) => [entry.id, entry.key]));
  return {
    activeKeyId: active.id,
    describe(sealed) {
      const [format = '', keyId = ''] = sealed.split('.');
      return { format, keyId, current: format === FORMAT && keyId === active.id };
    },
    seal(plaintext, field) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', active.key, iv);
      cipher.setAAD(Buffer.from(additionalData(FORMAT, active.id, field)));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${FORMAT}.${active.id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
    },
    open(sealed, field) {
      const [format, keyId, ivText, bodyText] = sealed.split('.');
      const key = keyId ? byId.get(keyId) : undefined;
      if ((format !== FORMAT && format !== LEGACY_FORMAT) || !keyId || !key || !ivText || !bodyText) {
        throw new GatehouseError(
          'internal_error',
          `cannot open a sealed value (key ${keyId ?? '?'} unknown)`,
        );
      }
      const body = Buffer.from(bodyText, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(ivText, 'base64url'));
      decipher.setAAD(Buffer.from(additionalData(format, keyId, field)));
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
