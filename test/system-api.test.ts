import { randomUUID } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type SignedInAccount, signedInAccount, TEST_PASSWORD } from './helpers/accounts.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { FakeClock } from './helpers/clock.js';
import { describeEachDialect, TEST_REDIS_URL } from './helpers/dialects.js';

const totp = (secret: string, at: number) =>
  TOTP.generate({
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    timestamp: at,
  });

describeEachDialect('the system API, with Redis', (testDatabase, dialect) => {
  // Two nodes on one database and one Redis.
  let nodeA: TestApp;
  let nodeB: TestApp;
  let admin: SignedInAccount;
  const clock = new FakeClock(Date.UTC(2026, 10, 23, 12));
  const keyPrefix = `gatehouse-system-test-${randomUUID()}:`;

  beforeAll(async () => {
    const node = () =>
      buildTestApp(testDatabase().url, {
        clock,
        overrides: {
          redis: { url: TEST_REDIS_URL, keyPrefix },
          passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
          accounts: { notifyNewSignIn: false },
        },
      });
    nodeA = await node();
    nodeB = await node();
    admin = await signedInAccount(nodeA.app, 'system-admin', dialect);
    await nodeA.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
  });

  afterAll(async () => {
    await nodeA?.app.close();
    await nodeB?.app.close();
  });

  const get = (url: string, headers: Record<string, string> = admin.headers) =>
    nodeA.app.inject({ method: 'GET', url, headers });

  it('reports version, uptime, migrations, the database and Redis to operators only', async () => {
    const overview = await get('/api/v1/admin/system');
    expect(overview.statusCode, overview.body).toBe(200);
    expect(overview.json()).toMatchObject({
      database: dialect,
      redis: 'standalone',
      migrations: { latest: '0017_federation', pending: [], unknown: [] },
    });
    expect(overview.json().uptimeSeconds).toBeGreaterThanOrEqual(0);

    const database = (await get('/api/v1/admin/system/database')).json();
    expect(database).toMatchObject({ dialect });
    expect(database.latencyMs).toBeGreaterThanOrEqual(0);
    expect(database.sizeBytes).toBeGreaterThan(0);
    expect(database.tables.users).toBeGreaterThanOrEqual(1);
    expect(database.tables.jobs).toBeGreaterThanOrEqual(0);

    const cache = (await get('/api/v1/admin/system/cache')).json();
    expect(cache).toMatchObject({ configured: true, mode: 'standalone', status: 'ready' });
    expect(cache.usedMemoryBytes).toBeGreaterThan(0);
    expect(cache.keys).toBeGreaterThanOrEqual(0);

    const config = (await get('/api/v1/admin/system/config')).json();
    expect(config.settings.jobs).toMatchObject({ enabled: true, concurrency: 4 });
    expect(JSON.stringify(config)).not.toContain(nodeA.config.secrets.key ?? 'no key');

    const member = await signedInAccount(nodeA.app, 'system-member', dialect);
    for (const url of [
      '/api/v1/admin/system',
      '/api/v1/admin/system/database',
      '/api/v1/admin/system/cache',
    ]) {
      expect((await get(url, member.headers)).statusCode, url).toBe(403);
    }
  });

  it("clears every node's caches only after a recent second factor, and records it", async () => {
    const clear = (headers: Record<string, string>) =>
      nodeA.app.inject({ method: 'POST', url: '/api/v1/admin/system/cache/clear', headers });
    const withoutMfa = await clear(admin.headers);
    expect(withoutMfa.json()).toMatchObject({ status: 403, code: 'step_up_required' });

    // The administrator adds an authenticator app and signs in with it.
    const started = await nodeA.app.inject({
      method: 'POST',
      url: '/api/v1/me/mfa/methods',
      headers: admin.headers,
      payload: { type: 'totp' },
    });
    expect(started.statusCode, started.body).toBe(201);
    const { method, totp: enrolment } = started.json();
    const enrolled = await nodeA.app.inject({
      method: 'POST',
      url: `/api/v1/me/mfa/methods/${method.id}/verify`,
      headers: admin.headers,
      payload: { code: totp(enrolment.secret, clock.now()) },
    });
    expect(enrolled.statusCode, enrolled.body).toBe(200);
    clock.advance(30_000);
    const login = await nodeA.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: admin.email, password: TEST_PASSWORD },
    });
    const pending = String(login.headers['set-cookie']).split(';')[0]!;
    const verified = await nodeA.app.inject({
      method: 'POST',
      url: '/api/v1/auth/mfa/verify',
      headers: { cookie: pending },
      payload: { type: 'totp', code: totp(enrolment.secret, clock.now()) },
    });
    expect(verified.statusCode, verified.body).toBe(200);
    const strong = {
      cookie: String(verified.headers['set-cookie'])
        .split(/,(?=\s*__Host-)/)
        .map((part) => part.split(';')[0]!.trim())
        .find((part) => part.startsWith('__Host-gh_session='))!,
      'x-csrf-token': verified.json().csrfToken,
    };
    // A session warms node B's cache; clearing on node A empties it there too (through Redis).
    expect((await nodeB.app.inject({ method: 'GET', url: '/api/v1/me', headers: strong })).statusCode).toBe(
      200,
    );
    const cleared = await clear(strong);
    expect(cleared.statusCode, cleared.body).toBe(200);
    expect(cleared.json().cleared.sessions).toBeGreaterThanOrEqual(1);
    await expect
      .poll(() => nodeB.logs.entries.some((line) => line.msg === 'caches cleared at an operator’s request'))
      .toBe(true);

    // Some minutes later the second factor is no longer recent.
    clock.advance(nodeA.config.mfa.recentAuthSeconds * 1000 + 1000);
    expect((await clear(strong)).json().code).toBe('step_up_required');
    await nodeA.app.services.auditWriter.flush();
    const audit = await nodeA.app.services.audit.list({ name: 'system.caches.cleared' }, 5);
    expect(audit.events).toHaveLength(1);
  });
});
