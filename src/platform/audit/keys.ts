import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import type { SealingKey } from '../crypto/sealed.js';
import { deriveKey } from '../crypto/tokens.js';

// DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows it (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface AuditPublicJwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
  readonly kid: string;
}

/** One key of the audit keyring: an Ed25519 pair for checkpoints and an HMAC key for per-event tags. */
export interface AuditKey {
  /** The id of the keyring key it comes from (`k0` on a default install). */
  readonly id: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: AuditPublicJwk;
  /** SHA-256 of the raw public key, hex: what operators compare out of band. */
  readonly fingerprint: string;
  readonly tagKey: Buffer;
}

export interface AuditKeyring {
  /** New checkpoints and tags use this key. */
  readonly active: AuditKey;
  get(id: string): AuditKey | undefined;
  readonly all: readonly AuditKey[];
}

/**
 * The audit keys follow the encryption keyring (`secrets.encryptionKeys`, or the key derived from the master
 * key): each keyring key yields its own Ed25519 signing key and tag key by HKDF, so rotating the keyring
 * rotates them too, and events and checkpoints made with an older key still verify while that key is kept.
 */
export function auditKeysFrom(sealingKeys: readonly SealingKey[]): AuditKeyring {
  const all = sealingKeys.map(({ id, key }) => {
    const seed = deriveKey(key, 'audit:checkpoint-signing');
    const privateKey = createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
      format: 'der',
      type: 'pkcs8',
    });
    const publicKey = createPublicKey(privateKey);
    const x = (publicKey.export({ format: 'jwk' }) as { x: string }).x;
    return {
      id,
      privateKey,
      publicKey,
      publicJwk: { kty: 'OKP', crv: 'Ed25519', x, kid: id } as const,
      fingerprint: createHash('sha256').update(Buffer.from(x, 'base64url')).digest('hex'),
      tagKey: deriveKey(key, 'audit:event-tag'),
    };
  });
  const active = all[0];
  if (!active) throw new Error('the audit keyring needs at least one key');
  const byId = new Map(all.map((key) => [key.id, key]));
  return { active, all, get: (id) => byId.get(id) };
}

/** The integrity tag of the event at `seq` with `leafHash`: `<key id>.<base64url HMAC-SHA256, 128 bits>`. */
export function eventTag(key: AuditKey, seq: number, leafHash: string): string {
  const mac = createHmac('sha256', key.tagKey).update(`${seq}.${leafHash}`).digest().subarray(0, 16);
  return `${key.id}.${mac.toString('base64url')}`;
}

export type TagCheck = 'valid' | 'invalid' | 'unknown_key';

export function checkEventTag(keys: AuditKeyring, seq: number, leafHash: string, tag: string): TagCheck {
  const separator = tag.lastIndexOf('.');
  const key = separator > 0 ? keys.get(tag.slice(0, separator)) : undefined;
  if (!key) return 'unknown_key';
  // Both are derived from public inputs plus the secret key; comparing encodings of equal length is enough.
  return eventTag(key, seq, leafHash) === tag ? 'valid' : 'invalid';
}

/** What a checkpoint signs (the standalone verifier in tools/ builds the same string). */
export function checkpointMessage(treeSize: number, rootHash: string, time: number): string {
  return `gatehouse-audit-checkpoint/v1\n${treeSize}\n${rootHash}\n${time}\n`;
}

export function signCheckpoint(key: AuditKey, treeSize: number, rootHash: string, time: number): string {
  return sign(null, Buffer.from(checkpointMessage(treeSize, rootHash, time)), key.privateKey).toString(
    'base64url',
  );
}

export function checkpointSignatureValid(
  key: AuditKey,
  checkpoint: { treeSize: number; rootHash: string; time: number; signature: string },
): boolean {
  return verify(
    null,
    Buffer.from(checkpointMessage(checkpoint.treeSize, checkpoint.rootHash, checkpoint.time)),
    key.publicKey,
    Buffer.from(checkpoint.signature, 'base64url'),
  );
}
