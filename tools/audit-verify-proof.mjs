#!/usr/bin/env node
/**
 * audit-verify-proof: checks a Gatehouse audit-log proof document offline, without Gatehouse.
 *
 * Usage:
 *   node audit-verify-proof.mjs <proof.json> [--public-key <jwk.json>]
 *
 * Needs only Node.js 20 or later: this file imports nothing but node built-ins and can be copied anywhere.
 * It re-implements the RFC 6962 hashing and the RFC 9162 §2.1.3.2 / §2.1.4.2 proof verification of
 * src/platform/audit/merkle.ts on purpose, so that it does not depend on the server code it checks.
 *
 * Proof documents (as produced by the Gatehouse API):
 *
 *   Inclusion - an audit event is in the log:
 *     { "kind": "inclusion", "leafIndex": 42, "leafData": "<the event's leaf text>", "leafHash": "<hex>",
 *       "checkpoint": <Checkpoint>, "inclusionProof": ["<hex>", ...], "publicKey": <JWK> }
 *     Checks: leafHash = SHA-256(0x00 || UTF-8(leafData)); the inclusion proof leads from leafHash at
 *     leafIndex to checkpoint.rootHash at checkpoint.treeSize; the checkpoint signature is valid.
 *
 *   Consistency - a later log extends an earlier one (nothing was changed or removed, only appended):
 *     { "kind": "consistency", "from": <Checkpoint>, "to": <Checkpoint>,
 *       "consistencyProof": ["<hex>", ...], "publicKeys": [<JWK>, ...] }
 *     Checks: both checkpoint signatures; the consistency proof from from.treeSize to to.treeSize.
 *
 *   Checkpoint = { "treeSize": n, "rootHash": "<64 lower-case hex>", "time": <epoch ms>,
 *                  "keyId": "<kid>", "signature": "<base64url Ed25519 signature>" }
 *   The signature is over the UTF-8 text "gatehouse-audit-checkpoint/v1\n<treeSize>\n<rootHash>\n<time>\n".
 *   JWK = { "kty": "OKP", "crv": "Ed25519", "x": "<base64url>", "kid": "<kid>" }; a checkpoint is checked
 *   with the key whose kid equals its keyId.
 *
 * Trust: the keys embedded in a proof document come from the same place as the proof, so on their own they
 * only show that the document is self-consistent. Get the log's public key(s) out of band (for example from
 * the Gatehouse JWKS endpoint over a channel you trust, or from your records) and pass them with
 * --public-key: a file holding one JWK, a JSON array of JWKs, or a JWKS ({"keys": [...]}). Only those keys
 * are then trusted. Without --public-key the embedded keys are used and a warning says so.
 *
 * Output: one line per check, "OK" or "FAILED". Exit status: 0 if every check passed, 1 if any failed,
 * 2 on a usage error (bad arguments, unreadable or non-JSON file, unknown document kind, unusable key file).
 */
import { createHash, createPublicKey, timingSafeEqual, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';

const USAGE = 'usage: node audit-verify-proof.mjs <proof.json> [--public-key <jwk.json>]';
const CHECKPOINT_HEADER = 'gatehouse-audit-checkpoint/v1';
const HASH_SIZE = 32;
const HEX_HASH = /^[0-9a-f]{64}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

class UsageError extends Error {}

// ---------------------------------------------------------------------------------------------------------
// RFC 6962 hashing and RFC 9162 verification (a copy of src/platform/audit/merkle.ts; keep them in step).

function sha256(...parts) {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

const EMPTY_ROOT = sha256();

/** SHA-256(0x00 || data). */
function leafHash(data) {
  return sha256(Buffer.from([0x00]), typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
}

/** SHA-256(0x01 || left || right). */
function nodeHash(left, right) {
  return sha256(Buffer.from([0x01]), left, right);
}

function isSize(value) {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isHash(value) {
  return value instanceof Uint8Array && value.byteLength === HASH_SIZE;
}

function sameHash(a, b) {
  return isHash(a) && isHash(b) && timingSafeEqual(a, b);
}

// Bit operations done arithmetically: JavaScript's >> and & truncate to 32 bits.
const odd = (n) => n % 2 === 1;
const half = (n) => Math.floor(n / 2);

function isPowerOfTwo(n) {
  if (n < 1) return false;
  let rest = n;
  while (!odd(rest)) rest = half(rest);
  return rest === 1;
}

/** RFC 9162 §2.1.3.2: does `proof` lead from `leaf` at `index` to `root` in a tree of `treeSize` leaves? */
function verifyInclusion(leaf, index, treeSize, proof, root) {
  if (!isSize(index) || !isSize(treeSize) || index >= treeSize) return false;
  if (!isHash(leaf) || !isHash(root) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(r, root);
}

/**
 * RFC 9162 §2.1.4.2: is the tree (newSize, newRoot) an append-only extension of (oldSize, oldRoot)?
 * Outside 0 < oldSize < newSize: equal sizes need an empty proof and equal roots; oldSize 0 needs an empty
 * proof and the empty-tree root.
 */
function verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof) {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize > newSize) return false;
  if (!isHash(oldRoot) || !isHash(newRoot) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  if (oldSize === newSize) return proof.length === 0 && sameHash(oldRoot, newRoot);
  if (oldSize === 0) return proof.length === 0 && sameHash(oldRoot, EMPTY_ROOT);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof];
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0];
  let sr = path[0];
  for (let i = 1; i < path.length; i++) {
    const c = path[i];
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(fr, oldRoot) && sameHash(sr, newRoot);
}

// ---------------------------------------------------------------------------------------------------------
// Document parsing. Malformed fields are reported as failed checks (exit 1), not thrown.

/** Parses a list of hex hashes; returns undefined when anything is off. */
function parseHashes(value) {
  if (!Array.isArray(value) || !value.every((h) => typeof h === 'string' && HEX_HASH.test(h)))
    return undefined;
  return value.map((h) => Buffer.from(h, 'hex'));
}

/** Returns an error message, or undefined when the checkpoint is well formed. */
function checkpointProblem(checkpoint) {
  if (typeof checkpoint !== 'object' || checkpoint === null) return 'missing checkpoint';
  const { treeSize, rootHash, time, keyId, signature } = checkpoint;
  if (!isSize(treeSize)) return 'treeSize is not a non-negative integer';
  if (typeof rootHash !== 'string' || !HEX_HASH.test(rootHash))
    return 'rootHash is not 64 lower-case hex characters';
  if (typeof time !== 'number' || !Number.isSafeInteger(time)) return 'time is not an integer';
  if (typeof keyId !== 'string' || keyId === '') return 'keyId is missing';
  if (typeof signature !== 'string' || !BASE64URL.test(signature)) return 'signature is not base64url';
  return undefined;
}

function describeCheckpoint(checkpoint) {
  if (typeof checkpoint !== 'object' || checkpoint === null) return 'checkpoint';
  return `checkpoint (size ${checkpoint.treeSize}, key ${JSON.stringify(checkpoint.keyId)})`;
}

/** Verifies a checkpoint's Ed25519 signature with the trusted key whose kid is its keyId. */
function checkSignature(label, checkpoint, keys) {
  const problem = checkpointProblem(checkpoint);
  if (problem) return { ok: false, text: `${label}: ${problem}` };
  const jwk = keys.find((key) => key.kid === checkpoint.keyId);
  if (!jwk)
    return {
      ok: false,
      text: `${label}: no trusted public key with kid ${JSON.stringify(checkpoint.keyId)}`,
    };
  const message = Buffer.from(
    `${CHECKPOINT_HEADER}\n${checkpoint.treeSize}\n${checkpoint.rootHash}\n${checkpoint.time}\n`,
    'utf8',
  );
  let ok = false;
  try {
    const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: 'jwk' });
    ok = verify(null, message, key, Buffer.from(checkpoint.signature, 'base64url'));
  } catch {
    ok = false;
  }
  return { ok, text: `${label} signature (Ed25519, time ${formatTime(checkpoint.time)})` };
}

function formatTime(ms) {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

function isEd25519Jwk(value) {
  return (
    typeof value === 'object' &&
    value !== null &&
    value.kty === 'OKP' &&
    value.crv === 'Ed25519' &&
    typeof value.x === 'string' &&
    BASE64URL.test(value.x) &&
    Buffer.from(value.x, 'base64url').length === 32 &&
    typeof value.kid === 'string'
  );
}

/** Accepts one JWK, an array of JWKs, or a JWKS; keeps the Ed25519 ones. */
function keyList(value) {
  const list = Array.isArray(value) ? value : Array.isArray(value?.keys) ? value.keys : [value];
  return list.filter(isEd25519Jwk);
}

function verifyInclusionDocument(doc, keys) {
  const checks = [];
  const { leafIndex, leafData, checkpoint } = doc;
  const claimed = typeof doc.leafHash === 'string' && HEX_HASH.test(doc.leafHash) ? doc.leafHash : undefined;

  if (typeof leafData !== 'string') {
    checks.push({ ok: false, text: 'leafHash = SHA-256(0x00 || leafData): leafData is not a string' });
  } else if (claimed === undefined) {
    checks.push({
      ok: false,
      text: 'leafHash = SHA-256(0x00 || leafData): leafHash is not 64 lower-case hex characters',
    });
  } else {
    checks.push({
      ok: leafHash(leafData).toString('hex') === claimed,
      text: 'leafHash = SHA-256(0x00 || leafData)',
    });
  }

  const proof = parseHashes(doc.inclusionProof);
  const problem = checkpointProblem(checkpoint);
  const label = `inclusion of leaf ${leafIndex} in the tree of size ${checkpoint?.treeSize}`;
  if (problem) checks.push({ ok: false, text: `${label}: ${problem}` });
  else if (!proof)
    checks.push({ ok: false, text: `${label}: inclusionProof is not a list of 64-character hex hashes` });
  else if (claimed === undefined) checks.push({ ok: false, text: `${label}: no valid leafHash` });
  else {
    const ok = verifyInclusion(
      Buffer.from(claimed, 'hex'),
      leafIndex,
      checkpoint.treeSize,
      proof,
      Buffer.from(checkpoint.rootHash, 'hex'),
    );
    checks.push({ ok, text: `${label} (root ${checkpoint.rootHash})` });
  }

  checks.push(checkSignature(describeCheckpoint(checkpoint), checkpoint, keys));
  return checks;
}

function verifyConsistencyDocument(doc, keys) {
  const checks = [];
  const { from, to } = doc;
  checks.push(checkSignature(`from ${describeCheckpoint(from)}`, from, keys));
  checks.push(checkSignature(`to ${describeCheckpoint(to)}`, to, keys));
  const proof = parseHashes(doc.consistencyProof);
  const label = `consistency of the tree of size ${from?.treeSize} with the tree of size ${to?.treeSize}`;
  const problem = checkpointProblem(from) ?? checkpointProblem(to);
  if (problem) checks.push({ ok: false, text: `${label}: ${problem}` });
  else if (!proof)
    checks.push({ ok: false, text: `${label}: consistencyProof is not a list of 64-character hex hashes` });
  else {
    const ok = verifyConsistency(
      from.treeSize,
      to.treeSize,
      Buffer.from(from.rootHash, 'hex'),
      Buffer.from(to.rootHash, 'hex'),
      proof,
    );
    checks.push({ ok, text: label });
  }
  return checks;
}

// ---------------------------------------------------------------------------------------------------------
// Command line.

function parseArgs(argv) {
  let file;
  let keyFile;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--public-key') {
      keyFile = argv[++i];
      if (keyFile === undefined) throw new UsageError('--public-key needs a file');
    } else if (arg.startsWith('--public-key=')) {
      keyFile = arg.slice('--public-key='.length);
    } else if (arg === '-h' || arg === '--help') {
      return { help: true };
    } else if (arg.startsWith('-') && arg !== '-') {
      throw new UsageError(`unknown option ${arg}`);
    } else if (file === undefined) {
      file = arg;
    } else {
      throw new UsageError('expected exactly one proof file');
    }
  }
  if (file === undefined) throw new UsageError('missing proof file');
  return { file, keyFile };
}

function readJson(file, what) {
  let text;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${file}: ${error.message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${what} ${file} is not valid JSON`);
  }
}

function main(argv) {
  const args = parseArgs(argv);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const doc = readJson(args.file, 'proof file');
  if (typeof doc !== 'object' || doc === null || (doc.kind !== 'inclusion' && doc.kind !== 'consistency')) {
    throw new UsageError('not a Gatehouse proof document: "kind" must be "inclusion" or "consistency"');
  }

  let keys;
  if (args.keyFile !== undefined) {
    keys = keyList(readJson(args.keyFile, 'public key file'));
    if (keys.length === 0) throw new UsageError(`no Ed25519 public key (JWK with kid) in ${args.keyFile}`);
  } else {
    keys = keyList(doc.kind === 'inclusion' ? doc.publicKey : (doc.publicKeys ?? []));
    console.error(
      'WARNING: using the public key(s) embedded in the proof document; they were not independently checked. ' +
        'Pass --public-key with the log key obtained out of band to check who signed the checkpoint(s).',
    );
  }

  const checks =
    doc.kind === 'inclusion' ? verifyInclusionDocument(doc, keys) : verifyConsistencyDocument(doc, keys);
  for (const check of checks) console.log(`${check.ok ? 'OK    ' : 'FAILED'} ${check.text}`);
  const passed = checks.every((check) => check.ok);
  console.log(passed ? 'RESULT: all checks passed' : 'RESULT: verification FAILED');
  return passed ? 0 : 1;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`error: ${error.message}`);
    console.error(USAGE);
    process.exitCode = 2;
  } else {
    console.error(`FAILED unexpected error: ${error?.stack ?? error}`);
    process.exitCode = 1;
  }
}
