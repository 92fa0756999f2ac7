import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { changedSettings, isReloadable, RELOADABLE_SETTINGS } from '../src/config/live.js';
import { ConfigSchema } from '../src/config/schema.js';
import { type SignedInAccount, signedInAccount } from './helpers/accounts.js';
import { buildTestApp, closeTestApp, type TestApp } from './helpers/app.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from './helpers/dialects.js';

const FAST = {
  passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
  accounts: { notifyNewSignIn: false },
};

const directories: string[] = [];
afterAll(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** A config file in a fresh directory; `write` replaces its content (YAML) as an operator's deploy would. */
function configFile(initial: unknown) {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-reload-'));
  directories.push(directory);
  const path = join(directory, 'gatehouse.yaml');
  const write = (content: unknown) =>
    writeFileSync(path, typeof content === 'string' ? content : toYaml(content));
  write(initial);
  return { path, write };
}

const settingsFile = (anonymousLimit: number, primaryColor: string, extra: Record<string, unknown> = {}) => ({
  ...extra,
  security: {
    rateLimits: { anonymous: { limit: anonymousLimit, burst: 0 } },
    ...(extra.security as object | undefined),
  },
  accounts: { branding: { primaryColor }, ...(extra.accounts as object | undefined) },
});

describe('which settings reload', () => {
  it('names only settings that exist, and compares settings leaf by leaf', () => {
    for (const path of RELOADABLE_SETTINGS) {
      let schema: TSchema | undefined = ConfigSchema;
      for (const segment of path.split('.')) {
        schema = (schema as { properties?: Record<string, TSchema> } | undefined)?.properties?.[segment];
      }
      expect(schema, path).toBeDefined();
    }
    expect(
      changedSettings(
        { log: { level: 'info' }, server: { port: 1 }, list: [1, 2], sources: ['a'] },
        { log: { level: 'debug' }, server: { port: 1 }, list: [1, 3], sources: ['b'] },
      ),
    ).toEqual(['list', 'log.level']);
    expect(isReloadable('security.rateLimits.auth.limit')).toBe(true);
    expect(isReloadable('security.rateLimitsX')).toBe(false);
    expect(isReloadable('accounts.productName')).toBe(false);
  });
});

describe('configuration reload on one node', () => {
  let database: TestDatabase;
  let harness: TestApp;
  let admin: SignedInAccount;
  const file = configFile(settingsFile(50, '#123456'));

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    harness = await buildTestApp(database.url, {
      configFile: file.path,
      // The test harness turns rate limits off (an override, which wins over the file); on here.
      overrides: { ...FAST, security: { rateLimits: { enabled: true } } },
    });
    admin = await signedInAccount(harness.app, 'reload-admin', 'one-node');
    await harness.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
  });
  afterAll(async () => {
    await closeTestApp(harness);
    await database?.drop();
  });

  const reload = (headers: Record<string, string> = admin.headers) =>
    harness.app.inject({ method: 'POST', url: '/api/v1/admin/system/config/reload', headers });
  const loginPage = (remoteAddress = '127.0.0.1') =>
    harness.app.inject({ method: 'GET', url: '/login', remoteAddress });
  const running = async () => {
    const response = await harness.app.inject({
      method: 'GET',
      url: '/api/v1/admin/system/config',
      headers: admin.headers,
    });
    expect(response.statusCode, response.body).toBe(200);
    return response.json().settings;
  };
  const metrics = async () => (await harness.app.inject({ method: 'GET', url: '/metrics' })).body;

  it('applies a new rate limit, deny list and branding from the file, and enforces them at once', async () => {
    const before = await loginPage();
    expect(before.statusCode).toBe(200);
    expect(before.body).toContain('#123456');
    expect(before.headers['ratelimit-policy']).toBe('"anonymous";q=50;w=60');

    file.write(settingsFile(3, '#0b6e4f', { security: { denyList: ['203.0.113.0/24'] } }));
    // Writing the file changes nothing by itself.
    expect((await loginPage()).body).toContain('#123456');
    expect((await loginPage('203.0.113.9')).statusCode).toBe(200);

    const member = await signedInAccount(harness.app, 'reload-member', 'one-node');
    expect((await reload(member.headers)).statusCode).toBe(403);

    const response = await reload();
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({
      result: 'applied',
      revision: 2,
      restartRequired: [],
      // One node without Redis: nobody else to tell.
      propagated: false,
    });
    expect(body.applied).toEqual([
      'accounts.branding.primaryColor',
      'security.denyList',
      'security.rateLimits.anonymous.limit',
    ]);
    expect(body.hash).toMatch(/^[\w-]{16}$/);

    // The new limit: three page views per minute from one address, then 429.
    const statuses: number[] = [];
    let page = await loginPage();
    expect(page.body).toContain('#0b6e4f');
    expect(page.body).not.toContain('#123456');
    expect(page.headers['ratelimit-policy']).toBe('"anonymous";q=3;w=60');
    statuses.push(page.statusCode);
    for (let i = 0; i < 3; i += 1) {
      page = await loginPage();
      statuses.push(page.statusCode);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(page.json()).toMatchObject({ code: 'too_many_requests' });
    expect(page.headers['retry-after']).toBeDefined();
    // The new deny list.
    const denied = await loginPage('203.0.113.9');
    expect(denied.statusCode).toBe(403);

    const settings = await running();
    expect(settings.security.rateLimits.anonymous.limit).toBe(3);
    expect(settings.accounts.branding.primaryColor).toBe('#0b6e4f');

    const reloaded = harness.logs.entries.find(
      (line) => line.securityEvent === 'config.reloaded' && line.outcome === 'success',
    );
    expect(reloaded).toMatchObject({
      actorType: 'user',
      actorId: admin.id,
      details: { trigger: 'api', revision: 2, applied: body.applied },
    });
    const text = await metrics();
    expect(text).toContain('gatehouse_config_reloads_total{result="applied",trigger="api"} 1');
    expect(text).toContain(`gatehouse_config_revision{hash="${body.hash}"} 2`);
    expect(text).toContain('gatehouse_config_restart_pending 0');
  });

  it('keeps the running configuration when the file is invalid, and says why', async () => {
    const before = await running();

    file.write(settingsFile(0, 'red'));
    const invalid = await reload();
    expect(invalid.statusCode, invalid.body).toBe(422);
    expect(invalid.headers['content-type']).toContain('application/problem+json');
    const problem = invalid.json();
    expect(problem).toMatchObject({ code: 'config_reload_invalid' });
    expect(problem.detail).toContain('nothing was changed');
    expect(problem.detail).toContain('security.rateLimits.anonymous.limit');
    expect(problem.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'security.rateLimits.anonymous.limit' }),
        { path: 'accounts.branding.primaryColor', message: expect.any(String) },
      ]),
    );

    file.write('security: [this is: not valid yaml\n');
    const broken = await reload();
    expect(broken.statusCode).toBe(422);
    expect(broken.json().detail).toMatch(/not valid YAML/);

    // Nothing changed: the settings, the revision, and even the budget already spent (still refused).
    expect(await running()).toEqual(before);
    const page = await loginPage();
    expect(page.statusCode).toBe(429);
    expect(page.headers['ratelimit-policy']).toBe('"anonymous";q=3;w=60');

    const failed = harness.logs.entries.filter((line) => line.securityEvent === 'config.reload_failed');
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatchObject({ severity: 'high', outcome: 'failure', details: { trigger: 'api' } });
    expect(await metrics()).toContain('gatehouse_config_reloads_total{result="failed",trigger="api"} 2');
  });

  it('reports settings that need a restart without applying them', async () => {
    file.write(
      settingsFile(3, '#654321', {
        server: { bodyLimitBytes: 4096 },
        security: { denyList: ['203.0.113.0/24'] },
        accounts: { productName: 'Renamed Gate' },
      }),
    );
    const response = await reload();
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({
      result: 'applied',
      revision: 3,
      applied: ['accounts.branding.primaryColor'],
      restartRequired: ['accounts.productName', 'server.bodyLimitBytes'],
    });
    const settings = await running();
    expect(settings.accounts.productName).toBe('Gatehouse');
    expect(settings.server.bodyLimitBytes).toBe(1_048_576);
    expect(settings.accounts.branding.primaryColor).toBe('#654321');
    // The OpenID engine's own pages too (from another address: this one's page budget is spent).
    const devicePage = await harness.app.inject({
      method: 'GET',
      url: '/oauth2/device',
      remoteAddress: '198.51.100.4',
    });
    expect(devicePage.statusCode, devicePage.body).toBe(200);
    expect(devicePage.body).toContain('#654321');
    expect(
      harness.logs.entries.some(
        (line) =>
          line.msg === 'changed settings that apply only after a restart were not applied' &&
          JSON.stringify(line.restartRequired) === '["accounts.productName","server.bodyLimitBytes"]',
      ),
    ).toBe(true);
    expect(await metrics()).toContain('gatehouse_config_restart_pending 2');

    // Reloading again changes nothing more, and still says a restart is pending.
    const again = await reload();
    expect(again.json()).toMatchObject({
      result: 'unchanged',
      revision: 3,
      applied: [],
      restartRequired: ['accounts.productName', 'server.bodyLimitBytes'],
    });
  });
});

describe('configuration reload across nodes (PostgreSQL, Redis)', () => {
  let database: TestDatabase;
  let nodeA: TestApp;
  let nodeB: TestApp;
  let admin: SignedInAccount;
  const fileA = configFile(settingsFile(30, '#111111'));
  const fileB = configFile(settingsFile(30, '#111111'));

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const keyPrefix = `gatehouse-reload-test-${randomUUID()}:`;
    const node = (path: string) =>
      buildTestApp(database.url, {
        configFile: path,
        overrides: { ...FAST, redis: { url: TEST_REDIS_URL, keyPrefix } },
      });
    nodeA = await node(fileA.path);
    nodeB = await node(fileB.path);
    admin = await signedInAccount(nodeA.app, 'reload-admin', 'two-nodes');
    await nodeA.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
  });
  afterAll(async () => {
    await closeTestApp(nodeA);
    await closeTestApp(nodeB);
    await database?.drop();
  });

  const reloadOnA = () =>
    nodeA.app.inject({ method: 'POST', url: '/api/v1/admin/system/config/reload', headers: admin.headers });
  const pageOnB = async () => (await nodeB.app.inject({ method: 'GET', url: '/login' })).body;

  it('reloads on node A and makes node B read its own new file', async () => {
    expect(await pageOnB()).toContain('#111111');
    fileA.write(settingsFile(30, '#aa0000'));
    fileB.write(settingsFile(30, '#00bb00'));

    const response = await reloadOnA();
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({
      result: 'applied',
      applied: ['accounts.branding.primaryColor'],
      propagated: true,
    });
    expect((await nodeA.app.inject({ method: 'GET', url: '/login' })).body).toContain('#aa0000');

    await expect.poll(pageOnB, { timeout: 5_000 }).toContain('#00bb00');
    const onB = nodeB.logs.entries.find((line) => line.securityEvent === 'config.reloaded');
    expect(onB).toMatchObject({
      actorType: 'system',
      details: {
        trigger: 'broadcast',
        applied: ['accounts.branding.primaryColor'],
        origin: { requestId: expect.any(String) },
      },
    });
    // Node A heard its own message and did not reload twice.
    expect(nodeA.logs.entries.filter((line) => line.securityEvent === 'config.reloaded')).toHaveLength(1);
  });

  it('leaves a node whose new file is invalid running with what it had', async () => {
    fileA.write(settingsFile(30, '#aa0001'));
    fileB.write(settingsFile(30, 'not-a-colour'));
    const response = await reloadOnA();
    expect(response.statusCode, response.body).toBe(200);

    await expect
      .poll(() => nodeB.logs.entries.some((line) => line.securityEvent === 'config.reload_failed'), {
        timeout: 5_000,
      })
      .toBe(true);
    expect(
      nodeB.logs.entries.find(
        (line) => line.msg === 'configuration reload failed: the running configuration is kept unchanged',
      ),
    ).toMatchObject({
      trigger: 'broadcast',
      problems: [expect.stringContaining('accounts.branding.primaryColor')],
    });
    expect(await pageOnB()).toContain('#00bb00');
    expect(nodeB.app.configReloader.state().revision).toBe(2);
    expect(nodeA.app.configReloader.state().revision).toBe(3);
  });
});

describe('SIGHUP', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
  });

  // log.level is reloadable too; the test harness pins it (an override), so the real process shows it here.
  it('reloads the configuration file of the running process', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-sighup-'));
    directories.push(dataDir);
    const file = configFile({ accounts: { branding: { primaryColor: '#123abc' } } });
    // Node itself with tsx's loader (not the tsx CLI, a parent process that would not pass SIGHUP on).
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        PATH: process.env.PATH ?? '',
        GATEHOUSE_CONFIG: file.path,
        GATEHOUSE_DATA_DIR: dataDir,
        PORT: '0',
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
    const waitFor = async (pattern: RegExp, count = 1) => {
      await expect
        .poll(() => (output.match(new RegExp(pattern, 'g')) ?? []).length, { timeout: 25_000, interval: 100 })
        .toBeGreaterThanOrEqual(count);
    };

    await waitFor(/"msg":"gatehouse is ready"/);
    const address = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    expect(address).toBeDefined();
    const page = async () => (await fetch(`${address}/login`)).text();
    expect(await page()).toContain('#123abc');

    await waitFor(/"msg":"request completed"/);
    file.write({ log: { level: 'warn' }, accounts: { branding: { primaryColor: '#fedcba' } } });
    child.kill('SIGHUP');
    // Recorded (at warn: a change) before it applies; the info line after it is below the new level.
    await waitFor(/"securityEvent":"config.reloaded"/);
    expect(output).toContain('"applied":["accounts.branding.primaryColor","log.level"]');
    const requestLines = (output.match(/"msg":"request completed"/g) ?? []).length;
    expect(await page()).toContain('#fedcba');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((output.match(/"msg":"request completed"/g) ?? []).length).toBe(requestLines);

    // An invalid file: the process keeps running with what it had.
    file.write({ log: { level: 'warn' }, accounts: { branding: { primaryColor: 'blue' } } });
    child.kill('SIGHUP');
    await waitFor(/"msg":"configuration reload failed: the running configuration is kept unchanged"/);
    expect(output).toContain('"securityEvent":"config.reload_failed"');
    expect(await page()).toContain('#fedcba');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
