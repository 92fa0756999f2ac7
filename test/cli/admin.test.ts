import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { runGatehouse } from '../helpers/cli.js';
import { describeEachDialect } from '../helpers/dialects.js';

const PASSWORD = 'first-admin-passphrase-91';

const run = runGatehouse;

describeEachDialect('gatehouse admin create', (testDatabase) => {
  const key = randomBytes(32).toString('hex');
  let env: Record<string, string>;

  beforeAll(() => {
    env = {
      NODE_ENV: 'test',
      GATEHOUSE_DATA_DIR: mkdtempSync(join(tmpdir(), 'gatehouse-admin-')),
      GATEHOUSE_SECRET_KEY: key,
      DATABASE_URL: testDatabase().url,
    };
  });

  it('refuses a role other than owner or admin', async () => {
    const refused = await run(
      ['admin', 'create', '--email', 'god@example.com', '--password-stdin', '--role', 'god'],
      env,
      `${PASSWORD}\n`,
    );
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('--role must be owner or admin');
  });

  it('creates an administrator from a password on standard input, who can then sign in', async () => {
    const created = await run(
      ['admin', 'create', '--email', 'Root@Example.com', '--password-stdin', '--name', 'Root'],
      env,
      `${PASSWORD}\n`,
    );
    expect(created.stderr).not.toContain(PASSWORD);
    expect(created.exitCode).toBe(0);
    expect(created.stdout).toMatch(
      /^created administrator root@example\.com \([0-9a-f-]{36}\) with role owner\n$/,
    );

    const { app } = await buildTestApp(env.DATABASE_URL!, { overrides: { secrets: { key } } });
    try {
      const login = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'root@example.com', password: PASSWORD },
      });
      expect(login.statusCode).toBe(200);
      expect(login.json().user).toMatchObject({ isAdmin: true, emailVerified: true, name: 'Root' });
      // The owner role, so the first administrator can do everything, granting roles included.
      const permissions = await app.inject({
        method: 'GET',
        url: '/api/v1/me/permissions',
        headers: { cookie: String(login.headers['set-cookie']).split(';')[0]! },
      });
      expect(permissions.json().roles).toEqual(['admin', 'auditor', 'owner', 'user']);
      expect(permissions.json().permissions).toContain('*');
    } finally {
      await app.close();
    }
  });

  it('refuses a duplicate, a weak password, and ambiguous password options', async () => {
    const duplicate = await run(
      ['admin', 'create', '--email', 'root@example.com', '--password', PASSWORD],
      env,
    );
    expect(duplicate.exitCode).toBe(1);
    expect(duplicate.stderr).toContain('already exists');
    const weak = await run(['admin', 'create', '--email', 'weak@example.com', '--password', 'password'], env);
    expect(weak.exitCode).toBe(1);
    expect(weak.stderr).toContain('commonly used');
    const both = await run(
      ['admin', 'create', '--email', 'x@example.com', '--password', PASSWORD, '--password-stdin'],
      env,
      PASSWORD,
    );
    expect(both.exitCode).toBe(1);
    expect(both.stderr).toContain('exactly one of --password and --password-stdin');
    const missing = await run(['admin', 'create', '--password', PASSWORD], env);
    expect(missing.exitCode).toBe(2);
  });
});
