import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { Redis } from 'ioredis';
import { createRemoteJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTestApp, listenTestApp, type TestApp } from './helpers/app.js';
import { describeEachDialect, TEST_REDIS_URL } from './helpers/dialects.js';
import { startTestSmtpServer, type TestSmtpServer } from './helpers/mail.js';
import { BrowserlessAgent } from './helpers/oidc.js';

const PASSWORD = 'violet-harbor-lantern-42';

describeEachDialect('OpenID Connect provider', (testDatabase, dialect) => {
  let harness: TestApp;
  let issuer: string;
  let admin: { cookie: string; csrf: string };
  let smtp: TestSmtpServer;
  // Gatehouse's clock runs this far ahead of the wall clock (the engine's own expiry stays on the wall clock).
  let ahead = 0;

  beforeAll(async () => {
    // The test's back-channel receiver listens on loopback, which the engine refuses by default.
    smtp = await startTestSmtpServer();
    const started = await listenTestApp(
      testDatabase().url,
      {
        oidc: { allowPrivateNetworkCalls: true, refreshTokenReuseGraceSeconds: 5 },
        mail: {
          transport: 'smtp',
          from: 'Gatehouse <id@example.test>',
          smtp: { host: '127.0.0.1', port: smtp.port, secure: false, requireTls: false },
        },
      },
      { now: () => Date.now() + ahead },
    );
    harness = started;
    issuer = started.baseUrl;
    const email = `admin-${dialect}@example.com`;
    const created = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email, password: PASSWORD },
    });
    await harness.app.services.authz.assign({ type: 'user', id: created.json().user.id }, 'admin', {});
    const login = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password: PASSWORD },
    });
    admin = { cookie: String(login.headers['set-cookie']).split(';')[0]!, csrf: login.json().csrfToken };
  });

  afterAll(async () => {
    await harness?.app.close();
    await smtp?.close();
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
    for (const row of stored) expect(row.private_sealed).toMatch(/^v2\./);
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
    await harness.app.services.auditWriter.flush();
    const [issued] = (
      await harness.app.services.audit.list({ actorId: client.id, name: 'oauth.token.issued' }, 1)
    ).events;
    expect(issued).toMatchObject({
      actorType: 'client',
      actorId: client.id,
      details: { grantType: 'client_credentials' },
    });
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

  it('authenticates a client by private_key_jwt against the keys at its jwks_uri', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'app-key-1', alg: 'ES256', use: 'sig' };
    const jwksServer = createHttpServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = jwksServer.address() as { port: number };
      const created = await adminCall('POST', '/api/v1/admin/clients', {
        name: 'Signed worker',
        grants: ['client_credentials'],
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwksUri: `http://127.0.0.1:${port}/jwks`,
        scopes: ['invoices:read'],
      });
      expect(created.statusCode, created.body).toBe(201);
      expect(created.json().secret).toBeUndefined();
      const clientId = created.json().client.id as string;
      const signedWith = (key: typeof privateKey) =>
        oidc.discovery(new URL(issuer), clientId, undefined, oidc.PrivateKeyJwt({ key, kid: 'app-key-1' }), {
          execute: [oidc.allowInsecureRequests],
        });
      const tokens = await oidc.clientCredentialsGrant(await signedWith(privateKey));
      expect(tokens.access_token).toBeTruthy();
      // A key the client never published is refused.
      await expect(oidc.clientCredentialsGrant(await signedWith(other.privateKey))).rejects.toMatchObject({
        error: 'invalid_client',
      });
    } finally {
      await new Promise((resolve) => jwksServer.close(resolve));
    }
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

  class UserAgent extends BrowserlessAgent {
    constructor() {
      super(issuer);
    }
  }

  const REDIRECT_URI = 'https://app.example.com/callback';

  async function webClient(extra: Record<string, unknown> = {}) {
    const response = await adminCall('POST', '/api/v1/admin/clients', {
      name: 'Example app',
      grants: ['authorization_code', 'refresh_token'],
      redirectUris: [REDIRECT_URI],
      ...extra,
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as { client: { id: string }; secret: string };
  }

  async function userAccount(email: string) {
    const created = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email, password: PASSWORD, name: 'Ada' },
    });
    expect(created.statusCode, created.body).toBe(201);
    return created.json().user.id as string;
  }

  /** A JSON-API session for the account (cookie and CSRF headers), as its owner would have in a browser. */
  async function apiSession(email: string) {
    const login = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password: PASSWORD },
    });
    return {
      cookie: String(login.headers['set-cookie']).split(';')[0]!,
      'x-csrf-token': login.json().csrfToken,
    };
  }

  /** Enrols an authenticator app for the session's account; returns its backup codes. */
  async function enrollTotp(headers: Awaited<ReturnType<typeof apiSession>>): Promise<string[]> {
    const started = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/me/mfa/methods',
      payload: { type: 'totp' },
      headers,
    });
    const confirmed = await harness.app.inject({
      method: 'POST',
      url: `/api/v1/me/mfa/methods/${started.json().method.id}/verify`,
      payload: {
        code: new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(started.json().totp.secret) }).generate({
          timestamp: Date.now() + ahead,
        }),
      },
      headers,
    });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    return confirmed.json().backupCodes as string[];
  }

  /** A first-party app's sign-in request through the password form; returns the page that follows it. */
  async function throughPasswordForm(email: string) {
    const { client, secret } = await webClient({ firstParty: true });
    const config = await discover(client.id, secret);
    const verifier = oidc.randomPKCECodeVerifier();
    const agent = new UserAgent();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const form = await agent.follow(url.toString());
    const loginAction = /action="([^"]+\/login)"/.exec(form.body)![1]!;
    const page = await agent.follow(new URL(loginAction, issuer).toString(), {
      method: 'POST',
      form: { email, password: PASSWORD },
    });
    return { config, verifier, agent, page };
  }

  /** Authorization request → login form → consent → callback; returns the callback URL. */
  async function authorize(
    config: oidc.Configuration,
    email: string,
    parameters: Record<string, string>,
    agent = new UserAgent(),
  ) {
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, ...parameters });
    return { ...(await agent.authorize(url, { email, password: PASSWORD }, 'Example app')), agent };
  }

  it('runs the authorization code flow with PKCE through the HTML sign-in form, then userinfo, refresh and revoke', async () => {
    const email = `code-${dialect}@example.com`;
    const userId = await userAccount(email);
    const { client, secret } = await webClient();
    const config = await discover(client.id, secret);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const { callback, step } = await authorize(config, email, {
      scope: 'openid email profile offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      prompt: 'consent',
    });
    expect(callback.origin + callback.pathname, JSON.stringify(step)).toBe(REDIRECT_URI);
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ sub: userId, iss: issuer, aud: client.id, amr: ['pwd'], acr: '1' });
    expect(claims.auth_time).toEqual(expect.any(Number));
    const info = await oidc.fetchUserInfo(config, tokens.access_token, userId);
    expect(info).toMatchObject({ sub: userId, email, email_verified: false, name: 'Ada' });

    // Refresh tokens rotate. A second refresh racing the first (inside the grace window) still works...
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    const raced = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(raced.refresh_token).not.toBe(refreshed.refresh_token);
    // ...but once the window has passed, presenting the spent token revokes the whole family.
    ahead += 5_001;
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    for (const sibling of [refreshed, raced]) {
      await expect(oidc.refreshTokenGrant(config, sibling.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      expect((await oidc.tokenIntrospection(config, sibling.access_token)).active).toBe(false);
    }
    // The reuse is in the audit log as a high-severity event naming the client, as is every token issued.
    await harness.app.services.auditWriter.flush();
    const audited = await harness.app.services.audit.list(
      { actorId: config.clientMetadata().client_id },
      200,
    );
    expect(audited.events).toContainEqual(
      expect.objectContaining({ name: 'oauth.token.reused', severity: 'high', actorType: 'client' }),
    );
    expect(audited.events).toContainEqual(
      expect.objectContaining({
        name: 'oauth.token.issued',
        details: expect.objectContaining({ grantType: 'refresh_token' }),
      }),
    );

    // A code works once; using it again fails and revokes what it issued.
    const second = await authorize(config, email, {
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const again = await oidc.authorizationCodeGrant(config, second.callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    await expect(
      oidc.authorizationCodeGrant(config, second.callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await oidc.tokenIntrospection(config, again.access_token)).active).toBe(false);
  });

  it('keeps codes and interactions in Redis when it is configured, and revokes them with their grant', async () => {
    const keyPrefix = `gatehouse-test-${randomUUID()}:`;
    const node = await listenTestApp(testDatabase().url, { redis: { url: TEST_REDIS_URL, keyPrefix } });
    const redis = new Redis(TEST_REDIS_URL, { keyPrefix, lazyConnect: true });
    try {
      const email = `redis-${dialect}@example.com`;
      await userAccount(email);
      const { client, secret } = await webClient();
      const config = await oidc.discovery(new URL(node.baseUrl), client.id, secret, undefined, {
        execute: [oidc.allowInsecureRequests],
      });
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'redis',
      });
      const agent = new BrowserlessAgent(node.baseUrl);
      const { callback } = await agent.authorize(url, { email, password: PASSWORD }, 'Example app');
      const code = callback.searchParams.get('code')!;
      expect(code).toBeTruthy();

      const database = harness.app.gatehouse.database.db;
      const stored = (kind: string, id: string) =>
        database
          .selectFrom('oidc_models')
          .select('id')
          .where('kind', '=', kind)
          .where('id', '=', id)
          .executeTakeFirst();
      expect(await stored('AuthorizationCode', code)).toBeUndefined();
      expect(await redis.exists(`oidc:AuthorizationCode:${code}`)).toBe(1);
      expect(await redis.pttl(`oidc:AuthorizationCode:${code}`)).toBeLessThanOrEqual(60_000);

      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: 'redis',
      });
      // Tokens are long-lived: they stay in the database.
      const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
      expect(introspected.active).toBe(true);

      // Replaying the code (kept in Redis, marked used) revokes what it issued and removes it.
      await expect(
        oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'redis' }),
      ).rejects.toMatchObject({ error: 'invalid_grant' });
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
      expect(await redis.exists(`oidc:AuthorizationCode:${code}`)).toBe(0);
    } finally {
      redis.disconnect();
      await node.app.close();
    }
  });

  it("sends an e-mail code from the sign-in page when that is the account's second factor", async () => {
    const email = `mfa-mail-${dialect}@example.com`;
    const userId = await userAccount(email);
    // Codes go only to a verified address.
    await harness.app.gatehouse.database.db
      .updateTable('users')
      .set({ email_verified_at: Date.now() })
      .where('id', '=', userId)
      .execute();
    const api = await apiSession(email);
    const isCode = (message: { to: readonly string[]; subject: string }) =>
      message.to.includes(email) && /sign-in code/.test(message.subject);
    const mailedCode = async (count: number) => {
      await smtp.waitFor(() => smtp.messages.filter(isCode).length >= count);
      return /^(\d{6}) is your sign-in code$/.exec(smtp.messages.filter(isCode)[count - 1]!.subject)![1]!;
    };
    const started = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/me/mfa/methods',
      payload: { type: 'email' },
      headers: api,
    });
    expect(started.statusCode, started.body).toBe(201);
    const confirmed = await harness.app.inject({
      method: 'POST',
      url: `/api/v1/me/mfa/methods/${started.json().method.id}/verify`,
      payload: { code: await mailedCode(1) },
      headers: api,
    });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    ahead += 31_000; // past the resend pause

    const { config, verifier, agent, page: mfaPage } = await throughPasswordForm(email);
    expect(mfaPage.body).toContain('E-mail me a code');
    const sendAction = /action="([^"]+\/mfa\/send)"/.exec(mfaPage.body)![1]!;
    const methodId = /name="methodId" value="([^"]+)"/.exec(mfaPage.body)![1]!;
    const sent = await agent.follow(new URL(sendAction, issuer).toString(), {
      method: 'POST',
      form: { methodId },
    });
    expect(sent.status).toBe(200);
    expect(sent.body).toContain('We sent a code');
    expect(sent.body).toContain('name="type" value="email"');
    const code = await mailedCode(2);
    const verifyAction = new URL(/action="([^"]+\/mfa)"/.exec(sent.body)![1]!, issuer).toString();
    const wrong = await agent.follow(verifyAction, {
      method: 'POST',
      form: { type: 'email', methodId, code: '000000' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain('name="type" value="email"');
    const done = await agent.follow(verifyAction, {
      method: 'POST',
      form: { type: 'email', methodId, code },
    });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.url), {
      pkceCodeVerifier: verifier,
    });
    expect(tokens.claims()).toMatchObject({ acr: '2' });
    expect(tokens.claims()!.amr).toEqual(expect.arrayContaining(['pwd', 'email']));
  });

  it('honours acr_values with a step-up on the sign-in pages, and max_age with a fresh sign-in', async () => {
    const email = `acr-${dialect}@example.com`;
    await userAccount(email);
    const { client, secret } = await webClient({ firstParty: true });
    const config = await discover(client.id, secret);
    const verifier = oidc.randomPKCECodeVerifier();
    const parameters = {
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    const urlWith = (extra: Record<string, string>) =>
      oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, ...parameters, ...extra }).toString();

    // A password-only sign-in (level 1) in this browser, before the account had a second factor.
    const first = await authorize(config, email, parameters);
    const agent = first.agent;
    expect(first.callback.searchParams.get('code')).toBeTruthy();

    // Without a second factor, level 2 cannot be reached: the client hears so instead of getting level 1.
    const unmet = await agent.follow(urlWith({ acr_values: '2' }));
    expect(new URL(unmet.url).searchParams.get('error')).toBe('unmet_authentication_requirements');

    const backupCode = (await enrollTotp(await apiSession(email)))[0]!;

    // Level 1 still signs in silently; level 2 asks this session for its second factor first.
    const silent = await agent.follow(urlWith({}));
    expect(new URL(silent.url).searchParams.get('code')).toBeTruthy();
    const stepUp = await agent.follow(urlWith({ acr_values: '2 3' }));
    expect(stepUp.body).toContain('stronger sign-in');
    expect(stepUp.body).not.toContain('name="password"');
    const action = new URL(/action="([^"]+\/step-up)"/.exec(stepUp.body)![1]!, issuer).toString();
    const wrong = await agent.follow(action, { method: 'POST', form: { code: '000000' } });
    expect(wrong.status).toBe(401);
    const done = await agent.follow(action, { method: 'POST', form: { code: backupCode } });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.url), {
      pkceCodeVerifier: verifier,
    });
    expect(tokens.claims()).toMatchObject({ acr: '2' });
    expect(tokens.claims()!.amr).toEqual(expect.arrayContaining(['pwd', 'otp']));

    // The stepped-up session now meets level 2 silently; level 3 needs a passkey, which this account has not.
    const again = await agent.follow(urlWith({ acr_values: '2' }));
    expect(new URL(again.url).searchParams.get('code')).toBeTruthy();
    const phishingResistant = await agent.follow(urlWith({ acr_values: '3' }));
    expect(new URL(phishingResistant.url).searchParams.get('error')).toBe(
      'unmet_authentication_requirements',
    );

    // max_age=0: however recent the session, the user signs in again.
    const fresh = await agent.follow(urlWith({ max_age: '0' }));
    expect(fresh.body).toContain('name="password"');
  });

  it('lists the apps a user allowed and withdraws consent with every token it issued', async () => {
    const email = `consent-${dialect}@example.com`;
    await userAccount(email);
    const { client, secret } = await webClient();
    const config = await discover(client.id, secret);
    const verifier = oidc.randomPKCECodeVerifier();
    const parameters = {
      scope: 'openid email offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      prompt: 'consent',
    };
    const { callback, agent } = await authorize(config, email, parameters);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });

    const headers = await apiSession(email);
    const listed = await harness.app.inject({ method: 'GET', url: '/api/v1/me/apps', headers });
    expect(listed.statusCode, listed.body).toBe(200);
    expect(listed.json().apps).toEqual([
      {
        clientId: client.id,
        name: 'Example app',
        scopes: ['email', 'offline_access', 'openid'],
        apis: [],
        grantedAt: expect.any(String),
      },
    ]);

    const revoked = await harness.app.inject({
      method: 'DELETE',
      url: `/api/v1/me/apps/${client.id}`,
      headers,
    });
    expect(revoked.statusCode, revoked.body).toBe(204);
    expect(harness.logs.text).toContain('"securityEvent":"oauth.consent.revoked"');
    expect(
      (await harness.app.inject({ method: 'GET', url: '/api/v1/me/apps', headers })).json().apps,
    ).toEqual([]);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    const again = await harness.app.inject({
      method: 'DELETE',
      url: `/api/v1/me/apps/${client.id}`,
      headers,
    });
    expect(again.statusCode).toBe(404);
    expect(again.json().code).toBe('consent_not_found');

    // The app must ask again: the same browser, still signed in, sees the consent page.
    const { prompt: _forced, ...unprompted } = parameters;
    const page = await agent.follow(
      oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, ...unprompted }).toString(),
    );
    expect(page.body).toContain('/confirm"');
  });

  it('signs ID tokens with EdDSA for a client that asks, once oidc.enableEdDSA is on', async () => {
    const body = {
      name: 'Example app',
      grants: ['authorization_code'],
      redirectUris: [REDIRECT_URI],
      idTokenSigningAlg: 'EdDSA',
    };
    const refused = await adminCall('POST', '/api/v1/admin/clients', body);
    expect(refused.statusCode).toBe(400);
    expect(refused.json().detail).toContain('oidc.enableEdDSA');

    const node = await listenTestApp(testDatabase().url, { oidc: { enableEdDSA: true } });
    try {
      const created = await node.app.inject({
        method: 'POST',
        url: '/api/v1/admin/clients',
        payload: body,
        headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf },
      });
      expect(created.statusCode, created.body).toBe(201);
      expect(created.json().client.idTokenSigningAlg).toBe('EdDSA');
      const email = `eddsa-${dialect}@example.com`;
      await userAccount(email);
      const config = await oidc.discovery(
        new URL(node.baseUrl),
        created.json().client.id,
        created.json().secret,
        undefined,
        { execute: [oidc.allowInsecureRequests] },
      );
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const { callback } = await new BrowserlessAgent(node.baseUrl).authorize(
        url,
        { email, password: PASSWORD },
        'Example app',
      );
      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
      expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('EdDSA');
      const keys = createRemoteJWKSet(new URL(`${node.baseUrl}/oauth2/jwks`));
      await expect(jwtVerify(tokens.id_token!, keys, { issuer: node.baseUrl })).resolves.toBeTruthy();
    } finally {
      await node.app.close();
    }
  });

  it('lets a browser app call the token endpoint from its own origin (CORS), not from others', async () => {
    const created = await adminCall('POST', '/api/v1/admin/clients', {
      name: 'Single-page app',
      grants: ['authorization_code'],
      redirectUris: [REDIRECT_URI],
      public: true,
    });
    expect(created.statusCode, created.body).toBe(201);
    const exchange = (origin: string) =>
      fetch(`${issuer}/oauth2/token`, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: created.json().client.id,
          code: 'not-a-code',
          redirect_uri: REDIRECT_URI,
          code_verifier: oidc.randomPKCECodeVerifier(),
        }).toString(),
      });
    // The app's origin reaches the engine (which answers the protocol error) and may read the answer...
    const own = await exchange('https://app.example.com');
    expect(own.status).toBe(400);
    expect(((await own.json()) as { error: string }).error).toBe('invalid_grant');
    expect(own.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    // ...another origin gets no CORS grant from the engine, so its page cannot read anything.
    const other = await exchange('https://evil.example.net');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('puts roles, groups and permissions in the tokens of clients that ask for them, and only theirs', async () => {
    const email = `claims-${dialect}@example.com`;
    const userId = await userAccount(email);
    const { authz } = harness.app.services;
    await authz.createPermission({ name: `ledger-${dialect}:read` }, {});
    await authz.createRole({ name: `bookkeeper-${dialect}`, permissions: [`ledger-${dialect}:read`] }, {});
    const group = await authz.createGroup({ name: `accounts-${dialect}` }, {});
    await authz.assign({ type: 'group', id: group.id }, `bookkeeper-${dialect}`, {});
    await authz.addMember(group.id, userId, {});

    const signIn = async (extra: Record<string, unknown>) => {
      const { client, secret } = await webClient({ firstParty: true, ...extra });
      const config = await discover(client.id, secret);
      const verifier = oidc.randomPKCECodeVerifier();
      const { callback } = await authorize(config, email, {
        scope: 'openid email',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
      return { tokens, info: await oidc.fetchUserInfo(config, tokens.access_token, userId) };
    };

    const withClaims = await signIn({ authzClaims: ['roles', 'groups', 'permissions'] });
    const expected = {
      roles: [`bookkeeper-${dialect}`, 'user'],
      groups: [`accounts-${dialect}`],
      permissions: [`ledger-${dialect}:read`],
    };
    expect(withClaims.tokens.claims()).toMatchObject(expected);
    expect(withClaims.info).toMatchObject(expected);

    // A JWT access token for an API carries them too, for the API to decide with.
    const resource = `https://ledger-${dialect}.example.com`;
    await adminCall('POST', '/api/v1/admin/resources', {
      identifier: resource,
      name: 'Ledger',
      scopes: ['entries:read'],
    });
    const { client, secret } = await webClient({
      firstParty: true,
      authzClaims: ['roles'],
      scopes: ['openid', 'entries:read'],
    });
    const config = await discover(client.id, secret);
    const verifier = oidc.randomPKCECodeVerifier();
    const { callback } = await authorize(config, email, {
      scope: 'openid entries:read',
      resource,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const apiTokens = await oidc.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier },
      { resource },
    );
    const { payload } = await jwtVerify(
      apiTokens.access_token,
      createRemoteJWKSet(new URL(`${issuer}/oauth2/jwks`)),
      {
        issuer,
        audience: resource,
        typ: 'at+jwt',
      },
    );
    expect(payload).toMatchObject({ sub: userId, scope: 'entries:read', roles: expected.roles });
    expect(payload.groups).toBeUndefined();

    const plain = await signIn({});
    expect(plain.tokens.claims()!.roles).toBeUndefined();
    expect(plain.info.roles).toBeUndefined();
    expect(plain.info.groups).toBeUndefined();
  });

  it('issues access tokens for one organization, to its members only, with the roles they hold there', async () => {
    const email = `org-${dialect}@example.com`;
    const userId = await userAccount(email);
    const { authz, organizations } = harness.app.services;
    await authz.createPermission({ name: `projects-${dialect}:read` }, {});
    await authz.createRole(
      { name: `project-viewer-${dialect}`, permissions: [`projects-${dialect}:read`] },
      {},
    );
    const acme = await organizations.create({ name: 'Acme', slug: `acme-${dialect}` }, {});
    await organizations.create({ name: 'Globex', slug: `globex-${dialect}` }, {});
    await organizations.addMember(acme.id, userId, {});
    await organizations.grantRole(acme.id, userId, `project-viewer-${dialect}`, {});
    const { client, secret } = await webClient({
      firstParty: true,
      authzClaims: ['roles', 'permissions'],
      scopes: ['openid', 'offline_access', 'organization'],
    });
    const config = await discover(client.id, secret);
    const signInFor = async (organization: string, clientConfig = config) => {
      const verifier = oidc.randomPKCECodeVerifier();
      const resource = `urn:gatehouse:organization:${organization}`;
      const { callback } = await authorize(clientConfig, email, {
        scope: 'openid offline_access organization',
        resource,
        prompt: 'consent',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      return { callback, verifier, resource };
    };

    // A member, asking by slug: a JWT for that organization, with the roles and permissions held in it.
    const acmeFlow = await signInFor(`acme-${dialect}`);
    const tokens = await oidc.authorizationCodeGrant(
      config,
      acmeFlow.callback,
      { pkceCodeVerifier: acmeFlow.verifier },
      { resource: acmeFlow.resource },
    );
    const keys = createRemoteJWKSet(new URL(`${issuer}/oauth2/jwks`));
    const audience = `urn:gatehouse:organization:${acme.id}`;
    const { payload } = await jwtVerify(tokens.access_token, keys, { issuer, audience, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: userId, org_id: acme.id, scope: 'organization' });
    expect(payload.roles).toContain(`project-viewer-${dialect}`);
    expect(payload.permissions).toContain(`projects-${dialect}:read`);

    // Not a member of Globex: refused at sign-in. An organization that does not exist: an invalid target.
    const globex = await signInFor(`globex-${dialect}`);
    expect(globex.callback.searchParams.get('error')).toBe('access_denied');
    const nowhere = await signInFor('no-such-organization');
    expect(nowhere.callback.searchParams.get('error')).toBe('invalid_target');

    // A client not registered for organizations cannot ask for one.
    const other = await webClient({ firstParty: true, scopes: ['openid', 'offline_access'] });
    const otherFlow = await signInFor(acme.id, await discover(other.client.id, other.secret));
    expect(otherFlow.callback.searchParams.get('error')).toBe('invalid_target');

    // Membership is checked whenever a token is issued: refreshing works until the user leaves.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, {
      resource: acmeFlow.resource,
    });
    expect((await jwtVerify(refreshed.access_token, keys, { issuer, audience })).payload.org_id).toBe(
      acme.id,
    );
    await organizations.removeMember(acme.id, userId, {});
    await expect(
      oidc.refreshTokenGrant(config, refreshed.refresh_token!, { resource: acmeFlow.resource }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('signs in again without the form while the Gatehouse session lasts, unless prompt=login', async () => {
    const email = `sso-${dialect}@example.com`;
    await userAccount(email);
    const { client, secret } = await webClient({ firstParty: true });
    const config = await discover(client.id, secret);
    const verifier = oidc.randomPKCECodeVerifier();
    const parameters = {
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    const first = await authorize(config, email, parameters);
    expect(first.callback.searchParams.get('code')).toBeTruthy();
    // Same browser: no form, no consent (first-party).
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, ...parameters });
    const silent = await first.agent.follow(url.toString());
    expect(new URL(silent.url).searchParams.get('code')).toBeTruthy();
    const forced = await first.agent.follow(
      oidc
        .buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, ...parameters, prompt: 'login' })
        .toString(),
    );
    expect(forced.body).toContain('name="password"');
  });

  it('asks for the second factor on the sign-in page when the account has one', async () => {
    const email = `mfa-code-${dialect}@example.com`;
    await userAccount(email);
    const backupCode = (await enrollTotp(await apiSession(email)))[0]!;
    const { config, verifier, agent, page: mfaPage } = await throughPasswordForm(email);
    expect(mfaPage.body).toContain('Two-step verification');
    const mfaAction = /action="([^"]+\/mfa)"/.exec(mfaPage.body)![1]!;
    const wrong = await agent.follow(new URL(mfaAction, issuer).toString(), {
      method: 'POST',
      form: { code: '000000' },
    });
    expect(wrong.status).toBe(401);
    const done = await agent.follow(new URL(mfaAction, issuer).toString(), {
      method: 'POST',
      form: { code: backupCode },
    });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.url), {
      pkceCodeVerifier: verifier,
    });
    expect(tokens.claims()).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: '2' });
  });

  it('rejects a missing or plain PKCE challenge and a redirect URI that is not registered', async () => {
    const { client, secret } = await webClient();
    const config = await discover(client.id, secret);
    const agent = new UserAgent();
    const missing = await agent.request(
      oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid' }).toString(),
    );
    expect(new URL(missing.location!).searchParams.get('error')).toBe('invalid_request');
    const plain = await agent.request(
      oidc
        .buildAuthorizationUrl(config, {
          redirect_uri: REDIRECT_URI,
          scope: 'openid',
          code_challenge: 'a'.repeat(43),
          code_challenge_method: 'plain',
        })
        .toString(),
    );
    expect(new URL(plain.location!).searchParams.get('error')).toBe('invalid_request');
    const mismatch = await agent.request(
      oidc
        .buildAuthorizationUrl(config, {
          redirect_uri: 'https://app.example.com/callback/other',
          scope: 'openid',
          code_challenge: 'a'.repeat(43),
          code_challenge_method: 'S256',
        })
        .toString(),
    );
    expect(mismatch.status).toBe(400);
    expect(mismatch.location).toBeNull();
    expect(mismatch.body).toContain('redirect_uri');
  });

  it('ends the Gatehouse session with RP-initiated logout, so the next sign-in needs the form again', async () => {
    const email = `logout-${dialect}@example.com`;
    await userAccount(email);
    // The app's back-channel logout endpoint: records the logout tokens Gatehouse posts.
    const logoutTokens: string[] = [];
    const receiver = createHttpServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        logoutTokens.push(new URLSearchParams(body).get('logout_token') ?? '');
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/backchannel`;
    const { client, secret } = await webClient({
      firstParty: true,
      postLogoutRedirectUris: ['https://app.example.com/signed-out'],
      backchannelLogoutUri: receiverUrl,
    });
    const config = await discover(client.id, secret);
    const verifier = oidc.randomPKCECodeVerifier();
    const parameters = {
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    const { callback, agent } = await authorize(config, email, parameters);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
    expect((await agent.request(`${issuer}/api/v1/me`)).status).toBe(200);

    const logoutUrl = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: 'https://app.example.com/signed-out',
    });
    const confirm = await agent.follow(logoutUrl.toString());
    expect(confirm.body).toContain('Yes, sign me out');
    const action = /<form[^>]*action="([^"]+)"/.exec(confirm.body)![1]!;
    const hidden = Object.fromEntries(
      [...confirm.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((match) => [
        match[1]!,
        match[2]!,
      ]),
    );
    const done = await agent.follow(new URL(action, issuer).toString(), {
      method: 'POST',
      form: { ...hidden, logout: 'yes' },
    });
    expect(done.url).toBe('https://app.example.com/signed-out');
    let me = 200;
    for (let attempt = 0; attempt < 50 && me === 200; attempt += 1) {
      me = (await agent.request(`${issuer}/api/v1/me`)).status;
      if (me === 200) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(me).toBe(401);
    const again = await agent.follow(
      oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, ...parameters }).toString(),
    );
    expect(again.body).toContain('name="password"');

    // The app was told over the back channel, with a logout token signed by Gatehouse.
    for (let attempt = 0; attempt < 100 && logoutTokens.length === 0; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => receiver.close(resolve));
    expect(
      logoutTokens,
      harness.logs.text
        .split('\n')
        .filter((line) => line.includes('back-channel'))
        .join('\n'),
    ).toHaveLength(1);
    const { payload } = await jwtVerify(
      logoutTokens[0]!,
      createRemoteJWKSet(new URL(`${issuer}/oauth2/jwks`)),
      {
        issuer,
        audience: client.id,
        typ: 'logout+jwt',
      },
    );
    expect(payload.events).toHaveProperty(['http://schemas.openid.net/event/backchannel-logout']);
    expect(payload.sid).toBe(tokens.claims()?.sid);
  });

  it('accepts pushed authorization requests (PAR)', async () => {
    const email = `par-${dialect}@example.com`;
    await userAccount(email);
    const { client, secret } = await webClient({ firstParty: true });
    const config = await discover(client.id, secret);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    expect(url.searchParams.get('redirect_uri')).toBeNull();
    const agent = new UserAgent();
    const form = await agent.follow(url.toString());
    const action = /action="([^"]+\/login)"/.exec(form.body)![1]!;
    const done = await agent.follow(new URL(action, issuer).toString(), {
      method: 'POST',
      form: { email, password: PASSWORD },
    });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.url), {
      pkceCodeVerifier: verifier,
    });
    expect(tokens.claims()?.sub).toBeTruthy();
  });

  it('binds tokens to a DPoP key: the token works with a proof of that key and not without', async () => {
    const email = `dpop-${dialect}@example.com`;
    const userId = await userAccount(email);
    const { client, secret } = await webClient({ firstParty: true });
    const config = await discover(client.id, secret);
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
    const verifier = oidc.randomPKCECodeVerifier();
    const { callback } = await authorize(config, email, {
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const tokens = await oidc.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier },
      undefined,
      {
        DPoP: dpop,
      },
    );
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    const info = await oidc.fetchUserInfo(config, tokens.access_token, userId, { DPoP: dpop });
    expect(info.email).toBe(email);
    // The same token as a plain bearer token, without a proof: refused.
    const bare = await fetch(`${issuer}/oauth2/userinfo`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(bare.status).toBe(401);
    const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(introspected).toMatchObject({ active: true, token_type: 'DPoP' });
    expect((introspected.cnf as { jkt?: string } | undefined)?.jkt).toBeTruthy();
  });

  it('runs the device authorization grant with the user entering the code on Gatehouse pages', async () => {
    const email = `device-${dialect}@example.com`;
    const userId = await userAccount(email);
    const { client, secret } = await webClient({
      firstParty: true,
      grants: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
    });
    const config = await discover(client.id, secret);
    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email' });
    expect(device.user_code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    expect(device.verification_uri).toBe(`${issuer}/oauth2/device`);

    // Before the user acts, the device is told to keep waiting.
    await expect(
      oidc.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:device_code', {
        device_code: device.device_code,
      }),
    ).rejects.toMatchObject({ error: 'authorization_pending' });

    const agent = new UserAgent();
    const entry = await agent.follow(device.verification_uri);
    expect(entry.body, entry.body).toContain('Connect a device');
    const hidden = (body: string) =>
      Object.fromEntries(
        [...body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((match) => [
          match[1]!,
          match[2]!,
        ]),
      );
    const entryAction = /<form[^>]*action="([^"]+)"/.exec(entry.body)![1]!;
    // The code, then a confirmation that names the app and repeats the code, then the sign-in form.
    const confirm = await agent.follow(new URL(entryAction, issuer).toString(), {
      method: 'POST',
      form: { ...hidden(entry.body), user_code: device.user_code },
    });
    expect(confirm.body).toContain('Connect Example app?');
    expect(confirm.body).toContain(device.user_code);
    const confirmAction = /<form[^>]*action="([^"]+)"/.exec(confirm.body)![1]!;
    const login = await agent.follow(new URL(confirmAction, issuer).toString(), {
      method: 'POST',
      form: hidden(confirm.body),
    });
    const loginAction = /action="([^"]+\/login)"/.exec(login.body)![1]!;
    const success = await agent.follow(new URL(loginAction, issuer).toString(), {
      method: 'POST',
      form: { email, password: PASSWORD },
    });
    expect(success.body).toContain('Device connected');

    const tokens = await oidc.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:device_code', {
      device_code: device.device_code,
    });
    expect(tokens.claims()).toMatchObject({ sub: userId, aud: client.id });
    // A device code is spent once.
    await expect(
      oidc.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:device_code', {
        device_code: device.device_code,
      }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('gives tokens the lifetime set for the client, or for the API they are for', async () => {
    const created = await adminCall('POST', '/api/v1/admin/clients', {
      name: 'Short-lived worker',
      grants: ['client_credentials'],
      scopes: ['reports:read'],
      accessTokenTtlSeconds: 120,
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().client.accessTokenTtlSeconds).toBe(120);
    const config = await discover(created.json().client.id, created.json().secret);
    expect((await oidc.clientCredentialsGrant(config)).expires_in).toBe(120);
    const resource = `https://reports-${dialect}.example.com`;
    await adminCall('POST', '/api/v1/admin/resources', {
      identifier: resource,
      name: 'Reports',
      scopes: ['reports:read'],
      accessTokenTtlSeconds: 600,
    });
    expect((await oidc.clientCredentialsGrant(config, { resource, scope: 'reports:read' })).expires_in).toBe(
      600,
    );
    const tooLong = await adminCall('POST', '/api/v1/admin/clients', {
      name: 'X',
      grants: ['client_credentials'],
      accessTokenTtlSeconds: 999_999,
    });
    expect(tooLong.statusCode).toBe(400);
  });
});
