import { createServer } from 'node:net';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { describeEachDialect } from './helpers/dialects.js';

const PASSWORD = 'violet-harbor-lantern-42';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describeEachDialect('OpenID Connect provider', (testDatabase, dialect) => {
  let harness: TestApp;
  let issuer: string;
  let admin: { cookie: string; csrf: string };

  beforeAll(async () => {
    const port = await freePort();
    issuer = `http://localhost:${port}`;
    harness = await buildTestApp(testDatabase().url, {
      overrides: {
        server: { host: '127.0.0.1', port, publicUrl: issuer },
        passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
        accounts: { notifyNewSignIn: false },
      },
    });
    await harness.app.listen({ host: '127.0.0.1', port });
    const email = `admin-${dialect}@example.com`;
    const created = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email, password: PASSWORD },
    });
    await harness.app.gatehouse.database.db
      .updateTable('users')
      .set({ is_admin: 1 })
      .where('id', '=', created.json().user.id)
      .execute();
    const login = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password: PASSWORD },
    });
    admin = { cookie: String(login.headers['set-cookie']).split(';')[0]!, csrf: login.json().csrfToken };
  });

  afterAll(async () => {
    await harness?.app.close();
  });

  const adminCall = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    harness.app.inject({
      method,
      url,
      payload,
      headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf },
    });

  async function machineClient() {
    const response = await adminCall('POST', '/api/v1/admin/clients', {
      name: 'Billing worker',
      grants: ['client_credentials'],
      scopes: ['invoices:read'],
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as { client: { id: string }; secret: string };
  }

  const discover = (clientId: string, secret?: string) =>
    oidc.discovery(new URL(issuer), clientId, secret, undefined, { execute: [oidc.allowInsecureRequests] });

  it('publishes discovery and a JWKS with ES256 and RS256 public keys only', async () => {
    const metadata = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      string[]
    >;
    expect(metadata).toMatchObject({
      issuer,
      token_endpoint: `${issuer}/oauth2/token`,
      jwks_uri: `${issuer}/oauth2/jwks`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
    });
    expect(metadata.grant_types_supported).not.toContain('implicit');
    expect(metadata.grant_types_supported).not.toContain('password');
    const jwks = (await (await fetch(`${issuer}/oauth2/jwks`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.map((key) => key.alg).sort()).toEqual(['ES256', 'RS256']);
    for (const key of jwks.keys) expect(key).not.toHaveProperty('d');
    const stored = await harness.app.gatehouse.database.db.selectFrom('signing_keys').selectAll().execute();
    for (const row of stored) expect(row.private_sealed).toMatch(/^v1\./);
  });

  it('issues client_credentials tokens that introspect as active until revoked', async () => {
    const { client, secret } = await machineClient();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stored = await harness.app.gatehouse.database.db
      .selectFrom('oauth_clients')
      .select('secret_hash')
      .where('id', '=', client.id)
      .executeTakeFirstOrThrow();
    expect(stored.secret_hash).not.toBe(secret);

    const config = await discover(client.id, secret);
    // No resource: an opaque token, checked by introspection.
    const tokens = await oidc.clientCredentialsGrant(config);
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.expires_in).toBeGreaterThan(3000);
    expect(tokens.access_token.split('.')).toHaveLength(1);
    const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(introspected).toMatchObject({ active: true, client_id: client.id });
    // Stored in our database until revoked.
    const artefacts = () =>
      harness.app.gatehouse.database.db
        .selectFrom('oidc_models')
        .select('kind')
        .where('kind', '=', 'ClientCredentials')
        .execute();
    const before = (await artefacts()).length;
    expect(before).toBeGreaterThan(0);
    await oidc.tokenRevocation(config, tokens.access_token);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    expect((await artefacts()).length).toBe(before - 1);
  });

  it('issues RFC 9068 JWT access tokens for a registered API, with only the scopes the client may have', async () => {
    const registered = await adminCall('POST', '/api/v1/admin/resources', {
      identifier: `https://api-${dialect}.example.com`,
      name: 'Invoices API',
      scopes: ['invoices:read', 'invoices:write'],
    });
    expect(registered.statusCode, registered.body).toBe(201);
    const { client, secret } = await machineClient();
    const config = await discover(client.id, secret);
    const resource = `https://api-${dialect}.example.com`;
    const tokens = await oidc.clientCredentialsGrant(config, { resource, scope: 'invoices:read' });
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    const { payload } = await jwtVerify(
      tokens.access_token,
      createRemoteJWKSet(new URL(`${issuer}/oauth2/jwks`)),
      {
        issuer,
        audience: resource,
        typ: 'at+jwt',
      },
    );
    expect(payload).toMatchObject({ client_id: client.id, scope: 'invoices:read', sub: client.id });
    // A scope the client was not registered for is not granted (RFC 6749 §3.3: the answer names what was).
    const narrowed = await oidc.clientCredentialsGrant(config, {
      resource,
      scope: 'invoices:read invoices:write',
    });
    expect(narrowed.scope).toBe('invoices:read');
    await expect(
      oidc.clientCredentialsGrant(config, {
        resource: 'https://unknown.example.com',
        scope: 'invoices:read',
      }),
    ).rejects.toMatchObject({ error: 'invalid_target' });
  });

  it('refuses a wrong secret, a disabled client, and the old secret after rotation', async () => {
    const { client, secret } = await machineClient();
    const wrong = await discover(client.id, `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`);
    await expect(oidc.clientCredentialsGrant(wrong)).rejects.toMatchObject({
      error: 'invalid_client',
    });

    const rotated = await adminCall('POST', `/api/v1/admin/clients/${client.id}/rotate-secret`);
    expect(rotated.statusCode, rotated.body).toBe(200);
    const old = await discover(client.id, secret);
    await expect(oidc.clientCredentialsGrant(old)).rejects.toMatchObject({
      error: 'invalid_client',
    });
    const fresh = await discover(client.id, rotated.json().secret);
    expect((await oidc.clientCredentialsGrant(fresh)).access_token).toBeTruthy();

    expect(
      (await adminCall('PATCH', `/api/v1/admin/clients/${client.id}`, { enabled: false })).json().client
        .enabled,
    ).toBe(false);
    await expect(oidc.clientCredentialsGrant(fresh)).rejects.toMatchObject({
      error: 'invalid_client',
    });
  });

  it('validates client registrations and lists clients for administrators only', async () => {
    const invalid = await adminCall('POST', '/api/v1/admin/clients', {
      name: 'Web',
      grants: ['authorization_code'],
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().code).toBe('client_invalid');
    const publicMachine = await adminCall('POST', '/api/v1/admin/clients', {
      name: 'SPA',
      grants: ['client_credentials'],
      public: true,
    });
    expect(publicMachine.json().code).toBe('client_invalid');
    const spa = await adminCall('POST', '/api/v1/admin/clients', {
      name: 'SPA',
      grants: ['authorization_code', 'refresh_token'],
      redirectUris: ['https://app.example.com/callback'],
      public: true,
    });
    expect(spa.statusCode, spa.body).toBe(201);
    expect(spa.json().secret).toBeUndefined();
    expect(spa.json().client).toMatchObject({ public: true, tokenEndpointAuthMethod: 'none' });
    const list = await adminCall('GET', '/api/v1/admin/clients');
    expect(list.json().clients.map((client: { name: string }) => client.name)).toContain('SPA');
    const anonymous = await harness.app.inject({ method: 'GET', url: '/api/v1/admin/clients' });
    expect(anonymous.statusCode).toBe(401);
    expect(harness.logs.text).toContain('"securityEvent":"client.created"');
  });

  it('refuses to sign with keys it cannot decrypt (another master key), and says why', async () => {
    const other = await buildTestApp(testDatabase().url, {
      overrides: { secrets: { key: 'ab'.repeat(32) } },
    });
    try {
      const discovery = await other.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
      expect(discovery.statusCode).toBe(503);
      expect(other.logs.text).toContain(
        'cannot be decrypted: this database was set up with another secrets.key',
      );
    } finally {
      await other.app.close();
    }
  });
});
