import { type Kysely, type MigrationResultSet, Migrator, PostgresAdapter, sql } from 'kysely';
import { migrations as allMigrations } from '../../../migrations/index.js';
import { GatehouseError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Tables } from './tables.js';

export const MIGRATION_TABLE = 'gatehouse_migrations';
export const MIGRATION_LOCK_TABLE = 'gatehouse_migrations_lock';

export interface MigrationStatus {
  readonly applied: readonly string[];
  readonly pending: readonly string[];
  /** Applied by a newer Gatehouse: this code does not know them. */
  readonly unknown: readonly string[];
}

type Migrations = Readonly<Record<string, import('kysely').Migration>>;

/**
 * On PostgreSQL, the schema Gatehouse's tables live in (the first on the search_path). Without naming it,
 * a migration table in any other schema of the same database would be taken for ours.
 */
async function currentSchema(db: Kysely<Tables>): Promise<string | undefined> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return undefined;
  const result = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return result.rows[0]?.schema;
}

async function migrator(db: Kysely<Tables>, migrations: Migrations): Promise<Migrator> {
  const schema = await currentSchema(db);
  return new Migrator({
    db,
    provider: { getMigrations: async () => ({ ...migrations }) },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
}

async function appliedNames(db: Kysely<Tables>): Promise<string[]> {
  const schema = await currentSchema(db);
  const tables = await db.introspection.getTables();
  const exists = tables.some(
    (table) => table.name === MIGRATION_TABLE && (!schema || table.schema === schema),
  );
  if (!exists) return [];
  const table = sql.table(schema ? `${schema}.${MIGRATION_TABLE}` : MIGRATION_TABLE);
  const result = await sql<{ name: string }>`select name from ${table} order by name`.execute(db);
  return result.rows.map((row) => row.name);
}

export async function migrationStatus(
  db: Kysely<Tables>,
  migrations: Migrations = allMigrations,
): Promise<MigrationStatus> {
  const applied = await appliedNames(db);
  const known = Object.keys(migrations);
  return {
    applied: applied.filter((name) => known.includes(name)),
    pending: known.filter((name) => !applied.includes(name)),
    unknown: applied.filter((name) => !known.includes(name)),
  };
}

export function assertNotNewerThanCode(status: MigrationStatus): void {
  if (status.unknown.length > 0) {
    throw new GatehouseError(
      'database_newer_than_code',
      `the database has migrations this version of Gatehouse does not know (${status.unknown.join(', ')}); run a newer Gatehouse or restore a matching backup`,
    );
  }
}

/**
 * Applies every pending migration, each in its own transaction. Safe to run from several nodes at once:
 * Kysely's migrator takes a lock (an advisory lock on PostgreSQL).
 */
export async function migrateToLatest(
  db: Kysely<Tables>,
  logger: Logger,
  migrations: Migrations = allMigrations,
): Promise<readonly string[]> {
  assertNotNewerThanCode(await migrationStatus(db, migrations));
  const { error, results } = await withRetryBeforeAnyRan(logger, async () =>
    (await migrator(db, migrations)).migrateToLatest(),
  );
  const applied = (results ?? [])
    .filter((result) => result.status === 'Success')
    .map((result) => result.migrationName);
  for (const name of applied) logger.info({ migration: name }, 'migration applied');
  if (error) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName;
    throw new GatehouseError(
      'migration_failed',
      failed
        ? `migration ${failed} failed`
        : `migrating failed before any migration ran: ${messageOf(error)}`,
      { cause: error },
    );
  }
  return applied;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Runs the migrator again when it failed before running any migration (checking or creating its own tables,
 * taking the lock): on PostgreSQL, catalog queries can fail transiently while other schemas are dropped
 * (seen with many test schemas at once). A migration that fails is never retried.
 */
async function withRetryBeforeAnyRan(
  logger: Logger,
  run: () => Promise<MigrationResultSet>,
  attempts = 3,
): Promise<MigrationResultSet> {
  for (let attempt = 1; ; attempt++) {
    const outcome = await run();
    if (!outcome.error || outcome.results !== undefined || attempt >= attempts) return outcome;
    logger.warn({ err: outcome.error, attempt }, 'migrating failed before any migration ran; trying again');
  }
}

/** Applies pending migrations up to and including `name` (a restore brings a database to its backup's schema first). */
export async function migrateTo(
  db: Kysely<Tables>,
  name: string,
  logger: Logger,
  migrations: Migrations = allMigrations,
): Promise<readonly string[]> {
  if (!(name in migrations)) {
    throw new GatehouseError(
      'database_newer_than_code',
      `schema ${name} is newer than this version of Gatehouse knows; use a newer Gatehouse`,
    );
  }
  assertNotNewerThanCode(await migrationStatus(db, migrations));
  const { error, results }: MigrationResultSet = await (await migrator(db, migrations)).migrateTo(name);
  const applied = (results ?? [])
    .filter((result) => result.status === 'Success' && result.direction === 'Up')
    .map((result) => result.migrationName);
  for (const applied_ of applied) logger.info({ migration: applied_ }, 'migration applied');
  if (error) throw new GatehouseError('migration_failed', `migrating to ${name} failed`, { cause: error });
  return applied;
}
