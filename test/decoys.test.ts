import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { type SignedInAccount, signedInAccount, TEST_PASSWORD } from './helpers/accounts.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { describeEachDialect } from './helpers/dialects.js';

describeEachDialect('honeytokens', (testDatabase, dialect) => {
  let harness: TestApp;
  let admin: SignedInAccount;

  beforeAll(async () => {
    harness = await buildTestApp(testDatabase().url, {
      overrides: {
        passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
        accounts: { notifyNewSignIn: false },
      },
    });
    admin = await signedInAccount(harness.app, 'decoy-admin', dialect);
    await harness.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
  });

  afterAll(async () => {
    await harness?.app.close();
  });

  const plant = async (body: object) => {
    const response = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/admin/security/decoys',
      headers: admin.headers,
      payload: body,
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as { decoy: { id: string; kind: string }; credentials: Record<string, string> };
  };
  const tripped = (kind: string) =>
    harness.logs.entries.find(
      (entry) =>
        entry.securityEvent === 'security.honeytoken.used' &&
        (entry.details as { decoy?: string } | undefined)?.decoy === kind,
    );
  const blocked = (ip: string) =>
    vi.waitFor(async () =>
      expect(
        (await harness.app.inject({ method: 'GET', url: '/api/v1/me', remoteAddress: ip })).statusCode,
      ).toBe(403),
    );
  // What an attacker sees: the answer minus what differs on every request.
  const shape = (response: { statusCode: number; json(): Record<string, unknown> }) => ({
    status: response.statusCode,
    ...response.json(),
    requestId: undefined,
  });

  it('a decoy account fails like a wrong password, even with its own, raises the alarm and blocks the source', async () => {
    const { credentials } = await plant({
      kind: 'account',
      label: 'backup-admin',
      email: `backup-admin-${dialect}@example.com`,
    });
    const real = await signedInAccount(harness.app, 'real-user', dialect);
    const wrong = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      remoteAddress: '192.0.2.89',
      payload: { email: real.email, password: 'not-the-password-9' },
    });
    expect(tripped('account')).toBeUndefined();
    const decoy = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      remoteAddress: '192.0.2.90',
      payload: { email: credentials.email, password: credentials.password },
    });
    expect(shape(decoy)).toEqual(shape(wrong));
    expect(tripped('account')).toMatchObject({ severity: 'critical', ip: '192.0.2.90' });
    await blocked('192.0.2.90');
    // Real users never trip them.
    const fine = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: real.email, password: TEST_PASSWORD },
    });
    expect(fine.statusCode).toBe(200);
  });

  it('a decoy API key is refused like a wrong key and raises the alarm', async () => {
    const { credentials } = await plant({ kind: 'api_key', label: 'ci-deploy' });
    expect(credentials.apiKey).toMatch(/^gh_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const call = (token: string, ip: string) =>
      harness.app.inject({
        method: 'GET',
        url: '/api/v1/admin/users',
        remoteAddress: ip,
        headers: { authorization: `Bearer ${token}` },
      });
    const decoy = await call(credentials.apiKey!, '192.0.2.91');
    const wrongSecret = await call(`${credentials.apiKey!.slice(0, 36)}${'x'.repeat(43)}`, '192.0.2.93');
    expect(decoy.statusCode).toBe(401);
    expect(decoy.json().code).toBe('api_key_invalid');
    expect(decoy.json().code).toBe(wrongSecret.json().code);
    expect(tripped('api_key')).toMatchObject({ severity: 'critical', ip: '192.0.2.91' });
    await blocked('192.0.2.91');
  });

  it('a decoy OAuth client fails like a disabled one, and a decoy reset link like an expired one', async () => {
    const client = await plant({ kind: 'client', label: 'reporting-etl' });
    const token = await harness.app.inject({
      method: 'POST',
      url: '/oauth2/token',
      remoteAddress: '192.0.2.92',
      headers: {
        authorization: `Basic ${Buffer.from(`${client.credentials.clientId}:${client.credentials.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: 'grant_type=client_credentials',
    });
    expect(token.statusCode).toBe(401);
    expect(token.json().error).toBe('invalid_client');
    expect(tripped('client')).toMatchObject({ severity: 'critical', ip: '192.0.2.92' });

    const link = await plant({ kind: 'reset_link', label: 'ceo-mailbox' });
    const resetToken = new URL(link.credentials.url!).searchParams.get('token')!;
    expect(resetToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const used = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/confirm',
      remoteAddress: '192.0.2.94',
      payload: { token: resetToken, password: 'a-brand-new-passphrase-7' },
    });
    const expired = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/confirm',
      remoteAddress: '192.0.2.95',
      payload: { token: 'A'.repeat(43), password: 'a-brand-new-passphrase-7' },
    });
    expect(shape(used)).toEqual(shape(expired));
    expect(tripped('reset_link')).toMatchObject({ severity: 'critical', ip: '192.0.2.94' });

    const listed = await harness.app.inject({
      method: 'GET',
      url: '/api/v1/admin/security/decoys',
      headers: admin.headers,
    });
    expect(
      listed
        .json()
        .decoys.map((decoy: { kind: string }) => decoy.kind)
        .sort(),
    ).toEqual(['account', 'api_key', 'client', 'reset_link']);
    const removed = await harness.app.inject({
      method: 'DELETE',
      url: `/api/v1/admin/security/decoys/${link.decoy.id}`,
      headers: admin.headers,
    });
    expect(removed.statusCode).toBe(204);
  });
});
