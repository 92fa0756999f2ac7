import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  appendLeaf,
  consistencyProof,
  decodeFrontier,
  EMPTY_ROOT,
  emptyFrontier,
  encodeFrontier,
  type Frontier,
  fromHex,
  frontierRoot,
  inclusionProof,
  leafHash,
  nodeHash,
  toHex,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

/*
 * Reference vectors, copied from the transparency-dev/merkle repository (Go, Apache-2.0), which carries
 * over the RFC 6962 test data of google/certificate-transparency:
 * - leaves, node hashes, roots and compact trees (frontiers):
 *   https://github.com/transparency-dev/merkle/blob/main/testonly/constants.go
 *   (LeafInputs, NodeHashes, RootHashes, CompactTrees, EmptyRootHash)
 * - inclusion proofs (0-based leaf indices) and consistency proofs:
 *   https://github.com/transparency-dev/merkle/blob/main/testonly/reference_test.go
 *   (TestRefInclusionProof, TestRefConsistencyProof)
 *   https://github.com/transparency-dev/merkle/blob/main/proof/verify_test.go
 *   (inclusionProofs with 1-based leaf numbers, consistencyProofs, roots, leaves, sha256SomeHash)
 */
const LEAF_INPUTS = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map((hex) => Buffer.from(hex, 'hex'));

/** NodeHashes(): [level][index]. */
const NODE_HASHES = [
  [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
    '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
    'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
    '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1',
  ],
  [
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
  ],
  [
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
  ],
  ['5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'],
];
const nh = (level: number, index: number): string => NODE_HASHES[level]![index]!;

/** RootHashes(), indexed by tree size 0..8. */
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const root = (size: number): Buffer => fromHex(ROOTS[size]!);

/** CompactTrees(), indexed by tree size 0..8: the frontier hashes. */
const COMPACT_TREES = [
  [],
  [nh(0, 0)],
  [nh(1, 0)],
  [nh(1, 0), nh(0, 2)],
  [nh(2, 0)],
  [nh(2, 0), nh(0, 4)],
  [nh(2, 0), nh(1, 2)],
  [nh(2, 0), nh(1, 2), nh(0, 6)],
  [nh(3, 0)],
];

/** Inclusion proofs: TestRefInclusionProof (0-based) plus verify_test.go's inclusionProofs (leaf - 1). */
const INCLUSION_VECTORS: { index: number; size: number; proof: string[] }[] = [
  { index: 0, size: 1, proof: [] },
  { index: 0, size: 2, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7'] },
  { index: 1, size: 2, proof: ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'] },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

/** Consistency proofs: TestRefConsistencyProof plus verify_test.go's consistencyProofs ({6, 7}). */
const CONSISTENCY_VECTORS: { oldSize: number; newSize: number; proof: string[] }[] = [
  { oldSize: 1, newSize: 1, proof: [] },
  {
    oldSize: 1,
    newSize: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    oldSize: 2,
    newSize: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    oldSize: 6,
    newSize: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    oldSize: 6,
    newSize: 7,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

/** From proof/verify_test.go. */
const SOME_HASH = fromHex('abacaba000000000000000000000000000000000000000000060061e00123456');

const LEAF_HASHES = LEAF_INPUTS.map((data) => leafHash(data));
const hexes = (hashes: readonly Buffer[]): string[] => hashes.map(toHex);

function flipBit(proof: readonly Buffer[], i: number, mask: number): Buffer[] {
  const copy = proof.map((h) => Buffer.from(h));
  copy[i]![0]! ^= mask;
  return copy;
}

/** Corrupted variants of a valid inclusion proof (after corruptInclusionProof in proof/verify_test.go). */
function inclusionProbes(index: number, size: number, proof: Buffer[], rootHash: Buffer, leaf: Buffer) {
  const probes: { desc: string; args: Parameters<typeof verifyInclusion> }[] = [
    { desc: 'index - 1', args: [leaf, index - 1, size, proof, rootHash] },
    { desc: 'index + 1', args: [leaf, index + 1, size, proof, rootHash] },
    { desc: 'index ^ 2', args: [leaf, index ^ 2, size, proof, rootHash] },
    { desc: 'size * 2', args: [leaf, index, size * 2, proof, rootHash] },
    { desc: 'size / 2', args: [leaf, index, Math.floor(size / 2), proof, rootHash] },
    { desc: 'wrong leaf', args: [leafHash('WrongLeaf'), index, size, proof, rootHash] },
    { desc: 'short leaf', args: [Buffer.from('WrongLeaf'), index, size, proof, rootHash] },
    { desc: 'empty root', args: [leaf, index, size, proof, EMPTY_ROOT] },
    { desc: 'random root', args: [leaf, index, size, proof, SOME_HASH] },
    { desc: 'trailing garbage', args: [leaf, index, size, [...proof, Buffer.alloc(0)], rootHash] },
    { desc: 'trailing root', args: [leaf, index, size, [...proof, rootHash], rootHash] },
    { desc: 'preceding garbage', args: [leaf, index, size, [Buffer.alloc(0), ...proof], rootHash] },
    { desc: 'preceding root', args: [leaf, index, size, [rootHash, ...proof], rootHash] },
  ];
  for (let i = 0; i < proof.length; i++) {
    probes.push({ desc: `proof[${i}] bit 3`, args: [leaf, index, size, flipBit(proof, i, 8), rootHash] });
  }
  if (proof.length > 0) {
    probes.push({ desc: 'truncated', args: [leaf, index, size, proof.slice(0, -1), rootHash] });
  }
  if (proof.length > 1) {
    const inserted = [proof[0]!, SOME_HASH, ...proof.slice(1)];
    probes.push({ desc: 'inserted component', args: [leaf, index, size, inserted, rootHash] });
  }
  return probes;
}

/** Corrupted variants of a valid, non-empty consistency proof (after corruptConsistencyProof). */
function consistencyProbes(
  oldSize: number,
  newSize: number,
  oldRoot: Buffer,
  newRoot: Buffer,
  proof: Buffer[],
) {
  const probes: { desc: string; args: Parameters<typeof verifyConsistency> }[] = [
    { desc: 'old size - 1', args: [oldSize - 1, newSize, oldRoot, newRoot, proof] },
    { desc: 'old size + 1', args: [oldSize + 1, newSize, oldRoot, newRoot, proof] },
    { desc: 'old size ^ 2', args: [oldSize ^ 2, newSize, oldRoot, newRoot, proof] },
    { desc: 'new size * 2', args: [oldSize, newSize * 2, oldRoot, newRoot, proof] },
    { desc: 'new size / 2', args: [oldSize, Math.floor(newSize / 2), oldRoot, newRoot, proof] },
    { desc: 'wrong old root', args: [oldSize, newSize, SOME_HASH, newRoot, proof] },
    { desc: 'wrong new root', args: [oldSize, newSize, oldRoot, SOME_HASH, proof] },
    { desc: 'short root', args: [oldSize, newSize, Buffer.from('WrongRoot'), newRoot, proof] },
    { desc: 'swapped roots', args: [oldSize, newSize, newRoot, oldRoot, proof] },
    { desc: 'empty proof', args: [oldSize, newSize, oldRoot, newRoot, []] },
    { desc: 'trailing garbage', args: [oldSize, newSize, oldRoot, newRoot, [...proof, Buffer.alloc(0)]] },
    { desc: 'trailing old root', args: [oldSize, newSize, oldRoot, newRoot, [...proof, oldRoot]] },
    { desc: 'trailing new root', args: [oldSize, newSize, oldRoot, newRoot, [...proof, newRoot]] },
    { desc: 'preceding garbage', args: [oldSize, newSize, oldRoot, newRoot, [Buffer.alloc(0), ...proof]] },
    { desc: 'preceding old root', args: [oldSize, newSize, oldRoot, newRoot, [oldRoot, ...proof]] },
    { desc: 'preceding new root', args: [oldSize, newSize, oldRoot, newRoot, [newRoot, ...proof]] },
    { desc: 'preceding proof[0]', args: [oldSize, newSize, oldRoot, newRoot, [proof[0]!, ...proof]] },
    { desc: 'truncated', args: [oldSize, newSize, oldRoot, newRoot, proof.slice(0, -1)] },
  ];
  for (let i = 0; i < proof.length; i++) {
    probes.push({
      desc: `proof[${i}] bit 4`,
      args: [oldSize, newSize, oldRoot, newRoot, flipBit(proof, i, 16)],
    });
  }
  return probes;
}

function accepted(
  probes: { desc: string; args: unknown[] }[],
  verify: (...args: never[]) => boolean,
): string[] {
  return probes.filter((p) => verify(...(p.args as never[]))).map((p) => p.desc);
}

describe('hashing', () => {
  it('hashes leaves and nodes with the RFC 6962 domain separation', () => {
    expect(toHex(EMPTY_ROOT)).toBe(ROOTS[0]);
    for (const [i, hash] of LEAF_HASHES.entries()) expect(toHex(hash)).toBe(nh(0, i));
    expect(toHex(nodeHash(LEAF_HASHES[0]!, LEAF_HASHES[1]!))).toBe(nh(1, 0));
    expect(toHex(nodeHash(fromHex(nh(2, 0)), fromHex(nh(2, 1))))).toBe(nh(3, 0));
    // Strings are hashed as UTF-8.
    expect(leafHash('héllo')).toEqual(leafHash(Buffer.from('héllo', 'utf8')));
    expect(leafHash('')).toEqual(LEAF_HASHES[0]);
  });

  it('computes the reference root for every size 0..8', () => {
    for (let size = 0; size <= 8; size++) {
      expect(toHex(treeHash(LEAF_HASHES.slice(0, size))), `size ${size}`).toBe(ROOTS[size]);
      expect(toHex(treeHash(LEAF_HASHES, 0, size)), `size ${size} of 8`).toBe(ROOTS[size]);
    }
    expect(toHex(treeHash(LEAF_HASHES, 4, 8))).toBe(nh(2, 1));
    expect(toHex(treeHash(LEAF_HASHES, 6, 6))).toBe(ROOTS[0]);
    expect(() => treeHash(LEAF_HASHES, 0, 9)).toThrow(RangeError);
    expect(() => treeHash(LEAF_HASHES, 5, 4)).toThrow(RangeError);
  });

  it('parses and prints hex hashes', () => {
    expect(toHex(fromHex(ROOTS[8]!))).toBe(ROOTS[8]);
    expect(toHex(fromHex(ROOTS[8]!.toUpperCase()))).toBe(ROOTS[8]);
    for (const bad of ['', 'abc', `${ROOTS[8]}00`, ROOTS[8]!.slice(2), `zz${ROOTS[8]!.slice(2)}`]) {
      expect(() => fromHex(bad), bad).toThrow(TypeError);
    }
  });
});

describe('frontier', () => {
  it('matches the reference compact trees and roots for sizes 0..8', () => {
    let frontier = emptyFrontier();
    for (let size = 0; size <= 8; size++) {
      expect(frontier.size).toBe(size);
      expect(hexes(frontier.hashes), `size ${size}`).toEqual(COMPACT_TREES[size]);
      expect(toHex(frontierRoot(frontier)), `size ${size}`).toBe(ROOTS[size]);
      if (size < 8) frontier = appendLeaf(frontier, LEAF_HASHES[size]!);
    }
  });

  it('does not mutate its input', () => {
    const before = appendLeaf(appendLeaf(emptyFrontier(), LEAF_HASHES[0]!), LEAF_HASHES[1]!);
    const snapshot = encodeFrontier(before);
    const after = appendLeaf(before, LEAF_HASHES[2]!);
    expect(encodeFrontier(before)).toBe(snapshot);
    expect(after).not.toBe(before);
    expect(after.size).toBe(3);
    expect(() => appendLeaf(before, Buffer.alloc(31))).toThrow(TypeError);
  });

  it('rejects malformed encodings', () => {
    const good = JSON.parse(encodeFrontier({ size: 3, hashes: [fromHex(nh(1, 0)), fromHex(nh(0, 2))] }));
    expect(decodeFrontier(JSON.stringify(good)).size).toBe(3);
    const bad = [
      'not json',
      'null',
      '[]',
      '{}',
      JSON.stringify({ ...good, size: -1 }),
      JSON.stringify({ ...good, size: 2.5 }),
      JSON.stringify({ ...good, size: '3' }),
      JSON.stringify({ ...good, size: 2 ** 53 }),
      JSON.stringify({ ...good, size: 4 }), // 4 needs exactly one hash
      JSON.stringify({ ...good, hashes: 'x' }),
      JSON.stringify({ ...good, hashes: [good.hashes[0], 'abc'] }),
      JSON.stringify({ ...good, hashes: [good.hashes[0], 42] }),
      JSON.stringify({ size: 0, hashes: [good.hashes[0]] }),
    ];
    for (const text of bad) expect(() => decodeFrontier(text), text).toThrow(TypeError);
  });
});

describe('reference proofs', () => {
  it.each(INCLUSION_VECTORS)('inclusion of leaf $index in a tree of size $size', ({ index, size, proof }) => {
    const generated = inclusionProof(LEAF_HASHES, index, size);
    expect(hexes(generated)).toEqual(proof);
    expect(verifyInclusion(LEAF_HASHES[index]!, index, size, generated, root(size))).toBe(true);
    expect(
      accepted(inclusionProbes(index, size, generated, root(size), LEAF_HASHES[index]!), verifyInclusion),
    ).toEqual([]);
  });

  it.each(CONSISTENCY_VECTORS)(
    'consistency of size $oldSize with size $newSize',
    ({ oldSize, newSize, proof }) => {
      const generated = consistencyProof(LEAF_HASHES, oldSize, newSize);
      expect(hexes(generated)).toEqual(proof);
      expect(verifyConsistency(oldSize, newSize, root(oldSize), root(newSize), generated)).toBe(true);
      if (proof.length > 0) {
        const probes = consistencyProbes(oldSize, newSize, root(oldSize), root(newSize), generated);
        expect(accepted(probes, verifyConsistency)).toEqual([]);
      }
    },
  );

  it('uses only the first treeSize leaves', () => {
    // verify_test.go's {2, 5} vector (leaf 2 = index 1), generated from all 8 leaves.
    expect(hexes(inclusionProof(LEAF_HASHES, 1, 5))).toEqual(INCLUSION_VECTORS[4]!.proof);
    expect(hexes(consistencyProof(LEAF_HASHES, 2, 5))).toEqual(CONSISTENCY_VECTORS[2]!.proof);
  });

  it('rejects bad sizes and indices when generating', () => {
    expect(() => inclusionProof(LEAF_HASHES, 0, 0)).toThrow(RangeError);
    expect(() => inclusionProof(LEAF_HASHES, 8, 8)).toThrow(RangeError);
    expect(() => inclusionProof(LEAF_HASHES, -1, 8)).toThrow(RangeError);
    expect(() => inclusionProof(LEAF_HASHES, 0, 9)).toThrow(RangeError);
    expect(() => inclusionProof(LEAF_HASHES, 0.5, 8)).toThrow(RangeError);
    expect(() => consistencyProof(LEAF_HASHES, 5, 4)).toThrow(RangeError);
    expect(() => consistencyProof(LEAF_HASHES, 1, 9)).toThrow(RangeError);
    expect(() => consistencyProof(LEAF_HASHES, -1, 4)).toThrow(RangeError);
    expect(consistencyProof(LEAF_HASHES, 0, 4)).toEqual([]);
    expect(consistencyProof(LEAF_HASHES, 4, 4)).toEqual([]);
  });

  it('handles the trivial and invalid verification cases without throwing', () => {
    const r = root(8);
    // Single-entry tree: the root is the leaf hash and the proof is empty.
    expect(verifyInclusion(LEAF_HASHES[0]!, 0, 1, [], root(1))).toBe(true);
    expect(verifyInclusion(LEAF_HASHES[0]!, 0, 1, [], Buffer.alloc(0))).toBe(false);
    expect(verifyInclusion(Buffer.alloc(0), 0, 1, [], root(1))).toBe(false);
    for (const [index, size] of [
      [0, 0],
      [1, 0],
      [2, 1],
      [-1, 8],
      [0.5, 8],
      [0, Number.NaN],
      [0, 2 ** 53],
    ] as const) {
      expect(verifyInclusion(SOME_HASH, index, size, [], EMPTY_ROOT), `${index}/${size}`).toBe(false);
    }
    expect(verifyInclusion(LEAF_HASHES[0]!, 0, 8, null as unknown as Buffer[], r)).toBe(false);
    expect(verifyInclusion(LEAF_HASHES[0]!, 0, 8, ['00' as unknown as Buffer], r)).toBe(false);

    expect(verifyConsistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])).toBe(true);
    expect(verifyConsistency(0, 8, EMPTY_ROOT, r, [])).toBe(true);
    expect(verifyConsistency(0, 8, SOME_HASH, r, [])).toBe(false);
    expect(verifyConsistency(0, 8, EMPTY_ROOT, r, [SOME_HASH])).toBe(false);
    expect(verifyConsistency(8, 8, r, r, [])).toBe(true);
    expect(verifyConsistency(8, 8, r, SOME_HASH, [])).toBe(false);
    expect(verifyConsistency(8, 8, r, r, [EMPTY_ROOT])).toBe(false);
    expect(verifyConsistency(1, 0, root(1), EMPTY_ROOT, [])).toBe(false);
    expect(verifyConsistency(2, 1, root(2), root(1), [])).toBe(false);
    expect(verifyConsistency(1, 2, root(1), root(2), [])).toBe(false);
    expect(verifyConsistency(-1, 2, root(1), root(2), [])).toBe(false);
    expect(verifyConsistency(1, 2, root(1), root(2), undefined as unknown as Buffer[])).toBe(false);
  });
});

/** Deterministic pseudo-random leaf data of varying length (0..63 bytes). */
function pseudoRandomLeaves(count: number): Buffer[] {
  const leaves: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const digest = createHash('sha512').update(`gatehouse-merkle-test-${i}`).digest();
    leaves.push(digest.subarray(1, 1 + (digest[0]! % 64)));
  }
  return leaves;
}

// Reference implementations written directly from the recursive definitions of RFC 6962 §2.1, to check
// the iterative generators against.
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function refMth(d: readonly Buffer[]): Buffer {
  if (d.length === 0) return EMPTY_ROOT;
  if (d.length === 1) return d[0]!;
  const k = largestPowerOfTwoBelow(d.length);
  return nodeHash(refMth(d.slice(0, k)), refMth(d.slice(k)));
}
function refPath(m: number, d: readonly Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = largestPowerOfTwoBelow(d.length);
  return m < k
    ? [...refPath(m, d.slice(0, k)), refMth(d.slice(k))]
    : [...refPath(m - k, d.slice(k)), refMth(d.slice(0, k))];
}
function refSubproof(m: number, d: readonly Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [refMth(d)];
  const k = largestPowerOfTwoBelow(d.length);
  return m <= k
    ? [...refSubproof(m, d.slice(0, k), b), refMth(d.slice(k))]
    : [...refSubproof(m - k, d.slice(k), false), refMth(d.slice(0, k))];
}

describe('properties over sizes 0..70', () => {
  const MAX = 70;
  const hashes = pseudoRandomLeaves(MAX).map((data) => leafHash(data));
  const roots: Buffer[] = [];
  for (let n = 0; n <= MAX; n++) roots.push(treeHash(hashes, 0, n));

  it('frontier root equals the tree hash after every append, and frontiers round-trip', () => {
    let frontier: Frontier = emptyFrontier();
    for (let n = 0; n <= MAX; n++) {
      expect(frontier.size).toBe(n);
      expect(frontierRoot(frontier).equals(roots[n]!), `size ${n}`).toBe(true);
      expect(roots[n]!.equals(refMth(hashes.slice(0, n))), `size ${n}`).toBe(true);
      const decoded = decodeFrontier(encodeFrontier(frontier));
      expect(decoded.size).toBe(n);
      expect(hexes(decoded.hashes)).toEqual(hexes(frontier.hashes));
      expect(frontierRoot(decoded).equals(roots[n]!)).toBe(true);
      if (n < MAX) frontier = appendLeaf(frontier, hashes[n]!);
    }
  });

  it('every inclusion proof matches the RFC definition and verifies, only for its own leaf', () => {
    for (let n = 1; n <= MAX; n++) {
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(hashes, i, n);
        expect(hexes(proof)).toEqual(hexes(refPath(i, hashes.slice(0, n))));
        expect(verifyInclusion(hashes[i]!, i, n, proof, roots[n]!), `${i} in ${n}`).toBe(true);
        if (n > 1) {
          const other = (i + 1) % n;
          expect(verifyInclusion(hashes[other]!, i, n, proof, roots[n]!), `${other} as ${i} in ${n}`).toBe(
            false,
          );
          expect(verifyInclusion(hashes[i]!, other, n, proof, roots[n]!), `${i} at ${other} in ${n}`).toBe(
            false,
          );
        }
      }
    }
  });

  it('every consistency proof matches the RFC definition and verifies, only for its own sizes', () => {
    for (let n = 0; n <= MAX; n++) {
      for (let m = 0; m <= n; m++) {
        const proof = consistencyProof(hashes, m, n);
        if (m > 0 && m < n) expect(hexes(proof)).toEqual(hexes(refSubproof(m, hashes.slice(0, n), true)));
        expect(verifyConsistency(m, n, roots[m]!, roots[n]!, proof), `${m} -> ${n}`).toBe(true);
        if (m > 0 && m < n) {
          expect(verifyConsistency(m, n, roots[m - 1]!, roots[n]!, proof), `${m} -> ${n} old root`).toBe(
            false,
          );
          expect(verifyConsistency(m, n, roots[m]!, roots[n - 1]!, proof), `${m} -> ${n} new root`).toBe(
            false,
          );
          expect(verifyConsistency(m, n, roots[m]!, roots[n]!, flipBit(proof, proof.length - 1, 1))).toBe(
            false,
          );
          expect(verifyConsistency(m, n, roots[m]!, roots[n]!, proof.slice(1))).toBe(false);
        }
      }
    }
  });
});
