import { randomBytes, scryptSync } from 'node:crypto';
import { verify as argon2Verify, hashRaw } from '@node-rs/argon2';
import { Value } from '@sinclair/typebox/value';
import bcrypt from 'bcryptjs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { commonPasswords } from './common-passwords.js';
import { argon2Parameters, createPasswordHasher } from './hasher.js';
import { BoundedConcurrency } from './limiter.js';
import { checkPasswordPolicy, createPasswordPolicy, preparePasswordPolicy } from './policy.js';
import { type PasswordSettings, PasswordSettingsSchema } from './settings.js';

const defaults = (): PasswordSettings => Value.Default(PasswordSettingsSchema, {}) as PasswordSettings;
const cheap = (overrides: Partial<PasswordSettings['argon2']> = {}): PasswordSettings => ({
  ...defaults(),
  argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1, ...overrides },
});

describe('argon2id', () => {
  // phc-winner-argon2 src/test.c, Argon2id v=0x13. RFC 9106's own vector (§5.3) needs associated data, which
  // @node-rs/argon2 cannot take; the reference implementation's vectors exercise the same algorithm.
  it.each([
    { m: 65_536, t: 2, p: 1, tag: '09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7' },
    { m: 256, t: 2, p: 1, tag: '9dfeb910e80bad0311fee20f9c0e2b12c17987b4cac90c2ef54d5b3021c68bfe' },
    { m: 256, t: 2, p: 2, tag: '6d093c501fd5999645e0ea3bf620d7b8be7fd2db59c20d9fff9539da2bf57037' },
  ])('matches the reference implementation at m=$m t=$t p=$p', async ({ m, t, p, tag }) => {
    const raw = await hashRaw('password', {
      algorithm: 2,
      memoryCost: m,
      timeCost: t,
      parallelism: p,
      outputLen: 32,
      salt: Buffer.from('somesalt'),
    });
    expect(raw.toString('hex')).toBe(tag);
  });

  it('verifies the reference encoded hash', async () => {
    const encoded = '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc';
    expect(await argon2Verify(encoded, 'password')).toBe(true);
    const hasher = createPasswordHasher({
      ...defaults(),
      argon2: { memoryKiB: 65_536, iterations: 2, parallelism: 1 },
    });
    expect(await hasher.verify(encoded, 'password')).toEqual({ valid: true, needsRehash: false });
    expect(await hasher.verify(encoded, 'Password')).toEqual({ valid: false, needsRehash: false });
  });

  it('hashes with the configured parameters, salted, and stores them in the PHC string', async () => {
    const hasher = createPasswordHasher(defaults());
    const first = await hasher.hash('correct horse');
    const second = await hasher.hash('correct horse');
    expect(first).not.toBe(second);
    expect(argon2Parameters(first)).toEqual({ memoryKiB: 19_456, iterations: 2, parallelism: 1 });
    expect(await hasher.verify(first, 'correct horse')).toEqual({ valid: true, needsRehash: false });
  });

  it('asks for a rehash when the configured parameters change', async () => {
    const old = await createPasswordHasher(cheap()).hash('pw-123456');
    const current = createPasswordHasher(cheap({ iterations: 2 }));
    expect(await current.verify(old, 'pw-123456')).toEqual({ valid: true, needsRehash: true });
    expect(await current.verify(old, 'wrong')).toEqual({ valid: false, needsRehash: false });
  });
});

describe('imported hashes', () => {
  const hasher = createPasswordHasher(cheap());

  it('verifies bcrypt ($2a$, $2b$, $2y$) and asks for an upgrade', async () => {
    const hash = bcrypt.hashSync('imported-password', 10);
    expect(await hasher.verify(hash, 'imported-password')).toEqual({ valid: true, needsRehash: true });
    expect(await hasher.verify(hash, 'other')).toEqual({ valid: false, needsRehash: false });
    // PHP's password_hash documentation example: "rasmuslerdorf".
    const php = '$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a';
    expect(await hasher.verify(php, 'rasmuslerdorf')).toEqual({ valid: true, needsRehash: true });
  });

  it('verifies PHC-style scrypt and asks for an upgrade', async () => {
    const salt = randomBytes(16);
    const key = scryptSync('scrypt-password', salt, 32, { N: 2 ** 14, r: 8, p: 1 });
    const stored = `$scrypt$ln=14,r=8,p=1$${salt.toString('base64')}$${key.toString('base64')}`;
    expect(await hasher.verify(stored, 'scrypt-password')).toEqual({ valid: true, needsRehash: true });
    expect(await hasher.verify(stored, 'scrypt-passworD')).toEqual({ valid: false, needsRehash: false });
  });

  it('treats malformed and unknown hashes as not matching, without throwing', async () => {
    for (const stored of [
      '',
      'plain',
      '$argon2id$v=19$m=1,t=1,p=1$$',
      '$2b$10$short',
      '$scrypt$ln=99,r=8,p=1$AAAA$AAAA',
      '$md5$x',
    ]) {
      expect(await hasher.verify(stored, 'anything')).toEqual({ valid: false, needsRehash: false });
    }
  });

  it('spends a verification on unknown accounts', async () => {
    const registry = new Registry();
    const measured = createPasswordHasher(cheap(), { registry });
    await measured.dummyVerify('whatever');
    const metric = await registry.getSingleMetricAsString('gatehouse_password_hash_seconds');
    expect(metric).toMatch(/gatehouse_password_hash_seconds_count\{operation="verify"\} 1/);
  });
});

describe('bounded concurrency', () => {
  it('runs at most N at once, queues up to M, and refuses the rest with 503 and Retry-After', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let active = 0;
    let peak = 0;
    const hasher = createPasswordHasher(
      { ...cheap(), hashing: { maxConcurrent: 2, maxQueued: 1, retryAfterSeconds: 3 } },
      {
        argon2: {
          hash: async () => {
            active++;
            peak = Math.max(peak, active);
            await gate;
            active--;
            return '$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc';
          },
          verify: async () => true,
        },
      },
    );
    const accepted = [hasher.hash('a'), hasher.hash('b'), hasher.hash('c')];
    expect(hasher.limiter.running).toBe(2);
    expect(hasher.limiter.queued).toBe(1);
    await expect(hasher.hash('d')).rejects.toMatchObject({
      code: 'overloaded',
      status: 503,
      headers: { 'retry-after': '3' },
    });
    expect(hasher.limiter.rejected).toBe(1);
    // Callers can fail before doing any other work (a sign-in skips its database lookups).
    expect(hasher.limiter.full).toBe(true);
    expect(() => hasher.limiter.assertCapacity()).toThrow(expect.objectContaining({ code: 'overloaded' }));
    release();
    await Promise.all(accepted);
    expect(peak).toBe(2);
    expect(hasher.limiter.running).toBe(0);
    expect(hasher.limiter.full).toBe(false);
  });

  it('hands a freed slot to the next waiter', async () => {
    const limiter = new BoundedConcurrency(1, 5, 1);
    const order: number[] = [];
    await Promise.all([1, 2, 3].map((n) => limiter.run(async () => order.push(n))));
    expect(order).toEqual([1, 2, 3]);
    expect(limiter.running).toBe(0);
  });
});

describe('password policy', () => {
  const settings = defaults();
  const check = (password: string, email = 'someone@example.com') =>
    checkPasswordPolicy(password, { email }, settings);

  it('ships at least the 100,000 most common passwords', () => {
    const list = commonPasswords(100_000);
    expect(list.size).toBe(100_000);
    for (const common of ['123456', 'password', 'qwerty', 'iloveyou', 'password1'])
      expect(list.has(common)).toBe(true);
  });

  it('names the rule that failed', () => {
    expect(check('short')).toMatchObject({
      ok: false,
      rule: 'too_short',
      message: 'must be at least 8 characters',
    });
    expect(check('x'.repeat(257))).toMatchObject({ ok: false, rule: 'too_long' });
    expect(check('Password1')).toMatchObject({ ok: false, rule: 'common' });
    expect(check('iloveyou')).toMatchObject({ ok: false, rule: 'common' });
    expect(check('hello-jonathan-2026', 'Jonathan@example.com')).toMatchObject({
      ok: false,
      rule: 'contains_email',
    });
  });

  it('accepts long passphrases without composition rules', () => {
    expect(check('all lower case words are fine here')).toEqual({ ok: true });
    expect(check('a'.repeat(7) + 'b'.repeat(121))).toEqual({ ok: true });
    expect([...('a'.repeat(7) + 'b'.repeat(121))].length).toBe(128);
  });

  it('counts code points, not UTF-16 units', () => {
    // Seven emoji are 14 UTF-16 units but 7 characters: too short.
    expect(check('🔒🔒🔒🔒🔒🔒🔒')).toMatchObject({ ok: false, rule: 'too_short' });
    expect(check('🔒🔒🔒🔒🔒🔒🔒🔒')).toEqual({ ok: true });
  });

  it('applies an optional strength floor', async () => {
    const strict = { ...settings, minStrengthScore: 3 };
    await preparePasswordPolicy(strict);
    expect(checkPasswordPolicy('abcdefgh1', { email: 'x@example.com' }, strict)).toMatchObject({
      ok: false,
      rule: 'too_weak',
    });
    expect(
      checkPasswordPolicy('crimson tadpole juggles seventeen oboes', { email: 'x@example.com' }, strict),
    ).toEqual({ ok: true });
  });

  it('turns a failure into a 400 with the field path and rule', () => {
    const policy = createPasswordPolicy(settings);
    expect(() => policy.assertAcceptable('password', { email: 'a@example.com' })).toThrow(
      expect.objectContaining({
        code: 'password_policy_violation',
        status: 400,
        errors: [{ path: 'body.password', message: expect.stringContaining('commonly used') }],
        extensions: { rule: 'common' },
      }),
    );
  });
});
