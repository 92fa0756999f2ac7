import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../errors.js';
import { createSealedBox, sealingKeysFrom } from './sealed.js';

const key = (id: string) => `${id}:${randomBytes(32).toString('hex')}`;

describe('sealed box (AES-256-GCM with key ids)', () => {
  const master = randomBytes(32);

  it('opens what it sealed, and never seals the same way twice', () => {
    const box = createSealedBox(sealingKeysFrom([], master));
    const sealed = box.seal('JBSWY3DPEHPK3PXP', 'row-1');
    expect(sealed).toMatch(/^v1\.k0\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(box.open(sealed, 'row-1')).toBe('JBSWY3DPEHPK3PXP');
    expect(box.seal('JBSWY3DPEHPK3PXP', 'row-1')).not.toBe(sealed);
  });

  it('refuses a value moved to another row, or altered', () => {
    const box = createSealedBox(sealingKeysFrom([], master));
    const sealed = box.seal('secret', 'row-1');
    expect(() => box.open(sealed, 'row-2')).toThrow(GatehouseError);
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0]! ^= 1;
    parts[3] = body.toString('base64url');
    expect(() => box.open(parts.join('.'), 'row-1')).toThrow(GatehouseError);
  });

  it('rotates: the first key seals, every listed key opens, a dropped key cannot', () => {
    const k1 = key('k1');
    const k2 = key('k2');
    const old = createSealedBox(sealingKeysFrom([k1], master)).seal('secret', 'row');
    const rotated = createSealedBox(sealingKeysFrom([k2, k1], master));
    expect(rotated.activeKeyId).toBe('k2');
    expect(rotated.open(old, 'row')).toBe('secret');
    expect(rotated.seal('secret', 'row')).toMatch(/^v1\.k2\./);
    expect(() => createSealedBox(sealingKeysFrom([k2], master)).open(old, 'row')).toThrow(/key k1 unknown/);
  });

  it('derives the default key from the master key', () => {
    const sealed = createSealedBox(sealingKeysFrom([], master)).seal('secret', 'row');
    expect(createSealedBox(sealingKeysFrom([], master)).open(sealed, 'row')).toBe('secret');
    expect(() => createSealedBox(sealingKeysFrom([], randomBytes(32))).open(sealed, 'row')).toThrow(
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
