import { createHash } from 'node:crypto';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { Dialect } from '../../platform/db/connection.js';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE } from '../../platform/db/migrate.js';
import type { Tables } from '../../platform/db/tables.js';

// Backups and copies read and write every table by name, whatever the schema types say.
// biome-ignore lint/suspicious/noExplicitAny: see above.
type AnyDb = Kysely<any> | Transaction<any>;
export type Row = Record<string, unknown>;

export interface TableInfo {
  readonly name: string;
  readonly columns: readonly string[];
}

const SKIPPED = new Set([MIGRATION_TABLE, MIGRATION_LOCK_TABLE]);

/** Parent tables (by foreign key) of each table, from the database's own catalogue. */
async function foreignKeyParents(db: AnyDb, dialect: Dialect): Promise<Map<string, Set<string>>> {
  const rows =
    dialect === 'sqlite'
      ? await sql<{ child: string; parent: string }>`
          select m.name as child, p."table" as parent
          from sqlite_master m join pragma_foreign_key_list(m.name) p
          where m.type = 'table'`.execute(db)
      : await sql<{ child: string; parent: string }>`
          select tc.table_name as child, ccu.table_name as parent
          from information_schema.table_constraints tc
          join information_schema.constraint_column_usage ccu
            on tc.constraint_name = ccu.constraint_name and tc.table_schema = ccu.table_schema
          where tc.constraint_type = 'FOREIGN KEY' and tc.table_schema = current_schema()`.execute(db);
  const parents = new Map<string, Set<string>>();
  for (const { child, parent } of rows.rows) {
    if (child === parent) continue;
    if (!parents.has(child)) parents.set(child, new Set());
    parents.get(child)!.add(parent);
  }
  return parents;
}

/** The tables of this database's own schema (on PostgreSQL, the first on the search path). */
export async function tableNames(db: AnyDb, dialect: Dialect): Promise<Set<string>> {
  const schema =
    dialect === 'postgres'
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  return new Set(
    (await (db as Kysely<Tables>).introspection.getTables())
      .filter((table) => !table.isView && (!schema || table.schema === schema))
      .map((table) => table.name),
  );
}

/**
 * Gatehouse's tables (not the migrator's), parents before children, each with its columns in a fixed order:
 * the order rows are written in, so foreign keys hold at every step of a restore.
 */
export async function tablesInOrder(db: AnyDb, dialect: Dialect): Promise<TableInfo[]> {
  const schema =
    dialect === 'postgres'
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  const tables = (await (db as Kysely<Tables>).introspection.getTables()).filter(
    (table) => !SKIPPED.has(table.name) && !table.isView && (!schema || table.schema === schema),
  );
  const parents = await foreignKeyParents(db, dialect);
  const byName = new Map(tables.map((table) => [table.name, table]));
  const ordered: TableInfo[] = [];
  const placed = new Set<string>();
  const visit = (name: string, path: Set<string>) => {
    if (placed.has(name) || !byName.has(name)) return;
    if (path.has(name)) throw new Error(`foreign keys form a cycle through ${name}`);
    path.add(name);
    for (const parent of [...(parents.get(name) ?? [])].sort()) visit(parent, path);
    path.delete(name);
    placed.add(name);
    ordered.push({
      name,
      columns: byName
        .get(name)!
        .columns.map((column) => column.name)
        .sort(),
    });
  };
  for (const name of [...byName.keys()].sort()) visit(name, new Set());
  return ordered;
}

/**
 * A row as one canonical JSON text: columns in name order, integers as integers, other numbers at single
 * precision (PostgreSQL keeps `real` columns as float4, SQLite as doubles, so a copied coordinate differs in
 * its last digits), everything else as it is.
 */
export function canonicalRow(columns: readonly string[], row: Row): string {
  return JSON.stringify(
    columns.map((column) => {
      const value = row[column];
      if (typeof value === 'number' && !Number.isInteger(value)) return Number(value.toPrecision(6));
      if (typeof value === 'bigint') return Number(value);
      if (value instanceof Date) return value.getTime();
      return value ?? null;
    }),
  );
}

/**
 * A checksum of a table's rows that does not depend on their order (the dialects sort text differently):
 * the sum, modulo 2^256, of each row's SHA-256.
 */
export class TableChecksum {
  #sum = 0n;
  #rows = 0;
  add(canonical: string): void {
    this.#sum =
      (this.#sum + BigInt(`0x${createHash('sha256').update(canonical).digest('hex')}`)) % 2n ** 256n;
    this.#rows += 1;
  }
  get rows(): number {
    return this.#rows;
  }
  get value(): string {
    return this.#sum.toString(16).padStart(64, '0');
  }
}

/**
 * Every row of a table, in pages. Ordered by every column, so pages never overlap (rows are unique); read inside
 * one snapshot, so nothing moves between pages.
 */
export async function* readRows(db: AnyDb, table: TableInfo, pageSize = 2_000): AsyncGenerator<Row[]> {
  for (let offset = 0; ; offset += pageSize) {
    const rows = (await db
      .selectFrom(table.name)
      .select(table.columns as string[])
      .orderBy(sql.raw(table.columns.map((_column, index) => String(index + 1)).join(', ')))
      .limit(pageSize)
      .offset(offset)
      .execute()) as Row[];
    if (rows.length > 0) yield rows;
    if (rows.length < pageSize) return;
  }
}

/** Inserts rows in batches small enough for either dialect's limit on bound parameters. */
export async function insertRows(db: AnyDb, table: TableInfo, rows: readonly Row[]): Promise<void> {
  const perBatch = Math.max(1, Math.floor(30_000 / Math.max(1, table.columns.length)));
  for (let start = 0; start < rows.length; start += perBatch) {
    const batch = rows
      .slice(start, start + perBatch)
      .map((row) => Object.fromEntries(table.columns.map((column) => [column, row[column] ?? null])));
    await db.insertInto(table.name).values(batch).execute();
  }
}

export async function countRows(db: AnyDb, table: string): Promise<number> {
  const row = await db.selectFrom(table).select(sql<number>`count(*)`.as('count')).executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Each table's row count and order-free checksum, read from a database. */
export async function summarize(db: AnyDb, tables: readonly TableInfo[]) {
  const summary: Record<string, { rows: number; sha256: string }> = {};
  for (const table of tables) {
    const checksum = new TableChecksum();
    for await (const page of readRows(db, table))
      for (const row of page) checksum.add(canonicalRow(table.columns, row));
    summary[table.name] = { rows: checksum.rows, sha256: checksum.value };
  }
  return summary;
}
