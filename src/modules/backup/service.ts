import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { migrations } from '../../../migrations/index.js';
import { createDatabase, type DatabaseHandle, type Dialect } from '../../platform/db/connection.js';
import { migrateTo, migrateToLatest, migrationStatus } from '../../platform/db/migrate.js';
import { GatehouseError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import { VERSION } from '../../platform/version.js';
import { type BackupKeySource, readArchive, writeArchive } from './archive.js';
import { BackupErrors } from './errors.js';
import {
  canonicalRow,
  countRows,
  insertRows,
  type Row,
  readRows,
  summarize,
  TableChecksum,
  type TableInfo,
  tableNames,
  tablesInOrder,
} from './snapshot.js';

export interface BackupManifest {
  readonly format: 1;
  readonly gatehouseVersion: string;
  /** The last migration applied to the database the backup was taken from. */
  readonly schemaVersion: string;
  readonly dialect: Dialect;
  readonly createdAt: string;
  readonly tables: Record<string, { rows: number; sha256: string }>;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly manifest: BackupManifest;
  readonly problems: readonly string[];
}

// biome-ignore lint/suspicious/noExplicitAny: rows of every table, read and written by name.
type AnyTransaction = import('kysely').Transaction<any>;

interface Deps {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/**
 * A consistent view of a database for the length of `work`: on SQLite a copy made with `VACUUM INTO` (one
 * statement, consistent, while the server keeps running) opened on its own; on PostgreSQL one REPEATABLE
 * READ, READ ONLY transaction, so every table is read as of the same moment.
 */
async function withSnapshot<T>(
  database: DatabaseHandle,
  deps: Deps,
  work: (db: AnyTransaction | DatabaseHandle['db'], dialect: Dialect) => Promise<T>,
): Promise<T> {
  if (database.dialect === 'sqlite') {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-snapshot-'));
    const file = join(directory, 'snapshot.db');
    try {
      await sql`vacuum into ${file}`.execute(database.db);
      const snapshot = createDatabase(
        { url: `sqlite:${file}`, poolSize: 1, slowQueryMs: 0, busyTimeoutMs: 5_000 },
        { logger: deps.logger, metrics: deps.metrics },
      );
      try {
        return await work(snapshot.db, 'sqlite');
      } finally {
        await snapshot.close();
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }
  return database.db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      await sql`set transaction read only`.execute(trx);
      return work(trx, 'postgres');
    });
}

async function schemaVersionOf(db: DatabaseHandle['db'] | AnyTransaction): Promise<string> {
  const status = await migrationStatus(db as DatabaseHandle['db']);
  const latest = status.applied.at(-1);
  if (!latest) throw new GatehouseError(BackupErrors.backup_invalid, 'the database has no schema yet');
  return latest;
}

/**
 * `gatehouse backup create`: every table of a consistent snapshot, as NDJSON (a line naming each table and its
 * columns, then one line per row), compressed and encrypted into one file, ending with a manifest of row
 * counts and checksums.
 */
export async function createBackup(
  database: DatabaseHandle,
  options: { path: string; key: BackupKeySource; now: number },
  deps: Deps,
): Promise<BackupManifest> {
  return withSnapshot(database, deps, async (db, dialect) => {
    const tables = await tablesInOrder(db, dialect);
    const manifest: BackupManifest = {
      format: 1,
      gatehouseVersion: VERSION,
      schemaVersion: await schemaVersionOf(db),
      dialect,
      createdAt: new Date(options.now).toISOString(),
      tables: {},
    };
    async function* lines(): AsyncGenerator<string> {
      for (const table of tables) {
        yield JSON.stringify({ table: table.name, columns: table.columns });
        const checksum = new TableChecksum();
        for await (const page of readRows(db, table)) {
          for (const row of page) {
            checksum.add(canonicalRow(table.columns, row));
            yield JSON.stringify({ r: table.columns.map((column) => row[column] ?? null) });
          }
        }
        manifest.tables[table.name] = { rows: checksum.rows, sha256: checksum.value };
      }
      yield JSON.stringify({ manifest });
    }
    await writeArchive(options.path, options.key, lines());
    deps.logger.info({ path: options.path, tables: tables.length }, 'backup written');
    return manifest;
  });
}

type Entry =
  | { readonly kind: 'table'; readonly table: TableInfo }
  | { readonly kind: 'row'; readonly table: TableInfo; readonly row: Row }
  | { readonly kind: 'manifest'; readonly manifest: BackupManifest };

/** The archive's contents as tables, rows and the manifest, in the order written. */
async function* entries(path: string, key: BackupKeySource): AsyncGenerator<Entry> {
  let current: TableInfo | undefined;
  for await (const line of readArchive(path, key)) {
    let parsed: { table?: string; columns?: string[]; r?: unknown[]; manifest?: BackupManifest };
    try {
      parsed = JSON.parse(line) as typeof parsed;
    } catch {
      throw new GatehouseError(BackupErrors.backup_invalid, 'the backup holds a line that is not JSON');
    }
    if (parsed.table && parsed.columns) {
      current = { name: parsed.table, columns: parsed.columns };
      yield { kind: 'table', table: current };
    } else if (parsed.r && current) {
      const values = parsed.r;
      const table = current;
      yield {
        kind: 'row',
        table,
        row: Object.fromEntries(table.columns.map((column, index) => [column, values[index]])),
      };
    } else if (parsed.manifest) {
      yield { kind: 'manifest', manifest: parsed.manifest };
    } else {
      throw new GatehouseError(BackupErrors.backup_invalid, 'the backup holds a line of no known kind');
    }
  }
}

/** `gatehouse backup verify`: decrypts the whole file (checking its tag) and recomputes every count and checksum. */
export async function verifyBackup(path: string, key: BackupKeySource): Promise<VerifyResult> {
  const seen = new Map<string, TableChecksum>();
  let manifest: BackupManifest | undefined;
  for await (const entry of entries(path, key)) {
    if (entry.kind === 'table') seen.set(entry.table.name, new TableChecksum());
    else if (entry.kind === 'row')
      seen.get(entry.table.name)!.add(canonicalRow(entry.table.columns, entry.row));
    else manifest = entry.manifest;
  }
  if (!manifest)
    throw new GatehouseError(BackupErrors.backup_invalid, 'the backup has no manifest: it was cut short');
  const problems: string[] = [];
  for (const [name, expected] of Object.entries(manifest.tables)) {
    const actual = seen.get(name);
    if (!actual) problems.push(`${name}: in the manifest but not in the backup`);
    else if (actual.rows !== expected.rows)
      problems.push(`${name}: ${actual.rows} rows, the manifest says ${expected.rows}`);
    else if (actual.value !== expected.sha256) problems.push(`${name}: checksum differs from the manifest`);
  }
  for (const name of seen.keys())
    if (!(name in manifest.tables)) problems.push(`${name}: not in the manifest`);
  if (!(manifest.schemaVersion in migrations)) {
    problems.push(
      `schema ${manifest.schemaVersion} is newer than this Gatehouse knows: restore it with a newer one`,
    );
  }
  return { ok: problems.length === 0, manifest, problems };
}

/** Tables that must be empty for the target to count as new (the migrations seed roles and the like). */
const DATA_TABLES = ['users', 'audit_events', 'oauth_clients'];

async function assertEmpty(database: DatabaseHandle): Promise<void> {
  const tables = await tableNames(database.db, database.dialect);
  for (const table of DATA_TABLES) {
    if (tables.has(table) && (await countRows(database.db, table)) > 0) {
      throw new GatehouseError(
        BackupErrors.backup_target_not_empty,
        `the target database already has ${table}: restore into a new, empty database`,
      );
    }
  }
}

/** Brings the target to `schemaVersion`, refusing one that is already past it. */
async function prepareSchema(target: DatabaseHandle, schemaVersion: string, logger: Logger): Promise<void> {
  if (!(schemaVersion in migrations)) {
    throw new GatehouseError(
      BackupErrors.backup_schema_newer,
      `the data has schema ${schemaVersion}, newer than this Gatehouse knows: use a newer Gatehouse`,
    );
  }
  const status = await migrationStatus(target.db);
  const names = Object.keys(migrations);
  const beyond = status.applied.filter((name) => names.indexOf(name) > names.indexOf(schemaVersion));
  if (beyond.length > 0) {
    throw new GatehouseError(
      BackupErrors.backup_target_not_empty,
      `the target database is already at a newer schema (${beyond.at(-1)}) than the data (${schemaVersion}): use a new, empty database`,
    );
  }
  await migrateTo(target.db, schemaVersion, logger);
}

/** Clears what the migrations seeded, children first, inside the restore's transaction. */
async function clearSeeds(trx: AnyTransaction, tables: readonly TableInfo[]): Promise<void> {
  for (const table of [...tables].reverse()) {
    if (table.name === 'audit_events') continue; // empty (checked), and append-only
    await trx.deleteFrom(table.name).execute();
  }
}

/** Compares a target's tables with a manifest's, inside the transaction that wrote them. */
async function assertMatches(
  trx: AnyTransaction,
  tables: readonly TableInfo[],
  expected: BackupManifest['tables'],
): Promise<void> {
  const actual = await summarize(trx, tables);
  const problems = Object.entries(expected)
    .filter(([name, want]) => actual[name]?.rows !== want.rows || actual[name]?.sha256 !== want.sha256)
    .map(
      ([name, want]) =>
        `${name}: ${actual[name]?.rows ?? 0} rows copied of ${want.rows}${actual[name]?.rows === want.rows ? ' (checksums differ)' : ''}`,
    );
  if (problems.length > 0) {
    throw new GatehouseError(BackupErrors.backup_mismatch, `the copy does not match: ${problems.join('; ')}`);
  }
}

/**
 * `gatehouse backup restore`: checks the whole file first, then, into an empty database brought to the backup's
 * schema, writes every row in one transaction and compares counts and checksums before committing; then
 * migrates to the current schema. Either all of it is restored or nothing is.
 */
export async function restoreBackup(
  target: DatabaseHandle,
  options: { path: string; key: BackupKeySource },
  deps: Deps,
): Promise<BackupManifest> {
  const verified = await verifyBackup(options.path, options.key);
  if (!(verified.manifest.schemaVersion in migrations)) {
    throw new GatehouseError(
      BackupErrors.backup_schema_newer,
      `the backup has schema ${verified.manifest.schemaVersion}, newer than this Gatehouse knows: restore it with a newer one`,
    );
  }
  if (!verified.ok) throw new GatehouseError(BackupErrors.backup_invalid, verified.problems.join('; '));
  const manifest = verified.manifest;
  await assertEmpty(target);
  await prepareSchema(target, manifest.schemaVersion, deps.logger);
  await target.db.transaction().execute(async (trx) => {
    const tables = await tablesInOrder(trx, target.dialect);
    await clearSeeds(trx, tables);
    let batch: Row[] = [];
    let current: TableInfo | undefined;
    const flush = async () => {
      if (current && batch.length > 0) await insertRows(trx, current, batch);
      batch = [];
    };
    for await (const entry of entries(options.path, options.key)) {
      if (entry.kind === 'table') {
        await flush();
        current = entry.table;
      } else if (entry.kind === 'row') {
        batch.push(entry.row);
        if (batch.length >= 1_000) await flush();
      }
    }
    await flush();
    await assertMatches(
      trx,
      tables.filter((table) => table.name in manifest.tables),
      manifest.tables,
    );
  });
  await migrateToLatest(target.db, deps.logger);
  deps.logger.info({ path: options.path, schema: manifest.schemaVersion }, 'backup restored');
  return manifest;
}

export interface CopyProgress {
  readonly table: string;
  readonly copied: number;
  readonly total: number;
}

/**
 * `gatehouse migrate-data`: copies every table from one database to another (SQLite to PostgreSQL, or back) in
 * batches, in one transaction on the target, and compares counts and checksums before committing. Safe to
 * run again: a target that already holds exactly the source's data is left as it is; one that holds other
 * data is refused.
 */
export async function copyDatabase(
  source: DatabaseHandle,
  target: DatabaseHandle,
  options: { onProgress?: (progress: CopyProgress) => void },
  deps: Deps,
): Promise<{ copied: boolean; tables: BackupManifest['tables']; schemaVersion: string }> {
  return withSnapshot(source, deps, async (db, dialect) => {
    const schemaVersion = await schemaVersionOf(db);
    const tables = await tablesInOrder(db, dialect);
    const expected = await summarize(db, tables);
    const status = await migrationStatus(target.db);
    if (status.applied.length > 0) {
      const targetTables = await tableNames(target.db, target.dialect);
      const hasData = await Promise.all(
        DATA_TABLES.filter((name) => targetTables.has(name)).map(
          async (name) => (await countRows(target.db, name)) > 0,
        ),
      );
      if (hasData.some(Boolean)) {
        const present = await summarize(
          target.db,
          tables.filter((table) => targetTables.has(table.name)),
        );
        const same = tables.every(
          (table) =>
            present[table.name]?.rows === expected[table.name]!.rows &&
            present[table.name]?.sha256 === expected[table.name]!.sha256,
        );
        if (same && status.applied.at(-1) === schemaVersion)
          return { copied: false, tables: expected, schemaVersion };
        throw new GatehouseError(
          BackupErrors.backup_target_not_empty,
          'the target database already holds other data: copy into a new, empty database',
        );
      }
    }
    await prepareSchema(target, schemaVersion, deps.logger);
    await target.db.transaction().execute(async (trx) => {
      await clearSeeds(trx, await tablesInOrder(trx, target.dialect));
      for (const table of tables) {
        const total = expected[table.name]!.rows;
        let copied = 0;
        options.onProgress?.({ table: table.name, copied, total });
        for await (const page of readRows(db, table)) {
          await insertRows(trx, table, page);
          copied += page.length;
          options.onProgress?.({ table: table.name, copied, total });
        }
      }
      await assertMatches(trx, tables, expected);
    });
    await migrateToLatest(target.db, deps.logger);
    return { copied: true, tables: expected, schemaVersion };
  });
}
