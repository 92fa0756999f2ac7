import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TEST_PASSWORD } from './helpers/accounts.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { FakeClock } from './helpers/clock.js';
import { describeEachDialect, TEST_REDIS_URL } from './helpers/dialects.js';

const SESSION = '__Host-gh_session';
const PENDING = '__Host-gh_mfa';
const DEVICE = '__Host-gh_device';
// Addresses the offline city database places in London, Mountain View and Sydney.
const LONDON = '81.2.69.160';
const LONDON_NEIGHBOUR = '81.2.69.161';
const MOUNTAIN_VIEW = '8.8.8.8';
const SYDNEY = '1.1.1.1';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0';
const SAFARI =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Version/18.0 Safari';

function cookieOf(response: LightMyRequestResponse, name: string): string | undefined {
  const all = ([] as string[]).concat(
    (response.headers['set-cookie'] as string | string[] | undefined) ?? [],
  );
  return (
    all
      .find((line) => line.startsWith(`${name}=`))
      ?.split(';')[0]
      ?.slice(name.length + 1) || undefined
  );
}

interface SignIn {
  readonly id: string;
  readonly outcome: string;
  readonly score: number;
  readonly reasons: string[];
  readonly action: string;
  readonly country: string | null;
  readonly city: string | null;
}

describeEachDialect('risk engine', (testDatabase, dialect) => {
  let harness: TestApp;
  const clock = new FakeClock(Date.UTC(2026, 10, 23, 9));

  beforeAll(async () => {
    harness = await buildTestApp(testDatabase().url, {
      clock,
      overrides: {
        redis: { url: TEST_REDIS_URL, keyPrefix: `gatehouse-risk-test-${randomUUID()}:` },
        passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
        accounts: { notifyNewSignIn: false, throttle: { perIpFailures: 1000, perIpAccountFailures: 1000 } },
        security: { risk: { ipAccounts: 3, passwordAccounts: 3, accountFailures: 3 } },
      },
    });
  });

  afterAll(async () => {
    await harness?.app.close();
  });

  const signup = async (name: string) => {
    const email = `${name}-${dialect}@example.com`;
    const created = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email, password: TEST_PASSWORD },
    });
    expect(created.statusCode, created.body).toBe(201);
    return { email, id: created.json().user.id as string };
  };
  const login = (
    email: string,
    ip: string,
    userAgent = FIREFOX,
    password = TEST_PASSWORD,
    cookies: Record<string, string> = {},
  ) =>
    harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      remoteAddress: ip,
      headers: { 'user-agent': userAgent },
      cookies,
      payload: { email, password },
    });
  /** The signed-in user's history, asked from where and with what they signed in (sessions are bound to it). */
  const history = async (response: LightMyRequestResponse, ip: string, userAgent = FIREFOX) =>
    (
      await harness.app.inject({
        method: 'GET',
        url: '/api/v1/me/sign-ins',
        remoteAddress: ip,
        headers: { 'user-agent': userAgent },
        cookies: { [SESSION]: cookieOf(response, SESSION)! },
      })
    ).json().signIns as SignIn[];

  it('learns devices, networks and places, refuses impossible travel, and tells the user', async () => {
    const { email, id } = await signup('traveller');
    const first = await login(email, LONDON);
    expect(first.statusCode, first.body).toBe(200);
    let seen = await history(first, LONDON);
    expect(seen[0]).toMatchObject({
      outcome: 'succeeded',
      score: 0,
      reasons: [],
      country: 'GB',
      city: 'London',
    });

    // Same network, another device: a small score, allowed.
    clock.advance(3_600_000);
    const phone = await login(email, LONDON_NEIGHBOUR, SAFARI);
    expect(phone.statusCode).toBe(200);
    seen = await history(phone, LONDON_NEIGHBOUR, SAFARI);
    expect(seen[0]).toMatchObject({ reasons: ['newDevice'], score: 15, action: 'allow' });

    // Ten minutes later from California: nobody travels 8,600 km that fast. Refused like a wrong password.
    clock.advance(600_000);
    const far = await login(email, MOUNTAIN_VIEW);
    expect(far.statusCode).toBe(401);
    expect(far.json().code).toBe('invalid_credentials');
    expect(harness.logs.text).toContain('"securityEvent":"security.sign_in.refused"');

    // A day later the same place is only new: allowed, with a notice to the user.
    clock.advance(86_400_000);
    const later = await login(email, MOUNTAIN_VIEW);
    expect(later.statusCode, later.body).toBe(200);
    seen = await history(later, MOUNTAIN_VIEW);
    expect(seen.slice(0, 2)).toMatchObject([
      {
        outcome: 'succeeded',
        reasons: ['newNetwork', 'newCountry'],
        score: 40,
        action: 'notify',
        country: 'US',
      },
      {
        outcome: 'refused',
        reasons: ['newNetwork', 'newCountry', 'impossibleTravel'],
        score: 100,
        action: 'deny',
      },
    ]);
    expect(harness.logs.text).toContain('"securityEvent":"security.risk.elevated"');

    // Administrators see the same history.
    const admin = await signup('risk-admin');
    await harness.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
    const adminLogin = await login(admin.email, LONDON);
    const viaAdmin = await harness.app.inject({
      method: 'GET',
      url: `/api/v1/admin/users/${id}/sign-ins?limit=10`,
      remoteAddress: LONDON,
      headers: { 'user-agent': FIREFOX },
      cookies: { [SESSION]: cookieOf(adminLogin, SESSION)! },
    });
    expect(viaAdmin.statusCode, viaAdmin.body).toBe(200);
    expect(viaAdmin.json().signIns.map((row: SignIn) => row.outcome)).toEqual([
      'succeeded',
      'refused',
      'succeeded',
      'succeeded',
    ]);
  });

  it('sees one address trying many accounts and one password tried on many accounts, without storing it', async () => {
    const victims = await Promise.all([1, 2, 3, 4].map((n) => signup(`stuffed-${n}`)));
    const attacker = '203.0.113.77';
    for (const victim of victims.slice(0, 3)) {
      expect((await login(victim.email, attacker, FIREFOX, 'Summer2026!guess')).statusCode).toBe(401);
    }
    // The fourth account, with its right password, from the same address: it has tried many accounts.
    const hit = await login(victims[3]!.email, attacker);
    expect(hit.statusCode).toBe(200);
    expect((await history(hit, attacker))[0]!.reasons).toContain('ipManyAccounts');

    // One password across several accounts from several addresses.
    const spray = await Promise.all([5, 6, 7].map((n) => signup(`sprayed-${n}`)));
    for (const [index, victim] of spray.slice(0, 2).entries()) {
      expect(
        (await login(victim.email, `198.18.0.${index + 1}`, FIREFOX, TEST_PASSWORD.toUpperCase())).statusCode,
      ).toBe(401);
    }
    // ...and on a third: the spread is seen (counted by a 32-bit keyed fingerprint in Redis, never stored).
    expect(
      (await login(spray[2]!.email, '198.18.0.3', FIREFOX, TEST_PASSWORD.toUpperCase())).statusCode,
    ).toBe(401);
    const rows = await harness.app.gatehouse.database.db
      .selectFrom('security_sign_ins')
      .selectAll()
      .where('ip', '=', '198.18.0.3')
      .execute();
    expect(JSON.parse(rows[0]!.reasons)).toContain('passwordManyAccounts');
    // Nothing stored resembles the password.
    const everything = JSON.stringify(
      await harness.app.gatehouse.database.db.selectFrom('security_sign_ins').selectAll().execute(),
    );
    expect(everything).not.toContain(TEST_PASSWORD.toUpperCase());
  });

  it('asks for the second factor on a risky sign-in even from a remembered device', async () => {
    const { email } = await signup('remembered');
    const first = await login(email, LONDON);
    const session = { [SESSION]: cookieOf(first, SESSION)! };
    const csrf = first.json().csrfToken as string;
    const started = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/me/mfa/methods',
      cookies: session,
      headers: { 'x-csrf-token': csrf, 'user-agent': FIREFOX },
      remoteAddress: LONDON,
      payload: { type: 'totp' },
    });
    const { method, totp } = started.json();
    const code = () =>
      TOTP.generate({
        secret: Secret.fromBase32(totp.secret),
        algorithm: 'SHA1',
        digits: 6,
        period: 30,
        timestamp: clock.now(),
      });
    const confirmed = await harness.app.inject({
      method: 'POST',
      url: `/api/v1/me/mfa/methods/${method.id}/verify`,
      cookies: session,
      headers: { 'x-csrf-token': csrf, 'user-agent': FIREFOX },
      remoteAddress: LONDON,
      payload: { code: code() },
    });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    clock.advance(30_000);
    const pending = await login(email, LONDON);
    expect(pending.json().status).toBe('mfa_required');
    const done = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/mfa/verify',
      remoteAddress: LONDON,
      headers: { 'user-agent': FIREFOX },
      cookies: { [PENDING]: cookieOf(pending, PENDING)! },
      payload: { type: 'totp', code: code(), rememberDevice: true },
    });
    expect(done.statusCode, done.body).toBe(200);
    const device = cookieOf(done, DEVICE)!;
    // Remembered: no second factor from the usual place.
    clock.advance(3_600_000);
    expect((await login(email, LONDON, FIREFOX, TEST_PASSWORD, { [DEVICE]: device })).json().status).toBe(
      'ok',
    );
    // From Sydney a day later (new network and country: 40) with a failure streak on the account (25): 65, step up.
    clock.advance(86_400_000);
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await login(email, SYDNEY, FIREFOX, 'wrong-password-123')).statusCode).toBe(401);
    }
    const risky = await login(email, SYDNEY, FIREFOX, TEST_PASSWORD, { [DEVICE]: device });
    expect(risky.json().status, risky.body).toBe('mfa_required');
  });

  it('binds a session to its device (it ends elsewhere) and records a change of network', async () => {
    const { email } = await signup('continuous');
    const signedIn = await login(email, LONDON);
    const cookies = { [SESSION]: cookieOf(signedIn, SESSION)! };
    const me = (ip: string, userAgent: string) =>
      harness.app.inject({
        method: 'GET',
        url: '/api/v1/me',
        remoteAddress: ip,
        headers: { 'user-agent': userAgent },
        cookies,
      });
    expect((await me(LONDON_NEIGHBOUR, FIREFOX)).statusCode).toBe(200);
    // The browser updated itself: still the same device.
    expect((await me(LONDON, FIREFOX.replaceAll('140.0', '141.0'))).statusCode).toBe(200);
    // Another network: recorded, not refused.
    expect((await me(MOUNTAIN_VIEW, FIREFOX)).statusCode).toBe(200);
    expect(harness.logs.text).toMatch(/"securityEvent":"security.session.moved".*"networkChanged":true/);
    // Another device: the session ends, for everyone holding it.
    const stolen = await me(LONDON, SAFARI);
    expect(stolen.statusCode).toBe(401);
    expect(stolen.json().code).toBe('session_required');
    expect((await me(LONDON, FIREFOX)).statusCode).toBe(401);
  });

  it('forgets sign-in history after security.risk.historyDays (housekeeping)', async () => {
    const { email, id } = await signup('forgotten');
    expect((await login(email, LONDON)).statusCode).toBe(200);
    expect(await harness.app.services.risk.history(id, { limit: 5, offset: 0 })).toHaveLength(1);
    clock.advance(181 * 86_400_000);
    const deleted = await harness.app.services.housekeeping.runOnce();
    expect(deleted.sign_in_history).toBeGreaterThan(0);
    expect(await harness.app.services.risk.history(id, { limit: 5, offset: 0 })).toEqual([]);
  });
});
