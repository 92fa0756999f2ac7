import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import type { Dialect } from '../../src/platform/db/connection.js';

export const TEST_POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];

export interface TestDatabase {
  readonly dialect: Dialect;
  /** A database.url for a database nobody else uses. */
  readonly url: string;
  drop(): Promise<void>;
}

/**
 * A fresh, empty database: a new SQLite file in a temporary directory, or a new schema in the test
 * PostgreSQL database (selected through the connection's search_path), so suites can run in parallel.
 */
export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
    return {
      dialect,
      url: `sqlite:${join(directory, 'gatehouse.db')}`,
      drop: async () => rmSync(directory, { recursive: true, force: true }),
    };
  }
  const schema = `gh_test_${Date.now()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  await admin.query(`create schema "${schema}"`);
  await admin.end();
  const url = new URL(TEST_POSTGRES_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    dialect,
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    },
  };
}

/**
 * Runs the same test bodies once per dialect, each with its own fresh database. `database()` is valid
 * inside tests and hooks.
 */
export function describeEachDialect(
  title: string,
  body: (database: () => TestDatabase, dialect: Dialect) => void,
): void {
  describe.each(DIALECTS)(`${title} [%s]`, (dialect) => {
    let current: TestDatabase | undefined;
    beforeAll(async () => {
      current = await createTestDatabase(dialect);
    });
    afterAll(async () => {
      await current?.drop();
    });
    body(() => {
      if (!current) throw new Error('the test database exists only inside tests and hooks');
      return current;
    }, dialect);
  });
}
