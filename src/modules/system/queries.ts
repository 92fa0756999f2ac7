import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../../platform/db/connection.js';
import type { Tables } from '../../platform/db/tables.js';

export interface SettingsTable {
  key: string;
  /** JSON text. */
  value: string;
  updated_at: number;
}

declare module '../../platform/db/tables.js' {
  interface Tables {
    settings: SettingsTable;
  }
}

export async function findSetting(db: Kysely<Tables>, key: string): Promise<string | undefined> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value;
}

/** Inserts the setting unless it exists; returns the value that is stored afterwards (first writer wins). */
export async function insertSettingIfAbsent(
  db: Kysely<Tables>,
  key: string,
  value: string,
  now: number,
): Promise<string> {
  await db
    .insertInto('settings')
    .values({ key, value, updated_at: now })
    .onConflict((conflict) => conflict.column('key').doNothing())
    .execute();
  return (await findSetting(db, key)) ?? value;
}

export async function saveSetting(
  db: Kysely<Tables>,
  key: string,
  value: string,
  now: number,
): Promise<void> {
  await db
    .insertInto('settings')
    .values({ key, value, updated_at: now })
    .onConflict((conflict) => conflict.column('key').doUpdateSet({ value, updated_at: now }))
    .execute();
}

/** Every table of this database's schema with its exact row count. */
export async function tableCounts(db: Kysely<Tables>, dialect: Dialect): Promise<Record<string, number>> {
  const schema =
    dialect === 'postgres'
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  const tables = (await db.introspection.getTables()).filter((table) => !schema || table.schema === schema);
  const counts: Record<string, number> = {};
  for (const table of tables.sort((a, b) => a.name.localeCompare(b.name))) {
    const row = await sql<{ count: number }>`select count(*) as count from ${sql.table(table.name)}`.execute(
      db,
    );
    counts[table.name] = Number(row.rows[0]?.count ?? 0);
  }
  return counts;
}

/** The database's size on disk, in bytes. */
export async function databaseBytes(db: Kysely<Tables>, dialect: Dialect): Promise<number> {
  if (dialect === 'postgres') {
    const row = await sql<{ bytes: number }>`select pg_database_size(current_database()) as bytes`.execute(
      db,
    );
    return Number(row.rows[0]?.bytes ?? 0);
  }
  const pages = await sql<{ page_count: number }>`pragma page_count`.execute(db);
  const size = await sql<{ page_size: number }>`pragma page_size`.execute(db);
  return Number(pages.rows[0]?.page_count ?? 0) * Number(size.rows[0]?.page_size ?? 0);
}
