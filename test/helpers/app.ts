import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type GatehouseApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { Clock } from '../../src/platform/clock.js';
import { LogCapture } from './logs.js';

export interface TestApp {
  readonly app: GatehouseApp;
  readonly config: Config;
  readonly logs: LogCapture;
}

type Overrides = Record<string, unknown>;

function merge(base: Overrides, extra: Overrides): Overrides {
  const result: Overrides = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const existing = result[key];
    result[key] =
      typeof existing === 'object' && existing && typeof value === 'object' && value && !Array.isArray(value)
        ? merge(existing as Overrides, value as Overrides)
        : value;
  }
  return result;
}

/** `env` is the environment loadConfig sees (GATEHOUSE_CONFIG names a config file); overrides win over it. */
export function testConfig(
  databaseUrl: string,
  overrides: Overrides = {},
  env: Record<string, string> = {},
): Config {
  return loadConfig({
    env,
    overrides: merge(
      {
        env: 'test',
        dataDir: (overrides.dataDir as string | undefined) ?? mkdtempSync(join(tmpdir(), 'gatehouse-data-')),
        database: { url: databaseUrl },
        // One key per database: every node (app) on the same database must share it, as in production.
        secrets: { key: createHash('sha256').update(`gatehouse-test:${databaseUrl}`).digest('hex') },
        log: { level: 'info' },
        // Fake-clock tests and coverage slow the loop; overload protection is tested on its own.
        http: { maxEventLoopDelayMs: 0 },
        // Suites sign in many times from one address; rate limits are tested on their own (security.test.ts).
        security: { rateLimits: { enabled: false } },
        // Suites run housekeeping themselves and count what it deletes; the scheduler is tested on its own.
        jobs: { schedules: { housekeeping: { cron: '' }, alerts: { cron: '' } } },
      },
      overrides,
    ),
  });
}

/**
 * Builds a full Gatehouse app on the given database, capturing its logs. Call `app.close()` after. With
 * `configFile`, settings also come from that file (below the overrides), and a configuration reload reads it
 * again as a restarted node would.
 */
export async function buildTestApp(
  databaseUrl: string,
  options: { overrides?: Overrides; clock?: Clock; configFile?: string } = {},
): Promise<TestApp> {
  const env: Record<string, string> = options.configFile ? { GATEHOUSE_CONFIG: options.configFile } : {};
  const config = testConfig(databaseUrl, options.overrides, env);
  const logs = new LogCapture();
  const app = await buildApp(config, {
    logDestination: logs,
    ...(options.clock ? { clock: options.clock } : {}),
    // The same sources again, and the same data directory (not a new temporary one).
    reloadConfig: () => testConfig(databaseUrl, { ...options.overrides, dataDir: config.dataDir }, env),
  });
  return { app, config, logs };
}

/**
 * Runs `body` against a Gatehouse app on a fresh database of the given dialect, then closes the app and
 * drops the database, whatever happened.
 */
export async function withTestApp<T>(
  dialect: import('../../src/platform/db/connection.js').Dialect,
  options: { overrides?: Overrides; clock?: Clock },
  body: (harness: TestApp) => Promise<T>,
): Promise<T> {
  const { createTestDatabase } = await import('./dialects.js');
  const database = await createTestDatabase(dialect);
  try {
    const harness = await buildTestApp(database.url, options);
    try {
      return await body(harness);
    } finally {
      await harness.app.close();
    }
  } finally {
    await database.drop();
  }
}

/**
 * Closes an app, and if that takes longer than `withinMs` fails naming what was still open (database pool,
 * server connections, the last log lines), instead of a bare hook timeout that says nothing.
 */
export async function closeTestApp(harness: TestApp | undefined, withinMs = 20_000): Promise<void> {
  if (!harness) return;
  const { app, logs } = harness;
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      app.server.getConnections((_error, connections) => {
        reject(
          new Error(
            `the app did not close within ${withinMs} ms: ${JSON.stringify({
              pool: app.gatehouse.database.poolStats(),
              serverConnections: connections,
              lastLogs: logs.lines.slice(-15),
            })}`,
          ),
        );
      });
    }, withinMs);
  });
  try {
    await Promise.race([app.close(), stuck]);
  } finally {
    clearTimeout(timer);
  }
}

export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A Gatehouse app listening on a real loopback socket whose public URL is http://localhost:<port>, for clients
 * that need the issuer and origin to match what they connect to (openid-client, WebAuthn in a browser).
 */
export async function listenTestApp(
  databaseUrl: string,
  overrides: Overrides = {},
  clock?: Clock,
): Promise<TestApp & { baseUrl: string }> {
  // A caller that must know the address before the app exists (to register it elsewhere) picks the port.
  const port = (overrides.server as { port?: number } | undefined)?.port ?? (await freePort());
  const baseUrl = `http://localhost:${port}`;
  const harness = await buildTestApp(databaseUrl, {
    overrides: merge(
      {
        server: { host: '127.0.0.1', port, publicUrl: baseUrl },
        passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
        accounts: { notifyNewSignIn: false },
      },
      overrides,
    ),
    ...(clock ? { clock } : {}),
  });
  await harness.app.listen({ host: '127.0.0.1', port });
  return { ...harness, baseUrl };
}
