import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCallback } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, createReadStream, createWriteStream, fstatSync, openSync, readSync } from 'node:fs';
import { pipeline } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip, createGzip } from 'node:zlib';
import { deriveKey } from '../../platform/crypto/tokens.js';
import { GatehouseError } from '../../platform/errors.js';
import { BackupErrors } from './errors.js';

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  length: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

const MAGIC = 'GATEHOUSE-BACKUP 1\n';
const TAG_LENGTH = 16;
/** scrypt at N=2^17, r=8: about 128 MiB and a few hundred milliseconds, once per backup. */
const SCRYPT = { N: 2 ** 17, r: 8, p: 1 };

/** Where the archive key comes from: the installation's keyring, or a passphrase (for another installation). */
export type BackupKeySource = { readonly masterKey: Buffer } | { readonly passphrase: string };

interface Header {
  readonly format: 1;
  readonly cipher: 'aes-256-gcm';
  readonly compression: 'gzip';
  readonly iv: string;
  readonly key:
    | { type: 'keyring' }
    | { type: 'passphrase'; kdf: 'scrypt'; salt: string; N: number; r: number; p: number };
}

async function keyFor(source: BackupKeySource, header: Header): Promise<Buffer> {
  if (header.key.type === 'keyring') {
    if (!('masterKey' in source)) {
      throw new GatehouseError(
        BackupErrors.backup_key_wrong,
        'this backup is keyed to an installation: open it there, without a passphrase',
      );
    }
    return deriveKey(source.masterKey, 'backup:v1');
  }
  if (!('passphrase' in source)) {
    throw new GatehouseError(
      BackupErrors.backup_key_wrong,
      'this backup is protected by a passphrase: give --passphrase-file or GATEHOUSE_BACKUP_PASSPHRASE',
    );
  }
  const { salt, N, r, p } = header.key;
  return scrypt(source.passphrase, Buffer.from(salt, 'base64'), 32, { N, r, p, maxmem: 256 * 1024 * 1024 });
}

/**
 * Writes an archive: a plain first line naming the format, a JSON header (cipher, IV, how the key is made),
 * then the gzip-compressed NDJSON body encrypted with AES-256-GCM (the header bound as additional data), then
 * the 16-byte tag. Any change to the header, body or tag makes the archive unreadable.
 */
export async function writeArchive(
  path: string,
  source: BackupKeySource,
  lines: AsyncIterable<string>,
): Promise<void> {
  const header: Header = {
    format: 1,
    cipher: 'aes-256-gcm',
    compression: 'gzip',
    iv: randomBytes(12).toString('base64'),
    key:
      'masterKey' in source
        ? { type: 'keyring' }
        : { type: 'passphrase', kdf: 'scrypt', salt: randomBytes(16).toString('base64'), ...SCRYPT },
  };
  const headerText = `${MAGIC}${JSON.stringify(header)}\n`;
  const key = await keyFor(source, header);
  const cipher = createCipheriv('aes-256-gcm', key, Buffer.from(header.iv, 'base64'));
  cipher.setAAD(Buffer.from(headerText, 'utf8'));
  const out = createWriteStream(path, { mode: 0o600, flags: 'wx' });
  const finished = once(out, 'finish');
  const failed = new Promise<never>((_resolve, reject) => out.once('error', reject));
  out.write(headerText);
  const gzip = createGzip();
  gzip.pipe(cipher).pipe(out, { end: false });
  for await (const line of lines) {
    if (!gzip.write(`${line}\n`)) await once(gzip, 'drain');
  }
  gzip.end();
  await Promise.race([once(cipher, 'end'), failed]);
  out.end(cipher.getAuthTag());
  await Promise.race([finished, failed]);
}

/** Reads an archive's lines, decrypted and decompressed; the tag is checked when the last line has been read. */
export async function* readArchive(path: string, source: BackupKeySource): AsyncGenerator<string> {
  const fd = openSync(path, 'r');
  let size: number;
  let headerText: string;
  let tag: Buffer;
  try {
    size = fstatSync(fd).size;
    const start = Buffer.alloc(Math.min(size, 4096));
    readSync(fd, start, 0, start.length, 0);
    const text = start.toString('utf8');
    const end = text.indexOf('\n', MAGIC.length);
    if (!text.startsWith(MAGIC) || end < 0) {
      throw new GatehouseError(
        BackupErrors.backup_invalid,
        'not a Gatehouse backup (the first line is wrong)',
      );
    }
    headerText = text.slice(0, end + 1);
    tag = Buffer.alloc(TAG_LENGTH);
    if (size < Buffer.byteLength(headerText) + TAG_LENGTH)
      throw new GatehouseError(BackupErrors.backup_invalid, 'the backup is cut short');
    readSync(fd, tag, 0, TAG_LENGTH, size - TAG_LENGTH);
  } finally {
    closeSync(fd);
  }
  let header: Header;
  try {
    header = JSON.parse(headerText.slice(MAGIC.length)) as Header;
  } catch {
    throw new GatehouseError(BackupErrors.backup_invalid, 'the backup header is not readable');
  }
  if (header.format !== 1 || header.cipher !== 'aes-256-gcm') {
    throw new GatehouseError(
      BackupErrors.backup_invalid,
      `backup format ${String(header.format)} is not one this Gatehouse reads`,
    );
  }
  const decipher = createDecipheriv(
    'aes-256-gcm',
    await keyFor(source, header),
    Buffer.from(header.iv, 'base64'),
  );
  decipher.setAAD(Buffer.from(headerText, 'utf8'));
  decipher.setAuthTag(tag);
  const body = createReadStream(path, { start: Buffer.byteLength(headerText), end: size - TAG_LENGTH - 1 });
  // pipeline destroys every stage when one fails (a wrong tag fails the decipher at the very end), so the
  // loop below throws instead of waiting for more.
  const output = pipeline(body, decipher, createGunzip(), () => {});
  let pending = '';
  try {
    for await (const chunk of output as AsyncIterable<Buffer>) {
      pending += chunk.toString('utf8');
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line) yield line;
        newline = pending.indexOf('\n');
      }
    }
  } catch (error) {
    throw new GatehouseError(
      BackupErrors.backup_invalid,
      'the backup does not decrypt: it was changed, cut short, or the key or passphrase is wrong',
      { cause: error },
    );
  }
  if (pending) yield pending;
}
