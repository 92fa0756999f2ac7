import { type Kysely, PostgresAdapter } from 'kysely';

// Migrations are frozen in time: they take `Kysely<any>` so later schema types cannot break them.
// biome-ignore lint/suspicious/noExplicitAny: see above.
export type MigrationDb = Kysely<any>;

export function isPostgres(db: MigrationDb): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** Epoch milliseconds, UTC: `bigint` is int8 on PostgreSQL and an integer on SQLite. */
export const TIMESTAMP = 'bigint' as const;
