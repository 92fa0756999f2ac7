import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listenTestApp, type TestApp } from '../helpers/app.js';
import { runGatehouse } from '../helpers/cli.js';
import { describeEachDialect, TEST_REDIS_URL } from '../helpers/dialects.js';

const run = runGatehouse;

describeEachDialect('gatehouse clients and keys', (testDatabase, dialect) => {
  let harness: TestApp & { baseUrl: string };
  let env: Record<string, string>;
  const prefix = `gatehouse-cli-${dialect}-${Date.now()}:`;

  beforeAll(async () => {
    // A node with Redis, so a rotation made by the CLI (another process in real life) reaches it at once.
    harness = await listenTestApp(testDatabase().url, { redis: { url: TEST_REDIS_URL, keyPrefix: prefix } });
    env = {
      NODE_ENV: 'test',
      GATEHOUSE_DATA_DIR: mkdtempSync(join(tmpdir(), 'gatehouse-cli-')),
      // The same master key as the node (see test/helpers/app.ts): both must open the sealed keys.
      GATEHOUSE_SECRET_KEY: createHash('sha256').update(`gatehouse-test:${testDatabase().url}`).digest('hex'),
      DATABASE_URL: testDatabase().url,
      REDIS_URL: TEST_REDIS_URL,
      GATEHOUSE__REDIS__KEY_PREFIX: prefix,
    };
  });

  afterAll(async () => {
    await harness?.app.close();
  });

  it('creates a client whose secret is printed once and works at the token endpoint', async () => {
    const created = await run(
      ['clients', 'create', '--name', 'Nightly export', '--grant', 'client_credentials', '--json'],
      env,
    );
    expect(created.exitCode, created.stderr).toBe(0);
    const { client, secret } = JSON.parse(created.stdout) as {
      client: { id: string; name: string };
      secret: string;
    };
    expect(client.name).toBe('Nightly export');
    const config = await oidc.discovery(new URL(harness.baseUrl), client.id, secret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    expect((await oidc.clientCredentialsGrant(config)).access_token).toBeTruthy();

    const plain = await run(
      ['clients', 'create', '--name', 'SPA', '--public', '--redirect-uri', 'https://spa.example.com/cb'],
      env,
    );
    expect(plain.exitCode, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^client_id: {5}gh_[A-Za-z0-9_-]+\n$/);
  });

  it('refuses invalid flags with the reason and exit code 2', async () => {
    const bad = await run(['clients', 'create', '--name', 'X', '--grant', 'password'], env);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('gatehouse clients create: /grants/0');
    const inconsistent = await run(
      ['clients', 'create', '--name', 'X', '--grant', 'authorization_code'],
      env,
    );
    expect(inconsistent.exitCode).toBe(1);
    expect(inconsistent.stderr).toContain('redirect URI');
  });

  it('rotates signing keys: new tokens use the new key, tokens signed before still verify', async () => {
    const resource = `https://rotation-${dialect}.example.com`;
    await harness.app.services.resources.create({ identifier: resource, name: 'API', scopes: ['read'] }, {});
    const { client, secret } = await harness.app.services.clients.create(
      { name: 'Worker', grants: ['client_credentials'], scopes: ['read'] },
      {},
    );
    const config = await oidc.discovery(new URL(harness.baseUrl), client.id, secret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    const before = await oidc.clientCredentialsGrant(config, { resource, scope: 'read' });
    const oldKid = decodeProtectedHeader(before.access_token).kid;

    const rotated = await run(['keys', 'rotate'], env);
    expect(rotated.exitCode, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/^new signing keys: /);
    const listed = await run(['keys', 'list'], env);
    expect(listed.stdout).toContain(`${oldKid}  ES256  retiring`);

    // The node reloads on the pub/sub message; poll the JWKS until the new keys are published.
    let jwks: { keys: { kid: string }[] } = { keys: [] };
    for (let attempt = 0; attempt < 100 && jwks.keys.length < 4; attempt += 1) {
      jwks = (await (await fetch(`${harness.baseUrl}/oauth2/jwks`)).json()) as typeof jwks;
      if (jwks.keys.length < 4) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(jwks.keys.map((key) => key.kid)).toContain(oldKid);
    expect(jwks.keys).toHaveLength(4);

    const after = await oidc.clientCredentialsGrant(config, { resource, scope: 'read' });
    expect(decodeProtectedHeader(after.access_token).kid).not.toBe(oldKid);
    const keySet = createRemoteJWKSet(new URL(`${harness.baseUrl}/oauth2/jwks`));
    for (const token of [before.access_token, after.access_token]) {
      await expect(
        jwtVerify(token, keySet, { issuer: harness.baseUrl, audience: resource }),
      ).resolves.toBeTruthy();
    }
  });
});
