import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { runGatehouse as run } from '../helpers/cli.js';
import { describeEachDialect } from '../helpers/dialects.js';

const PASSWORD = 'violet-harbor-lantern-42';

describeEachDialect('gatehouse api-keys', (testDatabase, dialect) => {
  let harness: TestApp;
  let env: Record<string, string>;
  const email = `cli-keys-${dialect}@example.com`;

  beforeAll(async () => {
    harness = await buildTestApp(testDatabase().url, {
      overrides: { passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } } },
    });
    const created = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email, password: PASSWORD },
    });
    await harness.app.services.authz.assign({ type: 'user', id: created.json().user.id }, 'auditor', {});
    env = {
      NODE_ENV: 'test',
      GATEHOUSE_DATA_DIR: mkdtempSync(join(tmpdir(), 'gatehouse-cli-keys-')),
      GATEHOUSE_SECRET_KEY: createHash('sha256').update(`gatehouse-test:${testDatabase().url}`).digest('hex'),
      DATABASE_URL: testDatabase().url,
    };
  });

  afterAll(async () => {
    await harness?.app.close();
  });

  it('creates a key printed once that works as a bearer token, lists it without its secret, and revokes it', async () => {
    const created = await run(
      [
        'api-keys',
        'create',
        '--email',
        email.toUpperCase(),
        '--name',
        'nightly',
        '--scope',
        'users:read',
        '--json',
      ],
      env,
    );
    expect(created.exitCode, created.stderr).toBe(0);
    const { key, token } = JSON.parse(created.stdout) as {
      key: { id: string; scopes: string[] };
      token: string;
    };
    expect(key.scopes).toEqual(['users:read']);
    const use = () =>
      harness.app.inject({
        method: 'GET',
        url: '/api/v1/admin/users',
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await use()).statusCode).toBe(200);

    const listed = await run(['api-keys', 'list', '--email', email], env);
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(`${key.id}  active   nightly  scopes: users:read`);
    expect(listed.stdout).not.toContain(token);

    const revoked = await run(['api-keys', 'revoke', key.id], env);
    expect(revoked.exitCode, revoked.stderr).toBe(0);
    expect((await use()).statusCode).toBe(401);

    const bad = await run(
      ['api-keys', 'create', '--email', email, '--name', 'x', '--scope', 'Not Valid'],
      env,
    );
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('/scopes/0');
    const nobody = await run(['api-keys', 'create', '--email', 'nobody@example.com', '--name', 'x'], env);
    expect(nobody.exitCode).not.toBe(0);
    expect(nobody.stderr).toContain('No account for nobody@example.com');
  });
});
