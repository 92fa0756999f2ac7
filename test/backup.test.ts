import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeArchive } from '../src/modules/backup/archive.js';
import { planRetention } from '../src/modules/backup/scheduled.js';
import { summarize, tablesInOrder } from '../src/modules/backup/snapshot.js';
import { createDatabase } from '../src/platform/db/connection.js';
import { createLogger } from '../src/platform/logger.js';
import { createMetrics } from '../src/platform/metrics.js';
import { signedInAccount } from './helpers/accounts.js';
import { buildTestApp } from './helpers/app.js';
import { runGatehouse } from './helpers/cli.js';
import { FakeClock } from './helpers/clock.js';
import { createTestDatabase, type TestDatabase } from './helpers/dialects.js';

const key = randomBytes(32).toString('hex');
const directory = mkdtempSync(join(tmpdir(), 'gatehouse-backup-'));
const databases: TestDatabase[] = [];
const fresh = async (dialect: 'sqlite' | 'postgres') => {
  const database = await createTestDatabase(dialect);
  databases.push(database);
  return database;
};
const envFor = (url: string, extra: Record<string, string> = {}) => ({
  NODE_ENV: 'test',
  GATEHOUSE_DATA_DIR: directory,
  GATEHOUSE_SECRET_KEY: key,
  DATABASE_URL: url,
  ...extra,
});

/** Every table's row count and checksum, as a database holds them now. */
async function contents(url: string) {
  const logger = createLogger({ level: 'silent', pretty: false });
  const handle = createDatabase(
    { url, poolSize: 2, slowQueryMs: 0, busyTimeoutMs: 5000 },
    { logger, metrics: createMetrics({ collectProcessMetrics: false }) },
  );
  try {
    return await summarize(handle.db, await tablesInOrder(handle.db, handle.dialect));
  } finally {
    await handle.close();
  }
}

/** A Gatehouse with something in most tables: people, a client, roles, a webhook, audit events and checkpoints. */
async function populate(url: string, label: string) {
  const harness = await buildTestApp(url, {
    overrides: {
      secrets: { key },
      passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
      outbound: { allowPrivateNetworks: true },
      jobs: { enabled: false },
    },
  });
  try {
    const admin = await signedInAccount(harness.app, `backup-admin-${label}`, 'example');
    await harness.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
    for (let index = 0; index < 5; index += 1)
      await signedInAccount(harness.app, `person-${index}-${label}`, 'example');
    await harness.app.services.clients.create(
      { name: 'Backed-up app', grants: ['authorization_code'], redirectUris: ['https://app.example/cb'] },
      {},
    );
    await harness.app.inject({
      method: 'POST',
      url: '/api/v1/admin/webhooks',
      headers: admin.headers,
      payload: { name: 'SIEM', url: 'http://127.0.0.1:9/hook', events: ['*'] },
    });
    await harness.app.services.auditWriter.flush();
    await harness.app.services.checkpointNow();
  } finally {
    await harness.app.close();
  }
}

afterAll(async () => {
  for (const database of databases) await database.drop();
});

describe('backup and restore across dialects', () => {
  let sqliteSource: TestDatabase;
  let postgresSource: TestDatabase;

  beforeAll(async () => {
    sqliteSource = await fresh('sqlite');
    postgresSource = await fresh('postgres');
    await populate(sqliteSource.url, 'sqlite');
    await populate(postgresSource.url, 'postgres');
  }, 60_000);

  it('backs up SQLite and restores it into PostgreSQL with every table equal, and the audit log verifying', async () => {
    const file = join(directory, 'from-sqlite.ghbk');
    const created = await runGatehouse(['backup', 'create', '--out', file], envFor(sqliteSource.url));
    expect(created.stderr).toBe('');
    expect(created.exitCode).toBe(0);
    expect(created.stdout).toMatch(
      /^wrote .*from-sqlite\.ghbk: \d+ tables, \d+ rows, schema 0017_federation\n$/,
    );
    // Compressed and encrypted: no e-mail address or table name appears in the file.
    const raw = readFileSync(file);
    expect(raw.includes('backup-admin-sqlite')).toBe(false);
    expect(raw.includes('audit_events')).toBe(false);

    const verified = await runGatehouse(['backup', 'verify', file], envFor(sqliteSource.url));
    expect(verified.stdout).toMatch(/^OK: \d+ tables, \d+ rows; schema 0017_federation, from sqlite/);

    const target = await fresh('postgres');
    const restored = await runGatehouse(['backup', 'restore', file], envFor(target.url));
    expect(restored.stderr).toBe('');
    expect(restored.exitCode).toBe(0);
    expect(restored.stdout).toMatch(/counts and checksums match/);
    const [before, after] = [await contents(sqliteSource.url), await contents(target.url)];
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    expect(after).toEqual(before);
    expect(before.users!.rows).toBe(6);
    expect(before.audit_events!.rows).toBeGreaterThan(10);

    const audit = await runGatehouse(['audit', 'verify'], envFor(target.url));
    expect(audit.stdout).toMatch(/^OK: \d+ events, \d+ checkpoints/);
    expect(audit.exitCode).toBe(0);

    // Into a database that already has data: refused, nothing changed.
    const again = await runGatehouse(['backup', 'restore', file], envFor(target.url));
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(/already has users: restore into a new, empty database/);
    expect(await contents(target.url)).toEqual(before);
  });

  it('backs up PostgreSQL under a passphrase and restores it into SQLite; a changed file or wrong passphrase is refused', async () => {
    const file = join(directory, 'from-postgres.ghbk');
    const passphraseFile = join(directory, 'passphrase');
    writeFileSync(passphraseFile, 'correct horse battery staple\n', { mode: 0o600 });
    const created = await runGatehouse(
      ['backup', 'create', '--out', file, '--passphrase-file', passphraseFile],
      envFor(postgresSource.url),
    );
    expect(created.exitCode, created.stderr).toBe(0);

    // Without the passphrase, or with another one, the file does not open.
    const keyring = await runGatehouse(['backup', 'verify', file], envFor(postgresSource.url));
    expect(keyring.stderr).toMatch(/protected by a passphrase/);
    const wrong = await runGatehouse(
      ['backup', 'verify', file],
      envFor(postgresSource.url, { GATEHOUSE_BACKUP_PASSPHRASE: 'not the passphrase at all' }),
    );
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toMatch(/does not decrypt/);
    // One changed byte in the middle, or a cut, is found.
    const bytes = readFileSync(file);
    const tampered = Buffer.from(bytes);
    tampered[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(join(directory, 'tampered.ghbk'), tampered);
    const changed = await runGatehouse(
      ['backup', 'verify', join(directory, 'tampered.ghbk'), '--passphrase-file', passphraseFile],
      envFor(postgresSource.url),
    );
    expect(changed.exitCode).toBe(1);
    expect(changed.stderr).toMatch(/does not decrypt/);
    writeFileSync(join(directory, 'cut.ghbk'), bytes.subarray(0, bytes.length - 40));
    const cut = await runGatehouse(
      ['backup', 'verify', join(directory, 'cut.ghbk'), '--passphrase-file', passphraseFile],
      envFor(postgresSource.url),
    );
    expect(cut.exitCode).toBe(1);

    const target = await fresh('sqlite');
    const restored = await runGatehouse(
      ['backup', 'restore', file, '--passphrase-file', passphraseFile],
      envFor(target.url),
    );
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(await contents(target.url)).toEqual(await contents(postgresSource.url));
    const audit = await runGatehouse(['audit', 'verify'], envFor(target.url));
    expect(audit.stdout).toMatch(/^OK: /);
  });

  it('refuses a backup from a newer Gatehouse', async () => {
    const file = join(directory, 'future.ghbk');
    const manifest = {
      format: 1,
      gatehouseVersion: '99.0.0',
      schemaVersion: '9999_future',
      dialect: 'sqlite',
      createdAt: new Date().toISOString(),
      tables: {},
    };
    await writeArchive(
      file,
      { passphrase: 'a passphrase for the future' },
      (async function* () {
        yield JSON.stringify({ manifest });
      })(),
    );
    const env = envFor(sqliteSource.url, { GATEHOUSE_BACKUP_PASSPHRASE: 'a passphrase for the future' });
    const verified = await runGatehouse(['backup', 'verify', file], env);
    expect(verified.exitCode).toBe(1);
    expect(verified.stdout).toMatch(/schema 9999_future is newer than this Gatehouse knows/);
    const target = await fresh('sqlite');
    const restored = await runGatehouse(['backup', 'restore', file], { ...env, DATABASE_URL: target.url });
    expect(restored.exitCode).toBe(1);
    expect(restored.stderr).toMatch(/newer than this Gatehouse knows/);
  });

  it('moves everything from SQLite to PostgreSQL with gatehouse migrate-data, and a second run changes nothing', async () => {
    const target = await fresh('postgres');
    const moved = await runGatehouse(
      ['migrate-data', '--from', sqliteSource.url, '--to', target.url],
      envFor(sqliteSource.url),
    );
    expect(moved.stderr).toBe('');
    expect(moved.exitCode).toBe(0);
    expect(moved.stdout).toMatch(/^users: 6 rows$/m);
    expect(moved.stdout).toMatch(
      /copied \d+ rows in \d+ tables \(schema 0017_federation\); counts and checksums match/,
    );
    expect(await contents(target.url)).toEqual(await contents(sqliteSource.url));

    const rerun = await runGatehouse(
      ['migrate-data', '--from', sqliteSource.url, '--to', target.url],
      envFor(sqliteSource.url),
    );
    expect(rerun.exitCode).toBe(0);
    expect(rerun.stdout).toMatch(/nothing to do: the target already holds exactly this data/);
    // Into a database holding other data: refused.
    const other = await runGatehouse(
      ['migrate-data', '--from', sqliteSource.url, '--to', postgresSource.url],
      envFor(sqliteSource.url),
    );
    expect(other.exitCode).toBe(1);
    expect(other.stderr).toMatch(/already holds other data/);
  });
});

describe('scheduled backups', () => {
  it('keeps the newest backup of each recent day and week and deletes the rest', () => {
    const day = 86_400_000;
    const now = Date.UTC(2026, 10, 23, 12); // a Monday
    // Two a day for 40 days.
    const times = Array.from(
      { length: 80 },
      (_, index) => now - Math.floor(index / 2) * day - (index % 2) * 3_600_000,
    );
    const { keep, remove } = planRetention(times, now, 7, 4);
    expect(keep.length + remove.length).toBe(80);
    // Today's and the six days before: the later backup of each (today at 12:00, earlier days at 12:00 too).
    const days = keep.filter((time) => time > now - 7 * day);
    expect(days).toEqual(Array.from({ length: 7 }, (_, index) => now - index * day));
    // Plus the newest of each of the last four ISO weeks: this week's and last week's are among the days
    // already kept (today, and yesterday, a Sunday); the two before end on the Sundays 8 and 15 days ago.
    const weeks = keep.filter((time) => time <= now - 7 * day);
    expect(weeks).toEqual([now - 8 * day, now - 15 * day]);
    expect(new Date(now).getUTCDay()).toBe(1);
    expect(planRetention(times, now, 0, 0).keep).toEqual([]);
  });

  it('runs as a scheduled job into a directory, and prunes by the retention settings', async () => {
    const database = await fresh('sqlite');
    const backups = mkdtempSync(join(tmpdir(), 'gatehouse-scheduled-'));
    const clock = new FakeClock(Date.UTC(2026, 10, 20, 2, 30));
    const harness = await buildTestApp(database.url, {
      clock,
      overrides: {
        secrets: { key },
        jobs: { enabled: false },
        backup: { directory: backups, schedule: '30 2 * * *', keepDaily: 2, keepWeekly: 0 },
      },
    });
    try {
      for (let night = 0; night < 4; night += 1) {
        await harness.app.services.jobs.enqueue('backup.scheduled', {});
        expect(await harness.app.services.jobs.runDue()).toBe(1);
        clock.advance(86_400_000);
      }
      const files = readdirSync(backups).sort();
      expect(files).toEqual([
        'gatehouse-2026-11-22T02-30-00-000Z.ghbk',
        'gatehouse-2026-11-23T02-30-00-000Z.ghbk',
      ]);
      const verified = await runGatehouse(
        ['backup', 'verify', join(backups, files[1]!)],
        envFor(database.url),
      );
      expect(verified.stdout).toMatch(/^OK: /);
      await harness.app.services.scheduler.tick();
      const schedules = await harness.app.services.scheduler.list();
      expect(schedules.find((entry) => entry.name === 'backup')).toMatchObject({ cron: '30 2 * * *' });
    } finally {
      await harness.app.close();
    }
  });
});
