import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type SignedInAccount, signedInAccount } from './helpers/accounts.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { FakeClock } from './helpers/clock.js';
import {
  createTestDatabase,
  describeEachDialect,
  TEST_REDIS_URL,
  type TestDatabase,
} from './helpers/dialects.js';

const HEALTH_TOKEN = 'health-token-for-security-tests';
const FAST_HASHING = { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } };

/** Small budgets so a test can spend them: 2 a minute plus a burst of 1 for sign-in. */
const SMALL_LIMITS = {
  enabled: true,
  auth: { limit: 2, burst: 1 },
  admin: { limit: 3, burst: 0 },
  token: { limit: 2, burst: 0 },
  anonymous: { limit: 5, burst: 0 },
};

const login = (harness: TestApp, ip: string, email = 'nobody@example.com') =>
  harness.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    remoteAddress: ip,
    payload: { email, password: 'not-the-password-1' },
  });

describeEachDialect('security layer', (testDatabase, dialect) => {
  let harness: TestApp;
  let other: TestApp;
  let admin: SignedInAccount;
  const clock = new FakeClock(Date.now());
  const keyPrefix = `gatehouse-security-test-${randomUUID()}:`;

  const node = (extra: Record<string, unknown> = {}) =>
    buildTestApp(testDatabase().url, {
      clock,
      overrides: {
        redis: { url: TEST_REDIS_URL, keyPrefix },
        passwords: FAST_HASHING,
        health: { token: HEALTH_TOKEN },
        accounts: { notifyNewSignIn: false },
        security: {
          rateLimits: SMALL_LIMITS,
          allowList: ['127.0.0.1', '::1'],
          denyList: ['198.51.100.0/24'],
          autoBlock: { offences: 4, durationsSeconds: [60, 600] },
        },
        ...extra,
      },
    });

  beforeAll(async () => {
    harness = await node();
    other = await node();
    admin = await signedInAccount(harness.app, 'admin', dialect);
    await harness.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
  });

  afterAll(async () => {
    await harness?.app.close();
    await other?.app.close();
  });

  const asAdmin = (
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    payload?: object,
    remoteAddress = '127.0.0.1',
  ) => harness.app.inject({ method, url, payload, headers: admin.headers, remoteAddress });

  it('limits sign-in per IP with a burst, answering 429 problem+json with Retry-After and RateLimit headers', async () => {
    const ip = '192.0.2.10';
    const first = await login(harness, ip);
    expect(first.statusCode).toBe(401);
    expect(first.headers['ratelimit-policy']).toBe('"auth";q=2;w=60, "auth-burst";q=1;w=600');
    expect(first.headers.ratelimit).toMatch(/^"auth";r=1;t=\d+$/);
    expect((await login(harness, ip)).statusCode).toBe(401);
    // The burst allowance: one more.
    expect((await login(harness, ip)).statusCode).toBe(401);
    const refused = await login(harness, ip);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.json()).toMatchObject({ code: 'too_many_requests', status: 429 });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers.ratelimit).toMatch(/^"auth";r=0;t=\d+$/);
    expect(harness.logs.text).toContain('"securityEvent":"security.rate_limited"');
    // Another IP has its own budget; the allow list has none.
    expect((await login(harness, '192.0.2.11')).statusCode).toBe(401);
    for (let attempt = 0; attempt < 5; attempt++) {
      expect((await login(harness, '127.0.0.1')).statusCode).toBe(401);
    }
  });

  it('shares one budget across nodes through Redis', async () => {
    const ip = '192.0.2.20';
    expect((await login(harness, ip)).statusCode).toBe(401);
    expect((await login(other, ip)).statusCode).toBe(401);
    expect((await login(harness, ip)).statusCode).toBe(401);
    expect((await login(other, ip)).statusCode).toBe(429);
  });

  it('limits the admin API per user, not per address', async () => {
    const second = await signedInAccount(harness.app, 'second-admin', dialect);
    await harness.app.services.authz.assign({ type: 'user', id: second.id }, 'admin', {});
    const list = (caller: SignedInAccount, ip: string) =>
      harness.app.inject({
        method: 'GET',
        url: '/api/v1/admin/roles',
        headers: caller.headers,
        remoteAddress: ip,
      });
    for (const ip of ['192.0.2.31', '192.0.2.32', '192.0.2.33']) {
      const answer = await list(second, ip);
      expect(answer.statusCode).toBe(200);
      expect(answer.headers['ratelimit-policy']).toBe('"admin";q=3;w=60');
    }
    expect((await list(second, '192.0.2.34')).statusCode).toBe(429);
    expect((await list(admin, '192.0.2.34')).statusCode).toBe(200);
  });

  it('limits the token endpoint per client', async () => {
    const token = (clientId: string) =>
      harness.app.inject({
        method: 'POST',
        url: '/oauth2/token',
        remoteAddress: '192.0.2.40',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:wrong`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        payload: 'grant_type=client_credentials',
      });
    expect((await token('client-a')).statusCode).toBe(401);
    expect((await token('client-a')).statusCode).toBe(401);
    expect((await token('client-a')).statusCode).toBe(429);
    expect((await token('client-b')).statusCode).toBe(401);
  });

  it('refuses deny-listed ranges and attack tools, and blocks and lifts IPs, ranges and user agents', async () => {
    const from = (remoteAddress: string, userAgent = 'Mozilla/5.0') =>
      harness.app.inject({
        method: 'GET',
        url: '/api/v1/me',
        remoteAddress,
        headers: { 'user-agent': userAgent },
      });
    const denied = await from('198.51.100.77');
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toMatchObject({ code: 'access_blocked' });
    expect((await from('192.0.2.50', 'sqlmap/1.7.2#stable (https://sqlmap.org)')).statusCode).toBe(403);
    expect(harness.logs.text).toContain('"securityEvent":"security.blocked_request"');

    expect((await from('203.0.113.9')).statusCode).toBe(401);
    const range = await asAdmin('POST', '/api/v1/admin/security/blocks', {
      kind: 'ip',
      value: '203.0.113.0/24',
      reason: 'scanner',
    });
    expect(range.statusCode, range.body).toBe(201);
    const v6 = await asAdmin('POST', '/api/v1/admin/security/blocks', {
      kind: 'ip',
      value: '2001:db8::/32',
      durationSeconds: 120,
    });
    expect(v6.statusCode).toBe(201);
    const agent = await asAdmin('POST', '/api/v1/admin/security/blocks', {
      kind: 'user_agent',
      value: 'EvilBot',
    });
    expect(agent.statusCode).toBe(201);
    expect((await from('203.0.113.9')).statusCode).toBe(403);
    expect((await from('2001:db8:1::5')).statusCode).toBe(403);
    expect((await from('2001:db9::5')).statusCode).toBe(401);
    expect((await from('192.0.2.51', 'Mozilla/5.0 evilbot/2')).statusCode).toBe(403);
    expect(harness.logs.text).toContain('"securityEvent":"security.ip.blocked"');
    // The other node hears of it through pub/sub.
    await vi.waitFor(async () =>
      expect(
        (await other.app.inject({ method: 'GET', url: '/api/v1/me', remoteAddress: '203.0.113.10' }))
          .statusCode,
      ).toBe(403),
    );

    // Temporary blocks end by themselves.
    clock.advance(121_000);
    expect((await from('2001:db8:1::5')).statusCode).toBe(401);

    const listed = (await asAdmin('GET', '/api/v1/admin/security/blocks')).json().blocks as {
      id: string;
      value: string;
    }[];
    expect(listed.map((block) => block.value)).toEqual(expect.arrayContaining(['203.0.113.0/24', 'evilbot']));
    expect(listed.map((block) => block.value)).not.toContain('2001:db8::/32');
    expect(
      (await asAdmin('DELETE', `/api/v1/admin/security/blocks/${range.json().block.id}`)).statusCode,
    ).toBe(204);
    expect((await from('203.0.113.9')).statusCode).toBe(401);
    expect(
      (await asAdmin('DELETE', `/api/v1/admin/security/blocks/${range.json().block.id}`)).statusCode,
    ).toBe(404);
    const invalid = await asAdmin('POST', '/api/v1/admin/security/blocks', {
      kind: 'ip',
      value: '10.0.0.0/33',
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().code).toBe('block_invalid');
    // An allow-listed source cannot be blocked by mistake.
    expect(
      (await asAdmin('POST', '/api/v1/admin/security/blocks', { kind: 'ip', value: '127.0.0.1' })).statusCode,
    ).toBe(400);
  });

  it('blocks an abusive source automatically, longer each time', async () => {
    const ip = '192.0.2.60';
    // Sign-in failures are the throttle's business; four refusals (offences) within the window block the source.
    const answers: number[] = [];
    for (let attempt = 0; attempt < 7; attempt++) answers.push((await login(harness, ip)).statusCode);
    expect(answers).toEqual([401, 401, 401, 429, 429, 429, 429]);
    await vi.waitFor(async () => expect((await login(harness, ip)).statusCode).toBe(403));
    const blocks = (await asAdmin('GET', '/api/v1/admin/security/blocks')).json().blocks as {
      value: string;
      source: string;
      createdAt: string;
      expiresAt: string;
    }[];
    const first = blocks.find((block) => block.value === ip)!;
    expect(first.source).toBe('automatic');
    expect(Date.parse(first.expiresAt) - Date.parse(first.createdAt)).toBe(60_000);

    // It expires; the next offence blocks again, for longer.
    clock.advance(61_000);
    await vi.waitFor(async () => expect((await login(harness, ip)).statusCode).toBe(403));
    const again = (await asAdmin('GET', '/api/v1/admin/security/blocks'))
      .json()
      .blocks.find((block: { value: string; source: string }) => block.value === ip);
    expect(again.createdAt).not.toBe(first.createdAt);
    expect(Date.parse(again.expiresAt) - Date.parse(again.createdAt)).toBe(600_000);
  });

  it('answers honeypot paths like any missing page, raises a critical event and blocks the source', async () => {
    const missing = await harness.app.inject({
      method: 'GET',
      url: '/no-such-page',
      remoteAddress: '192.0.2.70',
    });
    const decoy = await harness.app.inject({ method: 'GET', url: '/.env', remoteAddress: '192.0.2.71' });
    expect(decoy.statusCode).toBe(missing.statusCode);
    expect(decoy.headers['content-type']).toBe(missing.headers['content-type']);
    const shape = (body: Record<string, unknown>) => ({
      ...body,
      instance: undefined,
      requestId: undefined,
      detail: undefined,
    });
    expect(shape(decoy.json())).toEqual(shape(missing.json()));
    expect(harness.logs.text).toMatch(
      /"securityEvent":"security.honeytoken.used".*"severity":"critical"|"severity":"critical".*"securityEvent":"security.honeytoken.used"/,
    );
    expect(
      (await harness.app.inject({ method: 'GET', url: '/api/v1/me', remoteAddress: '192.0.2.71' }))
        .statusCode,
    ).toBe(403);
  });

  it('reports the rate limiter in health and metrics', async () => {
    const ready = await harness.app.inject({
      method: 'GET',
      url: '/health',
      headers: { authorization: `Bearer ${HEALTH_TOKEN}` },
    });
    expect(ready.json().components.rate_limits).toMatchObject({
      status: 'up',
      details: { store: 'redis', degraded: false },
    });
  });
});

describe('security layer without Redis', () => {
  let database: TestDatabase;
  let harness: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    // Redis configured but unreachable (nothing listens on port 9): limits must hold per node.
    harness = await buildTestApp(database.url, {
      overrides: {
        redis: { url: 'redis://127.0.0.1:9', connectTimeoutMs: 200 },
        passwords: FAST_HASHING,
        health: { token: HEALTH_TOKEN },
        security: { rateLimits: SMALL_LIMITS, autoBlock: { enabled: false } },
      },
    });
  });

  afterAll(async () => {
    await harness?.app.close();
    await database?.drop();
  });

  it('falls back to per-node memory, counts it, and says so in health', async () => {
    const ip = '192.0.2.80';
    const answers: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) answers.push((await login(harness, ip)).statusCode);
    expect(answers).toEqual([401, 401, 401, 429]);
    const metrics = await harness.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^gatehouse_rate_limit_fallbacks_total [1-9]/m);
    expect(metrics.body).toMatch(/^gatehouse_rate_limited_total\{policy="auth"\} 1$/m);
    expect(metrics.body).toMatch(
      /^gatehouse_security_events_total\{name="security.rate_limited",severity="low",outcome="failure"\} 1$/m,
    );
    const health = await harness.app.inject({
      method: 'GET',
      url: '/health',
      headers: { authorization: `Bearer ${HEALTH_TOKEN}` },
    });
    expect(health.json().components.rate_limits).toMatchObject({
      status: 'down',
      critical: false,
      error: expect.stringContaining('per node'),
    });
    expect(harness.logs.text).toContain('rate limits are enforced per node');
    expect(harness.logs.text).toContain('"securityEvent":"security.rate_limit.degraded"');
  });
});
