import { describe, expect, it } from 'vitest';
import { createGroupCommit } from './group-commit.js';

describe('group commit', () => {
  it('writes what arrives in one turn as one batch, and each caller waits for its batch', async () => {
    const batches: number[][] = [];
    const commits = createGroupCommit<number>(
      async (items) => {
        batches.push([...items]);
      },
      { maxBatch: 3 },
    );
    const first = [1, 2, 3, 4, 5].map((item) => commits.add(item));
    expect(commits.pending()).toEqual([1, 2, 3, 4, 5]);
    expect(batches).toEqual([]);
    await Promise.all(first);
    // maxBatch splits a large turn; order is kept.
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    await commits.add(6);
    expect(batches.at(-1)).toEqual([6]);
    expect(commits.pending()).toEqual([]);
  });

  it('rejects every caller of a failed batch, and only them', async () => {
    let fail = true;
    const commits = createGroupCommit<string>(
      async (items) => {
        if (fail && items.includes('bad')) throw new Error('constraint violated');
      },
      { maxBatch: 2 },
    );
    const results = await Promise.allSettled(['ok-1', 'bad', 'ok-2'].map((item) => commits.add(item)));
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    fail = false;
    await expect(commits.add('later')).resolves.toBeUndefined();
  });
});
