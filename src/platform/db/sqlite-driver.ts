import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { LRUCache } from 'lru-cache';

/**
 * Which SQLite binding this Node.js gets. better-sqlite3 12 is the one that works on Node 20 (13 crashes
 * there), but on Node 24 its statements abort the process when garbage-collected (node::ObjectWrap changed;
 * WiseLibs/better-sqlite3#1515, closed without a fix for 12.x). Node 24 ships a stable-enough `node:sqlite`,
 * so it uses that instead and never loads better-sqlite3.
 */
export type SqliteDriver = 'better-sqlite3' | 'node:sqlite';

export function preferredSqliteDriver(nodeVersion: string = process.versions.node): SqliteDriver {
  return Number(nodeVersion.split('.')[0]) >= 24 ? 'node:sqlite' : 'better-sqlite3';
}

export interface OpenedSqlite {
  readonly driver: SqliteDriver;
  /** What Kysely's SqliteDialect drives. */
  readonly database: SqliteDatabase;
  ping(): void;
}

// The parts of node:sqlite we use; @types/node for Node 20 does not describe the module.
interface NodeSqliteStatement {
  all(...parameters: unknown[]): unknown[];
  run(...parameters: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  iterate(...parameters: unknown[]): IterableIterator<unknown>;
  get(...parameters: unknown[]): unknown;
  columns(): unknown[];
}
interface NodeSqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): NodeSqliteStatement;
  close(): void;
}
interface NodeSqliteModule {
  DatabaseSync: new (path: string, options?: { timeout?: number }) => NodeSqliteDatabase;
}

const PRAGMAS = ['journal_mode = WAL', 'foreign_keys = ON', 'synchronous = NORMAL'];

function openWithNodeSqlite(path: string, busyTimeoutMs: number): OpenedSqlite {
  const { DatabaseSync } = process.getBuiltinModule('node:sqlite') as NodeSqliteModule;
  const native = new DatabaseSync(path, { timeout: busyTimeoutMs });
  for (const pragma of PRAGMAS) native.exec(`PRAGMA ${pragma}`);
  const database: SqliteDatabase = {
    close: () => native.close(),
    prepare(sql): SqliteStatement {
      const statement = native.prepare(sql);
      return {
        reader: statement.columns().length > 0,
        all: (parameters) => statement.all(...parameters),
        run: (parameters) => statement.run(...parameters),
        iterate: (parameters) => statement.iterate(...parameters),
      };
    },
  };
  return { driver: 'node:sqlite', database, ping: () => native.prepare('select 1').get() };
}

function openWithBetterSqlite(path: string, busyTimeoutMs: number): OpenedSqlite {
  // Loaded only here, so Node 24 never loads the native module at all.
  const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
  const native = new Database(path);
  for (const pragma of PRAGMAS) native.pragma(pragma);
  native.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
  // Kysely prepares every query anew; parsing SQL cost ~10% of a token request. Statements are reusable
  // (SQLite re-prepares them itself after a schema change), so keep the recent ones.
  const statements = new LRUCache<string, BetterSqlite3.Statement>({ max: 1_000 });
  const database = {
    close: () => native.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (!statement) {
        statement = native.prepare(sql);
        statements.set(sql, statement);
      }
      return statement;
    },
  } as unknown as SqliteDatabase;
  return { driver: 'better-sqlite3', database, ping: () => native.prepare('select 1').get() };
}

export function openSqlite(
  path: string,
  busyTimeoutMs: number,
  driver = preferredSqliteDriver(),
): OpenedSqlite {
  // The data directory holds hashed and encrypted secrets: readable by the service user only.
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  return driver === 'node:sqlite'
    ? openWithNodeSqlite(path, busyTimeoutMs)
    : openWithBetterSqlite(path, busyTimeoutMs);
}
