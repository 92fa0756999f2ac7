/**
 * Merkle tree hashing and proofs for the tamper-evident audit log, following RFC 6962 §2.1 (tree hash,
 * audit paths, consistency proofs) and RFC 9162 §2.1.3.2 / §2.1.4.2 (proof verification).
 *
 * - Leaves are hashed as SHA-256(0x00 || data), interior nodes as SHA-256(0x01 || left || right), so a
 *   leaf can never be passed off as a node (second-preimage protection).
 * - The tree over n leaves splits at k, the largest power of two smaller than n; the empty tree's hash is
 *   SHA-256 of the empty string.
 * - A {@link Frontier} (the "compact range" of the whole tree) holds one hash per set bit of the tree size,
 *   which is all that is needed to append a leaf and compute the new root without re-reading the log.
 *
 * Everything here is pure and synchronous; the only dependency is node:crypto. Sizes and indices are plain
 * numbers and must be safe integers (bit operations are done arithmetically, so sizes above 2^32 work).
 * `tools/audit-verify-proof.mjs` carries a standalone copy of the hashing and verification code for
 * operators: keep the two in step.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Length in bytes of every hash in the tree (SHA-256). */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** Root hash of the empty tree: SHA-256 of the empty input (RFC 6962 §2.1). */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

/** Leaf hash: SHA-256(0x00 || data). A string is hashed as its UTF-8 bytes. */
export function leafHash(data: Uint8Array | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return createHash('sha256').update(LEAF_PREFIX).update(bytes).digest();
}

/** Interior node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/** Lower-case hex of a hash. */
export function toHex(hash: Uint8Array): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('hex');
}

const HEX_HASH = /^[0-9a-f]{64}$/i;

/** Parses a 32-byte hash written as exactly 64 hex characters; throws a TypeError on anything else. */
export function fromHex(text: string): Buffer {
  if (typeof text !== 'string' || !HEX_HASH.test(text)) {
    throw new TypeError('expected a SHA-256 hash as 64 hex characters');
  }
  return Buffer.from(text, 'hex');
}

/** Whether `value` is a 32-byte hash. */
function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.byteLength === HASH_SIZE;
}

/** Constant-time equality of two 32-byte hashes; false when either is not a 32-byte hash. */
function sameHash(a: unknown, b: unknown): boolean {
  return isHash(a) && isHash(b) && timingSafeEqual(a, b);
}

function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Largest power of two strictly smaller than n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Whether the lowest bit of a non-negative safe integer is set. */
function odd(n: number): boolean {
  return n % 2 === 1;
}

/** n >> 1 for non-negative safe integers (the `>>` operator truncates to 32 bits). */
function half(n: number): number {
  return Math.floor(n / 2);
}

function checkRange(leafHashes: readonly Buffer[], start: number, end: number): void {
  if (!isSize(start) || !isSize(end) || start > end || end > leafHashes.length) {
    throw new RangeError(`invalid leaf range [${start}, ${end}) of ${leafHashes.length} leaves`);
  }
}

function mth(leafHashes: readonly Buffer[], start: number, end: number): Buffer {
  const n = end - start;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leafHashes[start]!;
  const k = splitPoint(n);
  return nodeHash(mth(leafHashes, start, start + k), mth(leafHashes, start + k, end));
}

/**
 * Merkle Tree Hash (RFC 6962 §2.1) of the leaves `leafHashes[start, end)`, given as leaf hashes. Each
 * interior node is hashed exactly once (O(n)); the recursion is only O(log n) deep.
 */
export function treeHash(leafHashes: readonly Buffer[], start = 0, end: number = leafHashes.length): Buffer {
  checkRange(leafHashes, start, end);
  return mth(leafHashes, start, end);
}

/**
 * The roots of the perfect subtrees making up a tree of `size` leaves, left to right and largest first:
 * one per set bit of `size` (e.g. size 6 = 4 + 2 has two). Enough to append and to compute the root.
 */
export interface Frontier {
  size: number;
  hashes: Buffer[];
}

function popCount(n: number): number {
  let count = 0;
  for (let rest = n; rest > 0; rest = half(rest)) if (odd(rest)) count++;
  return count;
}

/** The frontier of the empty tree. */
export function emptyFrontier(): Frontier {
  return { size: 0, hashes: [] };
}

/** The frontier after appending one leaf (given as its leaf hash). Returns a new object; the input is untouched. */
export function appendLeaf(frontier: Frontier, leaf: Buffer): Frontier {
  if (!isSize(frontier.size) || frontier.size >= Number.MAX_SAFE_INTEGER) {
    throw new RangeError('frontier size out of range');
  }
  if (!isHash(leaf)) throw new TypeError('leaf hash must be 32 bytes');
  const hashes = frontier.hashes.slice();
  let hash: Buffer = leaf;
  // Every trailing 1 bit of the old size is a perfect subtree of the same height as `hash`: merge it.
  for (let size = frontier.size; odd(size); size = half(size)) {
    const left = hashes.pop();
    if (left === undefined) throw new RangeError('frontier has fewer hashes than its size implies');
    hash = nodeHash(left, hash);
  }
  hashes.push(hash);
  return { size: frontier.size + 1, hashes };
}

/** Root hash of the tree a frontier describes (EMPTY_ROOT for size 0). */
export function frontierRoot(frontier: Frontier): Buffer {
  const { hashes } = frontier;
  if (hashes.length === 0) return EMPTY_ROOT;
  let root = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) root = nodeHash(hashes[i]!, root);
  return root;
}

/** Compact text form of a frontier: JSON `{"size":n,"hashes":["<hex>",...]}`. */
export function encodeFrontier(frontier: Frontier): string {
  return JSON.stringify({ size: frontier.size, hashes: frontier.hashes.map(toHex) });
}

/** Parses {@link encodeFrontier} output; throws a TypeError on malformed input (including a hash count that does not match the size). */
export function decodeFrontier(text: string): Frontier {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TypeError('malformed frontier: not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TypeError('malformed frontier: not an object');
  }
  const { size, hashes } = parsed as { size?: unknown; hashes?: unknown };
  if (!isSize(size)) throw new TypeError('malformed frontier: size must be a non-negative safe integer');
  if (!Array.isArray(hashes) || hashes.some((h) => typeof h !== 'string' || !HEX_HASH.test(h))) {
    throw new TypeError('malformed frontier: hashes must be an array of 64-character hex strings');
  }
  if (hashes.length !== popCount(size)) {
    throw new TypeError(
      `malformed frontier: size ${size} needs ${popCount(size)} hashes, got ${hashes.length}`,
    );
  }
  return { size, hashes: (hashes as string[]).map(fromHex) };
}

function checkTreeSize(leafHashes: readonly Buffer[], treeSize: number): void {
  if (!isSize(treeSize) || treeSize > leafHashes.length) {
    throw new RangeError(`invalid tree size ${treeSize} (${leafHashes.length} leaves available)`);
  }
}

/**
 * Audit path (RFC 6962 §2.1.1 PATH) for leaf `index` in the tree of the first `treeSize` leaves, ordered
 * from the leaf's sibling up to the root's child. Throws a RangeError unless 0 <= index < treeSize <= leafHashes.length.
 */
export function inclusionProof(leafHashes: readonly Buffer[], index: number, treeSize: number): Buffer[] {
  checkTreeSize(leafHashes, treeSize);
  if (!isSize(index) || index >= treeSize) {
    throw new RangeError(`leaf index ${index} is not in a tree of size ${treeSize}`);
  }
  const path: Buffer[] = [];
  // Walk down from the root, collecting the sibling subtree at each level, then reverse (PATH is leaf-first).
  let start = 0;
  let end = treeSize;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index < start + k) {
      path.push(mth(leafHashes, start + k, end));
      end = start + k;
    } else {
      path.push(mth(leafHashes, start, start + k));
      start += k;
    }
  }
  return path.reverse();
}

/**
 * Consistency proof (RFC 6962 §2.1.2 PROOF/SUBPROOF) that the tree of the first `oldSize` leaves is a prefix
 * of the tree of the first `newSize`. Empty when oldSize is 0 or equals newSize. Throws a RangeError unless
 * 0 <= oldSize <= newSize <= leafHashes.length.
 */
export function consistencyProof(leafHashes: readonly Buffer[], oldSize: number, newSize: number): Buffer[] {
  checkTreeSize(leafHashes, newSize);
  if (!isSize(oldSize) || oldSize > newSize) {
    throw new RangeError(`old size ${oldSize} must be between 0 and the new size ${newSize}`);
  }
  if (oldSize === 0 || oldSize === newSize) return [];
  // SUBPROOF(m, D[start:end], b), unrolled; siblings are collected root-first and reversed at the end.
  const proof: Buffer[] = [];
  let m = oldSize;
  let start = 0;
  let end = newSize;
  let complete = true; // b: whether the subtree being descended is the whole old tree so far
  while (m !== end - start) {
    const k = splitPoint(end - start);
    if (m <= k) {
      proof.push(mth(leafHashes, start + k, end));
      end = start + k;
    } else {
      proof.push(mth(leafHashes, start, start + k));
      start += k;
      m -= k;
      complete = false;
    }
  }
  if (!complete) proof.push(mth(leafHashes, start, end));
  return proof.reverse();
}

/**
 * Verifies an inclusion proof with the RFC 9162 §2.1.3.2 algorithm: recomputes the root from the leaf hash
 * and the audit path, and compares. Returns false (never throws) on any bad input.
 */
export function verifyInclusion(
  leaf: Buffer,
  index: number,
  treeSize: number,
  proof: readonly Buffer[],
  root: Buffer,
): boolean {
  if (!isSize(index) || !isSize(treeSize) || index >= treeSize) return false;
  if (!isHash(leaf) || !isHash(root) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  let fn = index;
  let sn = treeSize - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(r, root);
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  let rest = n;
  while (!odd(rest)) rest = half(rest);
  return rest === 1;
}

/**
 * Verifies a consistency proof with the RFC 9162 §2.1.4.2 algorithm. Returns false (never throws) on any bad
 * input. Edge cases (outside the RFC's 0 < oldSize < newSize): equal sizes need an empty proof and equal
 * roots; oldSize 0 needs an empty proof and oldRoot equal to {@link EMPTY_ROOT}.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Buffer,
  newRoot: Buffer,
  proof: readonly Buffer[],
): boolean {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize > newSize) return false;
  if (!isHash(oldRoot) || !isHash(newRoot) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  if (oldSize === newSize) return proof.length === 0 && sameHash(oldRoot, newRoot);
  if (oldSize === 0) return proof.length === 0 && sameHash(oldRoot, EMPTY_ROOT);
  // 1. An empty path cannot prove anything here.
  if (proof.length === 0) return false;
  // 2. If the old size is a power of two, the old root is itself a node of the new tree: prepend it.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof];
  // 3-4.
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // 5.
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  // 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // 7.
  return sn === 0 && sameHash(fr, oldRoot) && sameHash(sr, newRoot);
}
