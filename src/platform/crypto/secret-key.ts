import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GatehouseError } from '../errors.js';

export const SECRET_KEY_BYTES = 32;

/** Accepts 64 hex characters or base64/base64url that decodes to exactly 32 bytes. */
export function decodeSecretKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(trimmed)) {
    const decoded = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (decoded.length === SECRET_KEY_BYTES) return decoded;
  }
  return undefined;
}

export interface SecretKeySettings {
  readonly env: 'development' | 'test' | 'production';
  readonly dataDir: string;
  readonly secrets: { readonly key?: string | undefined; readonly keyFile?: string | undefined };
}

export interface LoadedSecretKey {
  readonly key: Buffer;
  /** Where it came from: `config`, a file path, or `generated:<path>`. */
  readonly source: string;
}

export interface SecretKeyWarnings {
  warn(fields: Record<string, unknown>, message: string): void;
}

export function generatedKeyPath(dataDir: string): string {
  return join(dataDir, 'secret.key');
}

/**
 * Loads the master key. Outside production, when none is configured, one is generated into the data
 * directory (mode 0600) so a first `npm start` works; production refuses to start without one.
 */
export function loadSecretKey(settings: SecretKeySettings, log: SecretKeyWarnings): LoadedSecretKey {
  if (settings.secrets.key) {
    const key = decodeSecretKey(settings.secrets.key);
    if (!key) throw new GatehouseError('secret_key_invalid', 'secrets.key is not a 32-byte key');
    return { key, source: 'config' };
  }
  const file =
    settings.secrets.keyFile ??
    (settings.env === 'production' ? undefined : generatedKeyPath(settings.dataDir));
  if (!file) throw new GatehouseError('secret_key_invalid', 'a secret key is required in production');

  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || settings.secrets.keyFile) {
      throw new GatehouseError('secret_key_invalid', `cannot read the secret key file ${file}`, {
        cause: error,
      });
    }
  }
  if (text !== undefined) {
    const key = decodeSecretKey(text);
    if (!key) throw new GatehouseError('secret_key_invalid', `${file} does not hold a 32-byte key`);
    if ((statSync(file).mode & 0o077) !== 0) {
      log.warn({ file }, 'the secret key file is readable by other users; chmod 600 it');
    }
    return { key, source: file };
  }

  const key = randomBytes(SECRET_KEY_BYTES);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  log.warn(
    { file },
    'no secret key configured: generated one for development. Set GATEHOUSE_SECRET_KEY (openssl rand -hex 32) before production, and back it up: data encrypted with it cannot be read without it',
  );
  return { key, source: `generated:${file}` };
}
