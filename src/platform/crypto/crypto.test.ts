import { randomBytes } from 'node:crypto';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSecretKey, loadSecretKey } from './secret-key.js';
import { constantTimeEqual, deriveKey, keyedHash, randomToken } from './tokens.js';

const quiet = { warn: () => {} };

function warnings() {
  const messages: string[] = [];
  return {
    messages,
    log: { warn: (_fields: Record<string, unknown>, message: string) => messages.push(message) },
  };
}

describe('secret key', () => {
  it('decodes hex and base64 forms of exactly 32 bytes', () => {
    const key = randomBytes(32);
    expect(decodeSecretKey(key.toString('hex'))).toEqual(key);
    expect(decodeSecretKey(key.toString('base64'))).toEqual(key);
    expect(decodeSecretKey(key.toString('base64url'))).toEqual(key);
    expect(decodeSecretKey(randomBytes(31).toString('hex'))).toBeUndefined();
    expect(decodeSecretKey('not a key')).toBeUndefined();
  });

  it('generates a 0600 key file in development, warns, and reuses it on the next start', () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'gatehouse-key-')), 'data');
    const first = warnings();
    const generated = loadSecretKey({ env: 'development', dataDir, secrets: {} }, first.log);
    expect(generated.source).toBe(`generated:${join(dataDir, 'secret.key')}`);
    expect(statSync(join(dataDir, 'secret.key')).mode & 0o777).toBe(0o600);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(first.messages[0]).toMatch(/generated one for development/);

    const again = loadSecretKey({ env: 'development', dataDir, secrets: {} }, quiet);
    expect(again.key).toEqual(generated.key);
  });

  it('never generates one in production', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-key-'));
    expect(() => loadSecretKey({ env: 'production', dataDir, secrets: {} }, quiet)).toThrow(
      /required in production/,
    );
  });

  it('reads a key file, warning when others can read it, and rejects a bad one', () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-key-'));
    const file = join(directory, 'key');
    const key = randomBytes(32);
    writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o644 });
    const loose = warnings();
    expect(
      loadSecretKey({ env: 'production', dataDir: directory, secrets: { keyFile: file } }, loose.log).key,
    ).toEqual(key);
    expect(loose.messages[0]).toMatch(/chmod 600/);

    writeFileSync(file, 'too short');
    expect(() =>
      loadSecretKey({ env: 'production', dataDir: directory, secrets: { keyFile: file } }, quiet),
    ).toThrow(/does not hold a 32-byte key/);
    expect(() =>
      loadSecretKey(
        { env: 'production', dataDir: directory, secrets: { keyFile: join(directory, 'missing') } },
        quiet,
      ),
    ).toThrow(/cannot read/);
  });

  it('prefers the configured key', () => {
    const key = randomBytes(32);
    const loaded = loadSecretKey(
      { env: 'production', dataDir: '/nonexistent', secrets: { key: key.toString('hex') } },
      quiet,
    );
    expect(loaded).toEqual({ key, source: 'config' });
  });
});

describe('tokens', () => {
  it('makes URL-safe random tokens of the requested strength', () => {
    const token = randomToken(32);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken(32)).not.toBe(token);
  });

  it('compares in constant time and gets the answer right', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });

  it('derives stable, independent keys per purpose', () => {
    const master = randomBytes(32);
    expect(deriveKey(master, 'sessions')).toEqual(deriveKey(master, 'sessions'));
    expect(deriveKey(master, 'sessions')).not.toEqual(deriveKey(master, 'api-keys'));
    expect(deriveKey(master, 'sessions')).not.toEqual(deriveKey(randomBytes(32), 'sessions'));
    expect(deriveKey(master, 'sessions')).toHaveLength(32);
  });

  it('hashes with a key (RFC 4231 test case 2, HMAC-SHA-256)', () => {
    // key "Jefe", data "what do ya want for nothing?"
    const expected = Buffer.from(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
      'hex',
    ).toString('base64url');
    expect(keyedHash(Buffer.from('Jefe'), 'what do ya want for nothing?')).toBe(expected);
  });
});
