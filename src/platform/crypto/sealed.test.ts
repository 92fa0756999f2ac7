import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../errors.js';
import { createSealedBox, type SealedField, sealingKeysFrom } from './sealed.js';
import { deriveKey } from './tokens.js';

const key = (id: string) => `${id}:${randomBytes(32).toString('hex')}`;
const field = (row: string, column = 'secret_sealed'): SealedField => ({ table: 'mfa_methods', column, row });

describe('sealed box (AES-256-GCM with key ids)', () => {
  const master = randomBytes(32);

  it('opens what it sealed, and never seals the same way twice', () => {
    const box = createSealedBox(sealingKeysFrom([], master));
    const sealed = box.seal('JBSWY3DPEHPK3PXP', field('row-1'));
    expect(sealed).toMatch(/^v2\.k0\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(box.open(sealed, field('row-1'))).toBe('JBSWY3DPEHPK3PXP');
    expect(box.seal('JBSWY3DPEHPK3PXP', field('row-1'))).not.toBe(sealed);
    expect(box.describe(sealed)).toEqual({ format: 'v2', keyId: 'k0', current: true });
  });

  it('refuses a value moved to another row, column or table, or with one byte flipped', () => {
    const box = createSealedBox(sealingKeysFrom([], master));
    const sealed = box.seal('secret', field('row-1'));
    expect(() => box.open(sealed, field('row-2'))).toThrow(GatehouseError);
    expect(() => box.open(sealed, field('row-1', 'other_column'))).toThrow(GatehouseError);
    expect(() => box.open(sealed, { ...field('row-1'), table: 'signing_keys' })).toThrow(GatehouseError);
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0]! ^= 1;
    parts[3] = body.toString('base64url');
    expect(() => box.open(parts.join('.'), field('row-1'))).toThrow(/integrity/);
  });

  it('rotates: the first key seals, every listed key opens, a dropped key cannot', () => {
    const k1 = key('k1');
    const k2 = key('k2');
    const old = createSealedBox(sealingKeysFrom([k1], master)).seal('secret', field('row'));
    const rotated = createSealedBox(sealingKeysFrom([k2, k1], master));
    expect(rotated.activeKeyId).toBe('k2');
    expect(rotated.open(old, field('row'))).toBe('secret');
    expect(rotated.describe(old).current).toBe(false);
    expect(rotated.seal('secret', field('row'))).toMatch(/^v2\.k2\./);
    expect(() => createSealedBox(sealingKeysFrom([k2], master)).open(old, field('row'))).toThrow(
      /key k1 unknown/,
    );
  });

  it('still opens values sealed before v2 (bound to the row only), with their old context', () => {
    // A v1 value as the previous version wrote it: additional data `v1.<kid>.<context>`.
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', deriveKey(master, 'sealed-box:k0'), iv);
    cipher.setAAD(Buffer.from('v1.k0.signing-key:kid-1'));
    const body = Buffer.concat([cipher.update('private', 'utf8'), cipher.final(), cipher.getAuthTag()]);
    const legacy = `v1.k0.${iv.toString('base64url')}.${body.toString('base64url')}`;
    const box = createSealedBox(sealingKeysFrom([], master));
    const where = { table: 'signing_keys', column: 'private_sealed', row: 'kid-1' };
    expect(box.open(legacy, { ...where, legacyContext: 'signing-key:kid-1' })).toBe('private');
    expect(() => box.open(legacy, { ...where, legacyContext: 'signing-key:kid-2' })).toThrow(GatehouseError);
    expect(box.describe(legacy)).toEqual({ format: 'v1', keyId: 'k0', current: false });
  });

  it('derives the default key from the master key', () => {
    const sealed = createSealedBox(sealingKeysFrom([], master)).seal('secret', field('row'));
    expect(createSealedBox(sealingKeysFrom([], master)).open(sealed, field('row'))).toBe('secret');
    expect(() => createSealedBox(sealingKeysFrom([], randomBytes(32))).open(sealed, field('row'))).toThrow(
      GatehouseError,
    );
  });

  it('rejects malformed key lists', () => {
    for (const entries of [
      ['nocolon'],
      ['k1:short'],
      [key('k1'), key('k1')],
      [`bad id:${randomBytes(32).toString('hex')}`],
    ]) {
      expect(() => sealingKeysFrom(entries, master), JSON.stringify(entries)).toThrow(GatehouseError);
    }
  });
});
