import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, type JsonWebKey, type KeyObject, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { consistencyProof, inclusionProof, leafHash, toHex, treeHash } from './merkle.js';

/** Tests tools/audit-verify-proof.mjs end to end: documents built with merkle.ts, checked by the standalone script. */

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = 'tools/audit-verify-proof.mjs';

interface Checkpoint {
  treeSize: number;
  rootHash: string;
  time: number;
  keyId: string;
  signature: string;
}

interface Signer {
  kid: string;
  privateKey: KeyObject;
  jwk: JsonWebKey & { kid: string };
}

function newSigner(kid: string): Signer {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid } };
}

function checkpointMessage(treeSize: number, rootHash: string, time: number): Buffer {
  return Buffer.from(`gatehouse-audit-checkpoint/v1\n${treeSize}\n${rootHash}\n${time}\n`, 'utf8');
}

function signCheckpoint(signer: Signer, leafHashes: Buffer[], treeSize: number, time: number): Checkpoint {
  const rootHash = toHex(treeHash(leafHashes, 0, treeSize));
  const signature = sign(null, checkpointMessage(treeSize, rootHash, time), signer.privateKey).toString(
    'base64url',
  );
  return { treeSize, rootHash, time, keyId: signer.kid, signature };
}

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-proof-'));
let fileCounter = 0;
function writeJson(value: unknown): string {
  const file = join(dir, `doc-${fileCounter++}.json`);
  writeFileSync(file, JSON.stringify(value, null, 2));
  return file;
}

/** Runs the script as an operator would (`node tools/audit-verify-proof.mjs ...`), keeping stdout, stderr and the exit status. */
function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function flipHex(hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  bytes[0]! ^= 0x01;
  return bytes.toString('hex');
}

const clone = <T>(value: T): T => structuredClone(value);

// A small log: 7 events, the first 5 of them covered by an older checkpoint signed with an older key.
const leafData = Array.from({ length: 7 }, (_, i) =>
  JSON.stringify({ seq: i, name: `user.signed_in.${i}`, actorId: `user-${i}`, note: 'héllo' }),
);
const leafHashes = leafData.map((data) => leafHash(data));
const oldKey = newSigner('audit-key-2025');
const currentKey = newSigner('audit-key-2026');
const stranger = newSigner('audit-key-2026'); // same kid, different key: a forger's key

const checkpoint5 = signCheckpoint(oldKey, leafHashes, 5, 1_767_225_600_000);
const checkpoint7 = signCheckpoint(currentKey, leafHashes, 7, 1_767_312_000_000);

const inclusionDoc = {
  kind: 'inclusion',
  leafIndex: 3,
  leafData: leafData[3]!,
  leafHash: toHex(leafHashes[3]!),
  checkpoint: checkpoint7,
  inclusionProof: inclusionProof(leafHashes, 3, 7).map(toHex),
  publicKey: currentKey.jwk,
};

const consistencyDoc = {
  kind: 'consistency',
  from: checkpoint5,
  to: checkpoint7,
  consistencyProof: consistencyProof(leafHashes, 5, 7).map(toHex),
  publicKeys: [oldKey.jwk, currentKey.jwk],
};

describe('tools/audit-verify-proof.mjs', () => {
  it('accepts a valid inclusion document with the embedded key, warning that it was not checked', () => {
    const result = run(writeJson(inclusionDoc));
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout.match(/^OK /gm)).toHaveLength(3);
    expect(result.stdout).not.toContain('FAILED');
    expect(result.stderr).toMatch(/WARNING.*not independently checked/);
  });

  it('accepts a valid inclusion document with a trusted key file, without the warning', () => {
    const keyFile = writeJson(currentKey.jwk);
    const result = run(writeJson(inclusionDoc), '--public-key', keyFile);
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stderr).not.toContain('WARNING');
  });

  it('accepts a valid consistency document, with embedded keys and with a trusted key list', () => {
    const file = writeJson(consistencyDoc);
    const embedded = run(file);
    expect(embedded.status, embedded.stdout + embedded.stderr).toBe(0);
    expect(embedded.stdout.match(/^OK /gm)).toHaveLength(3);
    const trusted = run(file, '--public-key', writeJson([oldKey.jwk, currentKey.jwk]));
    expect(trusted.status, trusted.stdout + trusted.stderr).toBe(0);
    const jwks = run(file, `--public-key=${writeJson({ keys: [oldKey.jwk, currentKey.jwk] })}`);
    expect(jwks.status, jwks.stdout + jwks.stderr).toBe(0);
  });

  it('rejects an inclusion document whose leaf data was changed', () => {
    const doc = clone(inclusionDoc);
    doc.leafData = doc.leafData.replace('user-3', 'user-9');
    const result = run(writeJson(doc));
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^FAILED leafHash/m);
  });

  it('rejects an inclusion document whose leaf data and leaf hash were both changed', () => {
    const doc = clone(inclusionDoc);
    doc.leafData = doc.leafData.replace('user-3', 'user-9');
    doc.leafHash = toHex(leafHash(doc.leafData));
    const result = run(writeJson(doc));
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^FAILED inclusion/m);
  });

  it('rejects an inclusion document with a flipped proof hash, a wrong index or a truncated proof', () => {
    for (const tamper of [
      (doc: typeof inclusionDoc) => {
        doc.inclusionProof[1] = flipHex(doc.inclusionProof[1]!);
      },
      (doc: typeof inclusionDoc) => {
        doc.leafIndex = 2;
      },
      (doc: typeof inclusionDoc) => {
        doc.inclusionProof.pop();
      },
      (doc: typeof inclusionDoc) => {
        doc.inclusionProof[0] = 'not hex';
      },
    ]) {
      const doc = clone(inclusionDoc);
      tamper(doc);
      const result = run(writeJson(doc));
      expect(result.status, result.stdout).toBe(1);
      expect(result.stdout).toMatch(/^FAILED inclusion/m);
    }
  });

  it('rejects a checkpoint carrying the signature of another message', () => {
    const doc = clone(inclusionDoc);
    // A genuine signature by the right key, but over a different tree size.
    doc.checkpoint.signature = sign(
      null,
      checkpointMessage(6, doc.checkpoint.rootHash, doc.checkpoint.time),
      currentKey.privateKey,
    ).toString('base64url');
    const result = run(writeJson(doc));
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^FAILED checkpoint .*signature/m);
    expect(result.stdout).toMatch(/^OK +inclusion/m);
  });

  it('rejects a checkpoint whose time was changed after signing', () => {
    const doc = clone(inclusionDoc);
    doc.checkpoint.time += 1;
    expect(run(writeJson(doc)).status).toBe(1);
  });

  it('rejects a document re-signed with a key that is not the trusted one', () => {
    // A forger rewrites the log and signs with their own key under the same kid, embedding that key.
    const forged = clone(inclusionDoc);
    forged.checkpoint = signCheckpoint(stranger, leafHashes, 7, checkpoint7.time);
    forged.publicKey = stranger.jwk;
    expect(run(writeJson(forged)).status).toBe(0); // self-consistent, hence the warning without --public-key
    const result = run(writeJson(forged), '--public-key', writeJson(currentKey.jwk));
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^FAILED checkpoint .*signature/m);
    // And a genuine document checked against the wrong trusted key fails too.
    expect(run(writeJson(inclusionDoc), '--public-key', writeJson(stranger.jwk)).status).toBe(1);
    // A trusted key with another kid is not used at all.
    const other = run(writeJson(inclusionDoc), '--public-key', writeJson(oldKey.jwk));
    expect(other.status).toBe(1);
    expect(other.stdout).toContain('no trusted public key with kid');
  });

  it('rejects a consistency document with a flipped proof hash or a tampered checkpoint', () => {
    const flipped = clone(consistencyDoc);
    flipped.consistencyProof[0] = flipHex(flipped.consistencyProof[0]!);
    const result = run(writeJson(flipped));
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^FAILED consistency/m);

    const resized = clone(consistencyDoc);
    resized.from.treeSize = 4;
    expect(run(writeJson(resized)).status).toBe(1);

    const otherMessage = clone(consistencyDoc);
    otherMessage.to.signature = sign(
      null,
      checkpointMessage(8, otherMessage.to.rootHash, otherMessage.to.time),
      currentKey.privateKey,
    ).toString('base64url');
    const signed = run(writeJson(otherMessage));
    expect(signed.status).toBe(1);
    expect(signed.stdout).toMatch(/^FAILED to checkpoint/m);
  });

  it('rejects validly signed checkpoints of a forked log', () => {
    // The operator rewrote event 1 after checkpoint5 was published, and signed a new checkpoint.
    const forkedHashes = leafHashes.slice();
    forkedHashes[1] = leafHash('{"seq":1,"name":"nothing.to.see"}');
    const doc = clone(consistencyDoc);
    doc.to = signCheckpoint(currentKey, forkedHashes, 7, checkpoint7.time);
    doc.consistencyProof = consistencyProof(forkedHashes, 5, 7).map(toHex);
    const result = run(writeJson(doc), '--public-key', writeJson([oldKey.jwk, currentKey.jwk]));
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^OK +from/m);
    expect(result.stdout).toMatch(/^OK +to/m);
    expect(result.stdout).toMatch(/^FAILED consistency/m);
  });

  it('rejects a consistency document when a trusted key is missing or wrong', () => {
    const file = writeJson(consistencyDoc);
    expect(run(file, '--public-key', writeJson(currentKey.jwk)).status).toBe(1); // old key not trusted
    expect(run(file, '--public-key', writeJson([oldKey.jwk, stranger.jwk])).status).toBe(1);
  });

  it('exits 2 on usage errors', () => {
    expect(run().status).toBe(2);
    expect(run(writeJson(inclusionDoc), 'extra').status).toBe(2);
    expect(run(writeJson(inclusionDoc), '--bogus').status).toBe(2);
    expect(run(writeJson(inclusionDoc), '--public-key').status).toBe(2);
    expect(run(join(dir, 'does-not-exist.json')).status).toBe(2);
    expect(run(writeJson({ ...inclusionDoc, kind: 'other' })).status).toBe(2);
    expect(run(writeJson(inclusionDoc), '--public-key', writeJson({ kty: 'RSA' })).status).toBe(2);
    const notJson = join(dir, 'not-json.json');
    writeFileSync(notJson, '{ nope');
    expect(run(notJson).status).toBe(2);
  });
});
