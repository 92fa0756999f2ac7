import {
  type Kysely,
  Kysely as KyselyClass,
  type LogEvent,
  PostgresDialect,
  SqliteAdapter,
  SqliteDialect,
  type Transaction,
} from 'kysely';
import pg from 'pg';
import { GatehouseError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { openSqlite, type SqliteDriver } from './sqlite-driver.js';
import type { Tables } from './tables.js';

export type Dialect = 'sqlite' | 'postgres';

export interface DatabaseSettings {
  readonly url: string;
  readonly readUrl?: string | undefined;
  readonly poolSize: number;
  readonly slowQueryMs: number;
  readonly busyTimeoutMs: number;
}

export interface PoolStats {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

export interface DatabaseHandle {
  readonly dialect: Dialect;
  /** The client library in use, for health details and bug reports. */
  readonly driver: SqliteDriver | 'pg';
  /** The primary: every write and every read that must see its own writes. */
  readonly db: Kysely<Tables>;
  /** A read replica when configured, else the primary. Only for reads that tolerate replication lag. */
  readonly reader: Kysely<Tables>;
  /** Runs `work` in one transaction: it all commits or none of it does. */
  transaction<T>(work: (trx: Transaction<Tables>) => Promise<T>): Promise<T>;
  /** A round trip to the primary (and the replica when there is one). */
  ping(): Promise<void>;
  poolStats(): { primary: PoolStats; replica?: PoolStats } | undefined;
  close(): Promise<void>;
}

/** `sqlite:./data/x.db`, `sqlite:///abs/x.db` and `sqlite::memory:` name SQLite files. */
export function sqlitePath(url: string): string {
  const rest = url.slice('sqlite:'.length);
  if (rest === ':memory:') return ':memory:';
  return rest.startsWith('//') ? rest.slice(2) : rest;
}

export function dialectOf(url: string): Dialect {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres';
  throw new GatehouseError('database_unsupported', 'database.url must be a sqlite: or postgres: URL');
}

/**
 * SQLite runs DDL inside transactions, but Kysely's adapter says it does not, so its migrator would leave a
 * failed migration half-applied. Saying so lets each migration commit or roll back as a whole, as on PostgreSQL.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class GatehouseSqliteDialect extends SqliteDialect {
  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

const INT8_OID = 20;

function postgresPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    // Times are stored as epoch milliseconds in int8: well inside Number's exact range.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => {});
  return pool;
}

function queryLogger(dialect: Dialect, settings: DatabaseSettings, logger: Logger, metrics: Metrics) {
  return (event: LogEvent): void => {
    const seconds = event.queryDurationMillis / 1000;
    metrics.dbQueryDuration.observe({ dialect }, seconds);
    // The SQL text is the query's shape: values are bound parameters, which are never logged.
    if (event.level === 'error') {
      metrics.dbQueryErrors.inc({ dialect });
      const error = event.error as { code?: string; message?: string } | undefined;
      logger.warn(
        {
          sql: event.query.sql,
          durationMs: event.queryDurationMillis,
          dbError: error?.code,
          err: event.error,
        },
        'query failed',
      );
    } else if (event.queryDurationMillis >= settings.slowQueryMs) {
      metrics.dbSlowQueries.inc({ dialect });
      logger.warn({ sql: event.query.sql, durationMs: Math.round(event.queryDurationMillis) }, 'slow query');
    }
  };
}

export function createDatabase(
  settings: DatabaseSettings,
  deps: { logger: Logger; metrics: Metrics },
): DatabaseHandle {
  const dialect = dialectOf(settings.url);
  const log = queryLogger(dialect, settings, deps.logger, deps.metrics);

  if (dialect === 'sqlite') {
    const sqlite = openSqlite(sqlitePath(settings.url), settings.busyTimeoutMs);
    const db = new KyselyClass<Tables>({
      dialect: new GatehouseSqliteDialect({ database: sqlite.database }),
      log,
    });
    return {
      dialect,
      driver: sqlite.driver,
      db,
      reader: db,
      transaction: (work) => db.transaction().execute(work),
      async ping() {
        sqlite.ping();
      },
      poolStats: () => undefined,
      close: () => db.destroy(),
    };
  }

  const primaryPool = postgresPool(settings.url, settings.poolSize);
  const replicaPool = settings.readUrl ? postgresPool(settings.readUrl, settings.poolSize) : undefined;
  const db = new KyselyClass<Tables>({ dialect: new PostgresDialect({ pool: primaryPool }), log });
  const reader = replicaPool
    ? new KyselyClass<Tables>({ dialect: new PostgresDialect({ pool: replicaPool }), log })
    : db;
  const stats = (pool: pg.Pool): PoolStats => ({
    total: pool.totalCount,
    idle: pool.idleCount,
    waiting: pool.waitingCount,
  });
  return {
    dialect,
    driver: 'pg',
    db,
    reader,
    transaction: (work) => db.transaction().execute(work),
    async ping() {
      await primaryPool.query('select 1');
      if (replicaPool) await replicaPool.query('select 1');
    },
    poolStats: () => ({
      primary: stats(primaryPool),
      ...(replicaPool ? { replica: stats(replicaPool) } : {}),
    }),
    async close() {
      await db.destroy();
      if (reader !== db) await reader.destroy();
    },
  };
}

export type { Kysely, Transaction };
