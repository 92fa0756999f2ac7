import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../../../migrations/index.js';
import { describeEachDialect } from '../../../test/helpers/dialects.js';
import { LogCapture } from '../../../test/helpers/logs.js';
import { createLogger } from '../logger.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { createDatabase, type DatabaseHandle, dialectOf, sqlitePath } from './connection.js';
import { MIGRATION_TABLE, migrateToLatest, migrationStatus } from './migrate.js';
import { openSqlite, preferredSqliteDriver } from './sqlite-driver.js';

describe('database URLs', () => {
  it('maps URLs to dialects and SQLite paths', () => {
    expect(dialectOf('sqlite:./data/gatehouse.db')).toBe('sqlite');
    expect(dialectOf('postgres://u@h/db')).toBe('postgres');
    expect(dialectOf('postgresql://u@h/db')).toBe('postgres');
    expect(() => dialectOf('mysql://u@h/db')).toThrow(/sqlite: or postgres:/);
    expect(sqlitePath('sqlite:./data/gatehouse.db')).toBe('./data/gatehouse.db');
    expect(sqlitePath('sqlite:///var/lib/gatehouse.db')).toBe('/var/lib/gatehouse.db');
    expect(sqlitePath('sqlite::memory:')).toBe(':memory:');
  });
});

describeEachDialect('database layer', (testDatabase, dialect) => {
  let handle: DatabaseHandle;
  let logs: LogCapture;
  let metrics: Metrics;

  beforeAll(() => {
    logs = new LogCapture();
    metrics = createMetrics({ collectProcessMetrics: false });
    handle = createDatabase(
      { url: testDatabase().url, poolSize: 4, slowQueryMs: 0, busyTimeoutMs: 1000 },
      { logger: createLogger({ level: 'info', pretty: false }, logs), metrics },
    );
  });

  afterAll(async () => {
    await handle.close();
  });

  it('reports every migration as pending on an empty database, then applies them all', async () => {
    expect(handle.dialect).toBe(dialect);
    const before = await migrationStatus(handle.db);
    expect(before).toEqual({ applied: [], pending: Object.keys(migrations), unknown: [] });
    const applied = await migrateToLatest(handle.db, createLogger({ level: 'silent', pretty: false }));
    expect(applied).toEqual(Object.keys(migrations));
    expect(await migrationStatus(handle.db)).toEqual({
      applied: Object.keys(migrations),
      pending: [],
      unknown: [],
    });
    expect(await migrateToLatest(handle.db, createLogger({ level: 'silent', pretty: false }))).toEqual([]);
  });

  it('commits a transaction as a whole or not at all', async () => {
    await expect(
      handle.transaction(async (trx) => {
        await trx.insertInto('settings').values({ key: 'tx.a', value: '1', updated_at: 1 }).execute();
        await trx.insertInto('settings').values({ key: 'tx.a', value: '2', updated_at: 2 }).execute();
      }),
    ).rejects.toThrow();
    expect(await handle.db.selectFrom('settings').selectAll().where('key', '=', 'tx.a').execute()).toEqual(
      [],
    );

    await handle.transaction(async (trx) => {
      await trx
        .insertInto('settings')
        .values({ key: 'tx.b', value: '1', updated_at: 1_700_000_000_000 })
        .execute();
    });
    const row = await handle.reader
      .selectFrom('settings')
      .selectAll()
      .where('key', '=', 'tx.b')
      .executeTakeFirstOrThrow();
    // Epoch milliseconds come back as numbers on both dialects.
    expect(row.updated_at).toBe(1_700_000_000_000);
  });

  it('logs slow queries by their shape, never their parameters, and counts them', async () => {
    const marker = 'parameter-value-that-must-not-be-logged';
    await handle.db.selectFrom('settings').select('key').where('value', '=', marker).execute();
    const slow = logs.entries.filter((entry) => entry.msg === 'slow query');
    expect(slow.length).toBeGreaterThan(0);
    expect(logs.text).toContain('where \\"value\\" = ');
    expect(logs.text).not.toContain(marker);
    const counted = (await metrics.dbSlowQueries.get()).values.find(
      (value) => value.labels.dialect === dialect,
    );
    expect(counted?.value).toBeGreaterThan(0);
  });

  it('logs and counts failed queries', async () => {
    await expect(sql`select * from no_such_table`.execute(handle.db)).rejects.toThrow();
    expect(
      logs.entries.some(
        (entry) => entry.msg === 'query failed' && entry.sql === 'select * from no_such_table',
      ),
    ).toBe(true);
    const errors = (await metrics.dbQueryErrors.get()).values.find(
      (value) => value.labels.dialect === dialect,
    );
    expect(errors?.value).toBeGreaterThanOrEqual(1);
  });

  it('answers a ping', async () => {
    await expect(handle.ping()).resolves.toBeUndefined();
  });

  it('refuses to migrate a database that a newer Gatehouse migrated', async () => {
    await sql`insert into ${sql.table(MIGRATION_TABLE)} (name, timestamp) values ('9999_from_the_future', '2030-01-01T00:00:00.000Z')`.execute(
      handle.db,
    );
    expect((await migrationStatus(handle.db)).unknown).toEqual(['9999_from_the_future']);
    await expect(
      migrateToLatest(handle.db, createLogger({ level: 'silent', pretty: false })),
    ).rejects.toMatchObject({
      code: 'database_newer_than_code',
    });
    await sql`delete from ${sql.table(MIGRATION_TABLE)} where name = '9999_from_the_future'`.execute(
      handle.db,
    );
  });

  it('rolls back a failing migration and reports which one failed', async () => {
    const broken = {
      ...migrations,
      '9000_broken': {
        async up(db: import('kysely').Kysely<unknown>) {
          await db.schema.createTable('half_done').addColumn('id', 'text').execute();
          await sql`this is not sql`.execute(db);
        },
      },
    };
    await expect(
      migrateToLatest(handle.db, createLogger({ level: 'silent', pretty: false }), broken),
    ).rejects.toMatchObject({
      code: 'migration_failed',
      message: 'migration 9000_broken failed',
    });
    const status = await migrationStatus(handle.db, broken);
    expect(status.pending).toEqual(['9000_broken']);
    // Both dialects have transactional DDL: the half-done table is gone too.
    const tables = await handle.db.introspection.getTables();
    expect(tables.map((table) => table.name)).not.toContain('half_done');
  });
});

describe('PostgreSQL schemas', () => {
  it('keeps migrations of one schema apart from another schema in the same database', async () => {
    const { createTestDatabase } = await import('../../../test/helpers/dialects.js');
    const silent = createLogger({ level: 'silent', pretty: false });
    const deps = { logger: silent, metrics: createMetrics({ collectProcessMetrics: false }) };
    const settings = { poolSize: 2, slowQueryMs: 1000, busyTimeoutMs: 1000 };
    const first = await createTestDatabase('postgres');
    const second = await createTestDatabase('postgres');
    const a = createDatabase({ ...settings, url: first.url }, deps);
    const b = createDatabase({ ...settings, url: second.url }, deps);
    try {
      await migrateToLatest(a.db, silent);
      expect((await migrationStatus(b.db)).pending).toEqual(Object.keys(migrations));
      expect(await migrateToLatest(b.db, silent)).toEqual(Object.keys(migrations));
    } finally {
      await a.close();
      await b.close();
      await first.drop();
      await second.drop();
    }
  });
});

describe('read replica', () => {
  it('sends reads through a separate pool when database.readUrl is set', async () => {
    const { createTestDatabase } = await import('../../../test/helpers/dialects.js');
    const primary = await createTestDatabase('postgres');
    const handle = createDatabase(
      { url: primary.url, readUrl: primary.url, poolSize: 2, slowQueryMs: 1000, busyTimeoutMs: 1000 },
      {
        logger: createLogger({ level: 'silent', pretty: false }),
        metrics: createMetrics({ collectProcessMetrics: false }),
      },
    );
    try {
      expect(handle.reader).not.toBe(handle.db);
      await migrateToLatest(handle.db, createLogger({ level: 'silent', pretty: false }));
      await handle.db.insertInto('settings').values({ key: 'r', value: '"x"', updated_at: 1 }).execute();
      const row = await handle.reader
        .selectFrom('settings')
        .select('value')
        .where('key', '=', 'r')
        .executeTakeFirst();
      expect(row?.value).toBe('"x"');
      await handle.ping();
      expect(handle.poolStats()?.replica).toBeDefined();
    } finally {
      await handle.close();
      await primary.drop();
    }
  });
});

describe('SQLite drivers', () => {
  it('uses node:sqlite from Node 24 on, better-sqlite3 before', () => {
    expect(preferredSqliteDriver('20.20.2')).toBe('better-sqlite3');
    expect(preferredSqliteDriver('22.23.3')).toBe('better-sqlite3');
    expect(preferredSqliteDriver('24.21.0')).toBe('node:sqlite');
  });

  const available = (['better-sqlite3', 'node:sqlite'] as const).filter(
    (driver) => driver === 'better-sqlite3' || Number(process.versions.node.split('.')[0]) >= 22,
  );

  it.each(available)('runs reads, writes and transactions through %s', async (driver) => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-driver-'));
    const sqlite = openSqlite(join(directory, 'x.db'), 1000, driver);
    expect(sqlite.driver).toBe(driver);
    const select = sqlite.database.prepare('select 1 as one');
    expect(select.reader).toBe(true);
    expect(select.all([])).toEqual([{ one: 1 }]);
    const create = sqlite.database.prepare('create table t (id integer primary key, name text)');
    expect(create.reader).toBe(false);
    create.run([]);
    expect(sqlite.database.prepare('insert into t (name) values (?)').run(['a'])).toMatchObject({
      changes: 1,
    });
    expect([...sqlite.database.prepare('select name from t').iterate([])]).toEqual([{ name: 'a' }]);
    expect(sqlite.database.prepare('pragma journal_mode').all([])).toEqual([{ journal_mode: 'wal' }]);
    expect(sqlite.database.prepare('pragma foreign_keys').all([])).toEqual([{ foreign_keys: 1 }]);
    sqlite.ping();
    sqlite.database.close();
    rmSync(directory, { recursive: true, force: true });
  });
});
