import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { type Algorithm, hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';
import { Counter, Histogram, type Registry } from 'prom-client';
import { BoundedConcurrency } from './limiter.js';
import type { PasswordSettings } from './settings.js';

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  length: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

export interface VerifyResult {
  readonly valid: boolean;
  /** The hash is valid but not argon2id with the configured parameters: store a new one. */
  readonly needsRehash: boolean;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(storedHash: string, password: string): Promise<VerifyResult>;
  /** Costs what verifying a real argon2id hash costs; used for accounts that do not exist. */
  dummyVerify(password: string): Promise<void>;
  readonly limiter: BoundedConcurrency;
}

const ARGON2ID = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;
const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
/**
 * Imported scrypt hashes: `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<base64 salt>$<base64 key>` (PHC style; the
 * base64 may omit padding). Convert other systems' scrypt exports to this form before importing.
 */
const SCRYPT =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

export interface Argon2Parameters {
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
}

export function argon2Parameters(storedHash: string): Argon2Parameters | undefined {
  const match = ARGON2ID.exec(storedHash);
  if (!match) return undefined;
  return { memoryKiB: Number(match[1]), iterations: Number(match[2]), parallelism: Number(match[3]) };
}

async function verifyScrypt(storedHash: string, password: string): Promise<boolean> {
  const match = SCRYPT.exec(storedHash);
  if (!match) return false;
  const [, ln, r, p, salt, key] = match;
  const expected = Buffer.from(key!, 'base64');
  const cost = 2 ** Number(ln);
  if (expected.length < 16 || cost > 2 ** 20) return false;
  const derived = await scrypt(password, Buffer.from(salt!, 'base64'), expected.length, {
    N: cost,
    r: Number(r),
    p: Number(p),
    maxmem: 256 * cost * Number(r) + 1024 * 1024,
  });
  return timingSafeEqual(derived, expected);
}

export interface HasherOptions {
  readonly registry?: Registry;
  /** Replaces the argon2 computation, so tests can hold a hash in flight; production never sets it. */
  readonly argon2?: { hash: typeof argon2Hash; verify: typeof argon2Verify };
}

/**
 * argon2id (RFC 9106) via @node-rs/argon2, which hashes on libuv's thread pool and so never blocks the
 * event loop. Imported bcrypt and scrypt hashes verify too and are flagged for upgrade.
 */
export function createPasswordHasher(
  settings: PasswordSettings,
  options: HasherOptions = {},
): PasswordHasher {
  const argon2 = options.argon2 ?? { hash: argon2Hash, verify: argon2Verify };
  const params = settings.argon2;
  const argon2Options = {
    // Algorithm is a const enum the compiler cannot inline across packages here; 2 is its Argon2id.
    algorithm: 2 as Algorithm,
    memoryCost: params.memoryKiB,
    timeCost: params.iterations,
    parallelism: params.parallelism,
  };
  const limiter = new BoundedConcurrency(
    settings.hashing.maxConcurrent,
    settings.hashing.maxQueued,
    settings.hashing.retryAfterSeconds,
  );
  const registers = options.registry ? [options.registry] : [];
  const duration = new Histogram({
    name: 'gatehouse_password_hash_seconds',
    help: 'Time to hash or verify a password, by operation.',
    labelNames: ['operation'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  new Counter({
    name: 'gatehouse_password_hash_rejected_total',
    help: 'Hash operations refused because too many were running or waiting (answered 503).',
    registers,
    collect() {
      this.reset();
      this.inc(limiter.rejected);
    },
  });
  const timed = <T>(operation: string, job: () => Promise<T>) =>
    limiter.run(async () => {
      const stop = duration.startTimer({ operation });
      try {
        return await job();
      } finally {
        stop();
      }
    });

  let dummyHash: Promise<string> | undefined;
  const upToDate = (storedHash: string) => {
    const stored = argon2Parameters(storedHash);
    return (
      stored !== undefined &&
      stored.memoryKiB === params.memoryKiB &&
      stored.iterations === params.iterations &&
      stored.parallelism === params.parallelism
    );
  };

  return {
    limiter,
    hash: (password) => timed('hash', () => argon2.hash(password, argon2Options)),

    async verify(storedHash, password) {
      if (ARGON2ID.test(storedHash)) {
        const valid = await timed('verify', () => argon2.verify(storedHash, password).catch(() => false));
        return { valid, needsRehash: valid && !upToDate(storedHash) };
      }
      if (BCRYPT.test(storedHash)) {
        // $2y$ (PHP) is the same algorithm as $2b$.
        const normalized = storedHash.replace(/^\$2y\$/, '$2b$');
        const valid = await timed('verify-bcrypt', () =>
          bcrypt.compare(password, normalized).catch(() => false),
        );
        return { valid, needsRehash: valid };
      }
      if (SCRYPT.test(storedHash)) {
        const valid = await timed('verify-scrypt', () =>
          verifyScrypt(storedHash, password).catch(() => false),
        );
        return { valid, needsRehash: valid };
      }
      return { valid: false, needsRehash: false };
    },

    async dummyVerify(password) {
      dummyHash ??= argon2.hash(randomBytes(16).toString('base64'), argon2Options);
      const stored = await dummyHash;
      await timed('verify', () => argon2.verify(stored, password).catch(() => false));
    },
  };
}
