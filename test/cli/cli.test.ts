import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../../migrations/index.js';
import { runCli } from '../../src/cli/program.js';
import { createDatabase } from '../../src/platform/db/connection.js';
import { MIGRATION_TABLE } from '../../src/platform/db/migrate.js';
import { createLogger } from '../../src/platform/logger.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { VERSION } from '../../src/platform/version.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { type CliRun, runGatehouse } from '../helpers/cli.js';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../helpers/dialects.js';

const MIGRATION_NAMES = Object.keys(migrations);

const directories: string[] = [];

afterAll(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function temporaryDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
  directories.push(directory);
  return directory;
}

/** An environment that keeps everything the CLI might write out of ./data. */
function testEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    GATEHOUSE_DATA_DIR: temporaryDirectory(),
    GATEHOUSE_SECRET_KEY: randomBytes(32).toString('hex'),
    ...extra,
  };
}

const cli = (argv: string[], env: Record<string, string> = testEnv()): Promise<CliRun> =>
  runGatehouse(argv, env);

/** A port on which nothing listens: bound by us, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  return address.port;
}

describe('gatehouse command line', () => {
  it('lists the four commands on --help and exits 0', async () => {
    const run = await cli(['--help']);
    expect(run.exitCode).toBe(0);
    for (const command of ['serve', 'migrate', 'config', 'health']) {
      expect(run.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    }
  });

  it('prints the version', async () => {
    const run = await cli(['--version']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout.trim()).toBe(VERSION);
  });

  it('rejects an unknown command with exit code 2 and says why on stderr', async () => {
    const run = await cli(['frobnicate']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("unknown command 'frobnicate'");
    expect(run.stdout).toBe('');
  });

  it('rejects an unknown option with exit code 2', async () => {
    const run = await cli(['migrate', '--bogus']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("unknown option '--bogus'");
  });

  it('rejects a timeout that is not a positive whole number with exit code 2', async () => {
    for (const value of ['abc', '0', '1.5', '-3']) {
      const run = await cli(['health', '--url', 'http://127.0.0.1:1', `--timeout-ms=${value}`]);
      expect(run.exitCode, value).toBe(2);
      expect(run.stderr, value).toContain('must be a positive whole number');
    }
  });

  it('rejects a --url that is not http(s) with exit code 2', async () => {
    const run = await cli(['health', '--url', 'ftp://example.com']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('must be an http:// or https:// URL');
  });

  it('refuses to serve with an invalid configuration, listing the problem', async () => {
    const run = await cli(['serve'], testEnv({ PORT: 'many' }));
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('server.port: must be a port number (0-65535)');
  });
});

describe('gatehouse config check', () => {
  it('prints the effective configuration with secrets masked and URLs still readable', async () => {
    const env = testEnv({
      DATABASE_URL: 'postgres://user:pw@db.internal.example/gatehouse',
      HEALTH_TOKEN: 'health-token-that-is-long-enough',
    });
    const run = await cli(['config', 'check'], env);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('db.internal.example');
    expect(run.stdout).toContain('sources');
    expect(run.stdout).toContain('environment');
    for (const secret of [env.GATEHOUSE_SECRET_KEY!, ':pw@', 'health-token-that-is-long-enough']) {
      expect(run.stdout + run.stderr).not.toContain(secret);
    }
  });

  it('prints JSON with --json', async () => {
    const env = testEnv({ DATABASE_URL: 'postgres://user:pw@db.internal.example/gatehouse' });
    const run = await cli(['config', 'check', '--json'], env);
    expect(run.exitCode).toBe(0);
    const printed = JSON.parse(run.stdout) as {
      sources: string[];
      config: { database: { url: string }; secrets: { key: string } };
    };
    expect(printed.sources).toEqual(['defaults', 'environment']);
    expect(printed.config.database.url).toBe('postgres://user:********@db.internal.example/gatehouse');
    expect(printed.config.secrets.key).toBe('********');
  });

  it('lists each problem on stderr and exits 1 when the configuration is invalid', async () => {
    const run = await cli(['config', 'check'], testEnv({ DATABASE_URL: 'mysql://x' }));
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('database.url: must be a sqlite: or postgres: URL');
    expect(run.stdout).toBe('');
  });

  it('creates nothing: no data directory, no secret key, no database', async () => {
    const dataDir = join(temporaryDirectory(), 'not-yet');
    const run = await cli(['config', 'check'], { NODE_ENV: 'development', GATEHOUSE_DATA_DIR: dataDir });
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('no secret key configured');
    expect(existsSync(dataDir)).toBe(false);
  });
});

async function insertFutureMigration(url: string): Promise<void> {
  const database = createDatabase(
    { url, poolSize: 1, slowQueryMs: 1000, busyTimeoutMs: 1000 },
    {
      logger: createLogger({ level: 'silent', pretty: false }),
      metrics: createMetrics({ collectProcessMetrics: false }),
    },
  );
  try {
    // The columns Kysely's Migrator creates: name (primary key) and timestamp (ISO text).
    await sql`insert into ${sql.table(MIGRATION_TABLE)} (${sql.ref('name')}, ${sql.ref('timestamp')}) values (${'9999_future'}, ${new Date().toISOString()})`.execute(
      database.db,
    );
  } finally {
    await database.close();
  }
}

describe('gatehouse migrate without a database', () => {
  it('exits 1 with a clear message when PostgreSQL cannot be reached', async () => {
    const url = `postgres://postgres@127.0.0.1:${await closedPort()}/gatehouse`;
    const run = await cli(['migrate', '--status'], testEnv({ DATABASE_URL: url }));
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(
      'gatehouse migrate: cannot read the migration state from the database: ECONNREFUSED',
    );
  });
});

describeEachDialect('gatehouse migrate', (testDatabase) => {
  const env = () => testEnv({ DATABASE_URL: testDatabase().url });

  it('reports pending migrations, applies them, then reports none pending', async () => {
    const before = await cli(['migrate', '--status'], env());
    expect(before.exitCode).toBe(1);
    expect(before.stdout).toContain('applied: none');
    expect(before.stdout).toContain(`pending: ${MIGRATION_NAMES.join(', ')}`);

    const applied = await cli(['migrate'], env());
    expect(applied.stderr).toBe('');
    expect(applied.exitCode).toBe(0);
    for (const name of MIGRATION_NAMES) expect(applied.stdout).toContain(`applied ${name}`);
    expect(applied.stdout).toContain(`${MIGRATION_NAMES.length} migration(s) applied`);

    const after = await cli(['migrate', '--status'], env());
    expect(after.exitCode).toBe(0);
    expect(after.stdout).toContain(`applied: ${MIGRATION_NAMES.join(', ')}`);
    expect(after.stdout).toContain('pending: none');

    const again = await cli(['migrate'], env());
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('nothing to apply');
  });

  it('refuses a database migrated by a newer Gatehouse', async () => {
    expect((await cli(['migrate'], env())).exitCode).toBe(0);
    await insertFutureMigration(testDatabase().url);

    const status = await cli(['migrate', '--status'], env());
    expect(status.exitCode).toBe(1);
    expect(status.stdout).toContain('unknown: 9999_future');
    expect(status.stderr).toContain('newer than this Gatehouse');

    const migrate = await cli(['migrate'], env());
    expect(migrate.exitCode).toBe(1);
    expect(migrate.stderr).toContain('9999_future');
    expect(migrate.stderr).toContain('run a newer Gatehouse');
    expect(migrate.stdout).not.toContain('applied');
  });
});

describe('gatehouse health', () => {
  const healthToken = 'a-health-token-for-operators';
  let database: TestDatabase;
  let harness: TestApp;
  let baseUrl: string;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    harness = await buildTestApp(database.url, { overrides: { health: { token: healthToken } } });
    baseUrl = await harness.app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await harness?.app.close();
    await database?.drop();
  });

  it('exits 0 and says up when the server is ready', async () => {
    const run = await cli(['health', '--url', baseUrl]);
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(`${baseUrl} is up`);
  });

  it('uses server.publicUrl from the configuration when no --url is given', async () => {
    const run = await cli(['health'], testEnv({ PUBLIC_URL: `${baseUrl}/` }));
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(`${baseUrl} is up`);
  });

  it('shows every component with --token', async () => {
    const run = await cli(['health', '--url', baseUrl, '--token', healthToken]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^COMPONENT\s+STATUS\s+CRITICAL/m);
    expect(run.stdout).toMatch(/^database\s+up\s+yes/m);
    expect(run.stdout).toMatch(/^migrations\s+up\s+yes/m);
    expect(run.stdout).toContain(`version ${VERSION}`);
  });

  it('says so when the server does not accept the token', async () => {
    const run = await cli(['health', '--url', baseUrl, '--token', 'not-the-health-token']);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toContain('did not accept the token');
  });

  it('exits 1 and names the failed components when the server is not ready', async () => {
    // Its own server: a registered check cannot be removed again.
    const brokenDatabase = await createTestDatabase('sqlite');
    const broken = await buildTestApp(brokenDatabase.url, { overrides: { health: { token: healthToken } } });
    try {
      broken.app.gatehouse.health.register({
        name: 'broken-for-test',
        critical: true,
        check: async () => {
          throw new Error('deliberately down');
        },
      });
      const brokenUrl = await broken.app.listen({ port: 0, host: '127.0.0.1' });
      const run = await cli(['health', '--url', brokenUrl, '--token', healthToken]);
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toContain(`${brokenUrl} is down (failed: broken-for-test)`);
      expect(run.stdout).toMatch(/^broken-for-test\s+down\s+yes\s+\d+ ms\s+deliberately down$/m);

      const ready = await cli(['health', '--url', brokenUrl]);
      expect(ready.exitCode).toBe(1);
      expect(ready.stdout).toContain(`${brokenUrl} is down (failed: broken-for-test)`);
    } finally {
      await broken.app.close();
      await brokenDatabase.drop();
    }
  });

  it('exits 1 with a clear message when nothing listens', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const run = await cli(['health', '--url', url]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`gatehouse health: cannot reach ${url}/health/ready: ECONNREFUSED`);
  });

  it('exits 1 when the server does not answer in time', async () => {
    const neverAnswers: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    let stderr = '';
    const exitCode = await runCli(['health', '--url', baseUrl, '--timeout-ms', '20'], {
      env: testEnv(),
      stdout: () => {},
      stderr: (text) => {
        stderr += text;
      },
      fetch: neverAnswers,
    });
    expect(exitCode).toBe(1);
    expect(stderr).toContain('no answer within 20 ms');
  });
});
