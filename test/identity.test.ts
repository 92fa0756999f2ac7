import type { InjectOptions } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { FakeClock } from './helpers/clock.js';
import { describeEachDialect, TEST_REDIS_URL, type TestDatabase } from './helpers/dialects.js';
import { startTestSmtpServer, type TestSmtpServer } from './helpers/mail.js';

const PASSWORD = 'violet-harbor-lantern-42';
const CSRF = 'x-csrf-token';

interface Agent {
  cookie: string;
  csrf: string;
  /** The browser it signed in with: sessions are bound to their device. */
  userAgent?: string | undefined;
}

/** What the agent's browser sends with every request: its session cookie, from its own user agent. */
const browser = (agent: Agent): Record<string, string> => ({
  cookie: agent.cookie,
  ...(agent.userAgent ? { 'user-agent': agent.userAgent } : {}),
});

function cookieFrom(response: { headers: Record<string, unknown> }): string {
  const header = response.headers['set-cookie'];
  const first = (Array.isArray(header) ? header[0] : header) as string | undefined;
  if (!first) throw new Error('no Set-Cookie in response');
  return first.split(';')[0]!;
}

function tokenFrom(url: string): string {
  const token = new URL(url).searchParams.get('token');
  if (!token) throw new Error(`no token in ${url}`);
  return token;
}

/** The parts of a problem that must be identical between two failures (everything but the request id). */
function comparable(response: { statusCode: number; body: string; headers: Record<string, unknown> }) {
  const { requestId: _ignored, ...body } = JSON.parse(response.body) as Record<string, unknown>;
  return { status: response.statusCode, contentType: response.headers['content-type'], body };
}

describeEachDialect('identity', (testDatabase) => {
  let smtp: TestSmtpServer;
  let harness: TestApp;
  let clock: FakeClock;

  const identityConfig = (extra: Record<string, unknown> = {}) => ({
    mail: {
      transport: 'smtp',
      from: 'Gatehouse <id@example.test>',
      smtp: { host: '127.0.0.1', port: smtp.port, secure: false, requireTls: false },
    },
    // Cheap hashes keep the suite fast; the production parameters are exercised by the passwords module and bench/.
    passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
    accounts: { throttle: { perIpFailures: 1000, perIpAccountFailures: 1000 } },
    ...extra,
  });

  beforeAll(async () => {
    smtp = await startTestSmtpServer();
    clock = new FakeClock(Date.UTC(2026, 10, 23, 12));
    harness = await buildTestApp(testDatabase().url, { clock, overrides: identityConfig() });
    await harness.app.ready();
  });

  afterAll(async () => {
    await harness.app.close();
    await smtp.close();
  });

  const inject = (options: InjectOptions) => harness.app.inject(options);

  async function signup(email: string, password = PASSWORD, name?: string) {
    const response = await inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email, password, name },
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json().user as { id: string; email: string };
  }

  async function login(
    email: string,
    password = PASSWORD,
    headers: Record<string, string> = {},
  ): Promise<Agent> {
    const response = await inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password },
      headers,
    });
    expect(response.statusCode, response.body).toBe(200);
    return {
      cookie: cookieFrom(response),
      csrf: response.json().csrfToken,
      userAgent: headers['user-agent'],
    };
  }

  const me = (agent: Agent) => inject({ method: 'GET', url: '/api/v1/me', headers: browser(agent) });
  const write = (agent: Agent, method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    inject({
      method,
      url,
      payload: payload as object,
      headers: { ...browser(agent), [CSRF]: agent.csrf },
    });

  async function makeAdmin(email: string): Promise<Agent> {
    await signup(email);
    const user = await harness.app.gatehouse.database.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    await harness.app.services.authz.assign({ type: 'user', id: user.id }, 'admin', {});
    return login(email);
  }

  it('signs up, e-mails a verification link that works once, and signs in with a session cookie', async () => {
    const user = await signup('Alice@Example.com', PASSWORD, 'Alice');
    expect(user.email).toBe('alice@example.com');
    const mail = await smtp.waitFor(
      (message) => message.to.includes('alice@example.com') && /verify/i.test(message.subject),
    );
    const link = mail.links.find((url) => url.includes('/auth/verify-email'))!;
    expect(link.startsWith(harness.config.server.publicUrl)).toBe(true);

    const verified = await inject({
      method: 'POST',
      url: '/api/v1/auth/verify-email',
      payload: { token: tokenFrom(link) },
    });
    expect(verified.statusCode).toBe(200);
    expect(verified.json().user.emailVerified).toBe(true);
    const again = await inject({
      method: 'POST',
      url: '/api/v1/auth/verify-email',
      payload: { token: tokenFrom(link) },
    });
    expect(again.statusCode).toBe(400);
    expect(again.json().code).toBe('invalid_token');

    const response = await inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'ALICE@example.com', password: PASSWORD },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      status: 'ok',
      user: { email: 'alice@example.com', emailVerified: true },
    });
    const setCookie = String(response.headers['set-cookie']);
    expect(setCookie).toMatch(/^__Host-gh_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('Secure');
    expect(setCookie).toContain('SameSite=Lax');
    expect(setCookie).toContain('Path=/');
    const profile = await me({ cookie: cookieFrom(response), csrf: '' });
    expect(profile.statusCode).toBe(200);
    expect(profile.json().session.amr).toEqual(['pwd']);
  });

  it('refuses a duplicate e-mail regardless of case, and weak passwords with the rule that failed', async () => {
    await signup('dup@example.com');
    const duplicate = await inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: 'DUP@example.com', password: PASSWORD },
    });
    expect(duplicate.statusCode).toBe(409);
    const weak = await inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: 'weak@example.com', password: 'short' },
    });
    expect(weak.statusCode).toBe(400);
    expect(weak.json()).toMatchObject({
      code: 'password_policy_violation',
      errors: [{ path: 'body.password' }],
    });
  });

  it('answers every failed sign-in identically: unknown e-mail, wrong password, disabled, locked', async () => {
    await signup('wrong@example.com');
    const disabled = await signup('disabled@example.com');
    const locked = await signup('locked@example.com');
    const db = harness.app.gatehouse.database.db;
    await db.updateTable('users').set({ status: 'disabled' }).where('id', '=', disabled.id).execute();
    await db
      .updateTable('users')
      .set({ locked_until: clock.now() + 3_600_000 })
      .where('id', '=', locked.id)
      .execute();

    const attempts = {
      unknown: { email: 'nobody@example.com', password: PASSWORD },
      wrongPassword: { email: 'wrong@example.com', password: 'not-the-password-99' },
      disabled: { email: 'disabled@example.com', password: PASSWORD },
      locked: { email: 'locked@example.com', password: PASSWORD },
    };
    const answers = [];
    for (const payload of Object.values(attempts)) {
      answers.push(comparable(await inject({ method: 'POST', url: '/api/v1/auth/login', payload })));
    }
    expect(answers[0]).toMatchObject({ status: 401, body: { code: 'invalid_credentials' } });
    for (const answer of answers) expect(answer).toEqual(answers[0]);
  });

  it('locks an account after repeated failures, for longer each time, and lets it in after the lock', async () => {
    await signup('lockme@example.com');
    const fail = () =>
      inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'lockme@example.com', password: 'guess-guess-guess' },
      });
    for (let attempt = 0; attempt < 5; attempt++) expect((await fail()).statusCode).toBe(401);
    const during = await inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'lockme@example.com', password: PASSWORD },
    });
    expect(comparable(during)).toEqual(comparable(await fail()));
    expect(harness.logs.text).toContain('"securityEvent":"auth.lockout"');

    clock.advance(15 * 60_000 + 1);
    await login('lockme@example.com');

    for (let attempt = 0; attempt < 5; attempt++) await fail();
    clock.advance(15 * 60_000 + 1);
    // The second lock lasts twice as long.
    expect(
      (
        await inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { email: 'lockme@example.com', password: PASSWORD },
        })
      ).statusCode,
    ).toBe(401);
    clock.advance(15 * 60_000);
    await login('lockme@example.com');
  });

  it('resets a password by e-mail link, once, ending every session; the request answers alike for unknown addresses', async () => {
    await signup('reset@example.com');
    const before = await login('reset@example.com');
    const sent = smtp.messages.length;
    const unknown = await inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/request',
      payload: { email: 'ghost@example.com' },
    });
    const known = await inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/request',
      payload: { email: 'reset@example.com' },
    });
    expect(unknown.statusCode).toBe(202);
    expect(unknown.body).toBe(known.body);
    const mail = await smtp.waitFor(
      (message) =>
        message.to.includes('reset@example.com') &&
        message.links.some((url) => url.includes('/auth/reset-password')),
    );
    expect(smtp.messages.slice(sent).some((message) => message.to.includes('ghost@example.com'))).toBe(false);
    const token = tokenFrom(mail.links.find((url) => url.includes('/auth/reset-password'))!);

    const weak = await inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/confirm',
      payload: { token, password: 'password' },
    });
    expect(weak.statusCode).toBe(400);
    const confirmed = await inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/confirm',
      payload: { token, password: 'new-orchard-compass-17' },
    });
    expect(confirmed.statusCode).toBe(204);
    expect((await me(before)).statusCode).toBe(401);
    const reused = await inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/confirm',
      payload: { token, password: 'another-orchard-compass-18' },
    });
    expect(reused.json().code).toBe('invalid_token');
    await login('reset@example.com', 'new-orchard-compass-17');
  });

  it('protects cookie-authenticated writes against CSRF', async () => {
    await signup('csrf@example.com');
    const agent = await login('csrf@example.com');
    const missing = await inject({
      method: 'PATCH',
      url: '/api/v1/me',
      payload: { name: 'X' },
      headers: browser(agent),
    });
    expect(missing.statusCode).toBe(403);
    expect(missing.json().code).toBe('csrf_failed');
    const wrong = await inject({
      method: 'PATCH',
      url: '/api/v1/me',
      payload: { name: 'X' },
      headers: { ...browser(agent), [CSRF]: 'forged' },
    });
    expect(wrong.statusCode).toBe(403);
    const foreign = await inject({
      method: 'PATCH',
      url: '/api/v1/me',
      payload: { name: 'X' },
      headers: { ...browser(agent), [CSRF]: agent.csrf, origin: 'https://evil.example' },
    });
    expect(foreign.statusCode).toBe(403);
    const ok = await write(agent, 'PATCH', '/api/v1/me', { name: 'Carol' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().user.name).toBe('Carol');
  });

  it('lists sessions with devices, revokes one at once, and revokes all others', async () => {
    await signup('sessions@example.com');
    const firefox = await login('sessions@example.com', PASSWORD, {
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
    });
    const chrome = await login('sessions@example.com', PASSWORD, {
      'user-agent':
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    });
    const third = await login('sessions@example.com');
    expect((await me(firefox)).statusCode).toBe(200);
    const listed = await inject({
      method: 'GET',
      url: '/api/v1/me/sessions',
      headers: browser(chrome),
    });
    const sessions = listed.json().sessions as {
      id: string;
      device: { browser?: string; os?: string };
      current: boolean;
    }[];
    expect(sessions).toHaveLength(3);
    expect(sessions.map((session) => session.device.browser).sort()).toEqual(
      expect.arrayContaining(['Chrome 131', 'Firefox 128']),
    );
    expect(sessions.filter((session) => session.current)).toHaveLength(1);

    const firefoxId = (await me(firefox)).json().session.id;
    // Firefox's session is cached after the request above; revocation must still apply at once.
    expect((await write(chrome, 'DELETE', `/api/v1/me/sessions/${firefoxId}`)).statusCode).toBe(204);
    expect((await me(firefox)).statusCode).toBe(401);

    const others = await write(chrome, 'POST', '/api/v1/me/sessions/revoke-others');
    expect(others.json()).toEqual({ revoked: 1 });
    expect((await me(third)).statusCode).toBe(401);
    expect((await me(chrome)).statusCode).toBe(200);
  });

  it('ends an idle session and one past its absolute lifetime', async () => {
    await signup('idle@example.com');
    const agent = await login('idle@example.com');
    clock.advance(2 * 3_600_000 + 1);
    expect((await me(agent)).statusCode).toBe(401);
  });

  it('changes the password with the current one, ends other sessions, and keeps this one on a new token', async () => {
    await signup('change@example.com');
    const other = await login('change@example.com');
    const agent = await login('change@example.com');
    const wrong = await write(agent, 'POST', '/api/v1/me/password', {
      currentPassword: 'nope-nope-nope',
      newPassword: 'fresh-meadow-signal-77',
    });
    expect(wrong.statusCode).toBe(403);
    const changed = await write(agent, 'POST', '/api/v1/me/password', {
      currentPassword: PASSWORD,
      newPassword: 'fresh-meadow-signal-77',
    });
    expect(changed.statusCode).toBe(200);
    const renewed = { cookie: cookieFrom(changed), csrf: changed.json().csrfToken };
    expect(renewed.cookie).not.toBe(agent.cookie);
    expect((await me(agent)).statusCode).toBe(401);
    expect((await me(other)).statusCode).toBe(401);
    expect((await me(renewed)).statusCode).toBe(200);
    await smtp.waitFor(
      (message) =>
        message.to.includes('change@example.com') &&
        /password/i.test(message.subject) &&
        /changed/i.test(message.subject),
    );
  });

  it('changes the e-mail address only after the new address confirms, and tells the old one', async () => {
    await signup('old@example.com');
    const agent = await login('old@example.com');
    const requested = await write(agent, 'POST', '/api/v1/me/email', {
      newEmail: 'new@example.com',
      password: PASSWORD,
    });
    expect(requested.statusCode).toBe(202);
    expect((await me(agent)).json().user.email).toBe('old@example.com');
    const mail = await smtp.waitFor((message) => message.to.includes('new@example.com'));
    const link = mail.links.find((url) => url.includes('/auth/confirm-email-change'))!;
    const confirmed = await inject({
      method: 'POST',
      url: '/api/v1/auth/email-change/confirm',
      payload: { token: tokenFrom(link) },
    });
    expect(confirmed.json().user).toMatchObject({ email: 'new@example.com', emailVerified: true });
    expect((await me(agent)).json().user.email).toBe('new@example.com');
    await smtp.waitFor(
      (message) => message.to.includes('old@example.com') && message.text.includes('new@example.com'),
    );
  });

  it('exports the account as JSON and deletes it with the password', async () => {
    await signup('leaving@example.com', PASSWORD, 'Leaving');
    const agent = await login('leaving@example.com');
    const exported = await inject({
      method: 'GET',
      url: '/api/v1/me/export',
      headers: browser(agent),
    });
    expect(exported.headers['content-disposition']).toContain('attachment');
    expect(exported.json()).toMatchObject({
      profile: { email: 'leaving@example.com', name: 'Leaving' },
      hasPassword: true,
    });
    expect(exported.body).not.toMatch(/argon2|token_hash/);
    expect((await write(agent, 'DELETE', '/api/v1/me', { password: 'wrong-wrong-wrong' })).statusCode).toBe(
      403,
    );
    expect((await write(agent, 'DELETE', '/api/v1/me', { password: PASSWORD })).statusCode).toBe(204);
    expect((await me(agent)).statusCode).toBe(401);
    const rows = await harness.app.gatehouse.database.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', 'leaving@example.com')
      .execute();
    expect(rows).toEqual([]);
  });

  it('lets administrators manage users and nobody else', async () => {
    const admin = await makeAdmin('admin@example.com');
    await signup('member@example.com');
    const member = await login('member@example.com');
    expect(
      (await inject({ method: 'GET', url: '/api/v1/admin/users', headers: { cookie: member.cookie } }))
        .statusCode,
    ).toBe(403);
    expect((await inject({ method: 'GET', url: '/api/v1/admin/users' })).statusCode).toBe(401);

    const created = await write(admin, 'POST', '/api/v1/admin/users', {
      email: 'made@example.com',
      password: PASSWORD,
      name: 'Made By Admin',
    });
    expect(created.statusCode).toBe(201);
    const madeId = created.json().user.id as string;

    const search = await inject({
      method: 'GET',
      url: '/api/v1/admin/users?query=made%20by',
      headers: { cookie: admin.cookie },
    });
    expect(search.json().users.map((user: { email: string }) => user.email)).toEqual(['made@example.com']);
    const literal = await inject({
      method: 'GET',
      url: '/api/v1/admin/users?query=%25',
      headers: { cookie: admin.cookie },
    });
    expect(literal.json().users).toEqual([]);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { json(): { users: { id: string }[]; nextCursor: string | null } } = await inject({
        method: 'GET',
        url: `/api/v1/admin/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        headers: { cookie: admin.cookie },
      });
      const body = page.json();
      expect(body.users.length).toBeLessThanOrEqual(2);
      seen.push(...body.users.map((user) => user.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toContain(madeId);

    const made = await login('made@example.com');
    expect((await write(admin, 'POST', `/api/v1/admin/users/${madeId}/disable`)).json().user.status).toBe(
      'disabled',
    );
    expect((await me(made)).statusCode).toBe(401);
    expect(
      (
        await inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { email: 'made@example.com', password: PASSWORD },
        })
      ).json().code,
    ).toBe('invalid_credentials');
    await write(admin, 'POST', `/api/v1/admin/users/${madeId}/enable`);
    await login('made@example.com');

    const forced = await write(admin, 'POST', `/api/v1/admin/users/${madeId}/force-password-reset`);
    expect(forced.json().user.passwordResetRequired).toBe(true);
    const afterForce = await inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'made@example.com', password: PASSWORD },
    });
    expect(afterForce.json().code).toBe('password_reset_required');

    expect((await write(admin, 'DELETE', `/api/v1/admin/users/${madeId}`)).statusCode).toBe(204);
    expect(
      (
        await inject({
          method: 'GET',
          url: `/api/v1/admin/users/${madeId}`,
          headers: { cookie: admin.cookie },
        })
      ).statusCode,
    ).toBe(404);
  });

  it('unlocks a locked account on an administrator’s word', async () => {
    const admin = await makeAdmin('admin2@example.com');
    const user = await signup('unlock@example.com');
    for (let attempt = 0; attempt < 5; attempt++) {
      await inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'unlock@example.com', password: 'bad-bad-bad-bad' },
      });
    }
    const shown = await inject({
      method: 'GET',
      url: `/api/v1/admin/users/${user.id}`,
      headers: { cookie: admin.cookie },
    });
    expect(shown.json().user.lockedUntil).not.toBeNull();
    await write(admin, 'POST', `/api/v1/admin/users/${user.id}/unlock`);
    await login('unlock@example.com');
  });

  it('opens e-mailed links as pages whose form, not the visit, spends the token', async () => {
    await signup('pages@example.com');
    await inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/request',
      payload: { email: 'pages@example.com' },
    });
    const mail = await smtp.waitFor(
      (message) =>
        message.to.includes('pages@example.com') &&
        message.links.some((url) => url.includes('/auth/reset-password')),
    );
    const link = new URL(mail.links.find((url) => url.includes('/auth/reset-password'))!);

    const visit = await inject({ method: 'GET', url: `${link.pathname}${link.search}` });
    expect(visit.statusCode).toBe(200);
    expect(visit.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(visit.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(visit.body).toContain('<form method="post" action="/auth/reset-password">');
    expect(visit.body).not.toContain('<script');
    const token = /name="token" value="([^"]+)"/.exec(visit.body)?.[1];
    expect(token).toBe(tokenFrom(link.toString()));
    // Visiting twice (a mail scanner, then the person) does not use the link up.
    expect((await inject({ method: 'GET', url: `${link.pathname}${link.search}` })).statusCode).toBe(200);

    const form = (password: string) =>
      inject({
        method: 'POST',
        url: '/auth/reset-password',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ token: token!, password }).toString(),
      });
    const rejected = await form('password');
    expect(rejected.statusCode).toBe(400);
    expect(rejected.body).toContain('commonly used');
    const done = await form('page-set-password-4417');
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('Password changed');
    expect((await form('page-set-password-4418')).statusCode).toBe(400);
    await login('pages@example.com', 'page-set-password-4417');
  });

  it('admits an invitee in invite-only mode, and nobody without an invitation', async () => {
    const invited = await buildTestApp(testDatabase().url, {
      clock,
      overrides: identityConfig({
        accounts: { signup: 'invite', throttle: { perIpFailures: 1000, perIpAccountFailures: 1000 } },
      }),
    });
    try {
      const refused = await invited.app.inject({
        method: 'POST',
        url: '/api/v1/auth/signup',
        payload: { email: 'gatecrasher@example.com', password: PASSWORD },
      });
      expect(refused.json().code).toBe('invitation_required');
      await makeAdmin('inviter@example.com');
      const adminLogin = await invited.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'inviter@example.com', password: PASSWORD },
      });
      const admin = { cookie: cookieFrom(adminLogin), csrf: adminLogin.json().csrfToken as string };
      const sent = await invited.app.inject({
        method: 'POST',
        url: '/api/v1/admin/invitations',
        payload: { email: 'guest@example.com' },
        headers: { cookie: admin.cookie, [CSRF]: admin.csrf },
      });
      expect(sent.statusCode, sent.body).toBe(201);
      const mail = await smtp.waitFor((message) => message.to.includes('guest@example.com'));
      const token = tokenFrom(mail.links.find((url) => url.includes('/auth/accept-invitation'))!);
      const wrongPerson = await invited.app.inject({
        method: 'POST',
        url: '/api/v1/auth/signup',
        payload: { email: 'someone-else@example.com', password: PASSWORD, invitation: token },
      });
      expect(wrongPerson.json().code).toBe('invitation_required');
      const joined = await invited.app.inject({
        method: 'POST',
        url: '/api/v1/auth/signup',
        payload: { email: 'guest@example.com', password: PASSWORD, invitation: token },
      });
      expect(joined.statusCode, joined.body).toBe(201);
      const again = await invited.app.inject({
        method: 'POST',
        url: '/api/v1/auth/signup',
        payload: { email: 'guest@example.com', password: PASSWORD, invitation: token },
      });
      expect(again.json().code).toBe('invitation_required');
    } finally {
      await invited.app.close();
    }
  });

  it('never writes a password to the log', async () => {
    expect(harness.logs.text).toContain('auth.login.succeeded');
    for (const secret of [
      PASSWORD,
      'new-orchard-compass-17',
      'fresh-meadow-signal-77',
      'guess-guess-guess',
    ]) {
      expect(harness.logs.text).not.toContain(secret);
    }
  });
});

describe('identity limits', () => {
  let smtp: TestSmtpServer;
  let database: TestDatabase;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    smtp = await startTestSmtpServer();
    database = await (await import('./helpers/dialects.js')).createTestDatabase('postgres');
  });
  afterEach(async () => {
    for (const harness of apps.splice(0)) await harness.app.close();
  });
  afterAll(async () => {
    await smtp.close();
    await database.drop();
  });

  // Nodes of one deployment share the master key, or one could not read another's session hashes.
  const sharedKey = 'ab'.repeat(32);
  const node = async (extra: Record<string, unknown>) => {
    const harness = await buildTestApp(database.url, {
      overrides: {
        secrets: { key: sharedKey },
        mail: {
          transport: 'smtp',
          smtp: { host: '127.0.0.1', port: smtp.port, secure: false, requireTls: false },
        },
        passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
        ...extra,
      },
    });
    apps.push(harness);
    return harness;
  };

  it('spends the same work (one password verification) on every kind of failed sign-in', async () => {
    const { app } = await node({
      passwords: { argon2: { memoryKiB: 8192, iterations: 2, parallelism: 1 } },
      accounts: {
        throttle: { perIpFailures: 1000, perIpAccountFailures: 1000 },
        lockout: { threshold: 1000 },
      },
    });
    for (const email of [
      'parity-wrong@example.com',
      'parity-disabled@example.com',
      'parity-locked@example.com',
    ]) {
      await app.inject({
        method: 'POST',
        url: '/api/v1/auth/signup',
        payload: { email, password: PASSWORD },
      });
    }
    const db = app.gatehouse.database.db;
    await db
      .updateTable('users')
      .set({ status: 'disabled' })
      .where('email', '=', 'parity-disabled@example.com')
      .execute();
    await db
      .updateTable('users')
      .set({ locked_until: Date.now() + 3_600_000 })
      .where('email', '=', 'parity-locked@example.com')
      .execute();

    const verifications = async () => {
      const text = await app.gatehouse.metrics.registry.getSingleMetricAsString(
        'gatehouse_password_hash_seconds',
      );
      return Number(/gatehouse_password_hash_seconds_count\{operation="verify"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const cases = {
      unknown: { email: 'parity-nobody@example.com', password: PASSWORD },
      wrong: { email: 'parity-wrong@example.com', password: 'wrong-wrong-wrong-1' },
      disabled: { email: 'parity-disabled@example.com', password: PASSWORD },
      locked: { email: 'parity-locked@example.com', password: PASSWORD },
    };
    // Exactly one password verification per attempt, whatever the reason for failing: the work (and so the
    // time, which belongs in bench/, not in a test) does not tell the cases apart.
    const bodies = new Set<string>();
    for (const payload of Object.values(cases)) {
      const before = await verifications();
      for (let round = 0; round < 3; round++) {
        const response = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload });
        expect(response.statusCode).toBe(401);
        const { requestId: _requestId, instance: _instance, ...body } = response.json();
        bodies.add(JSON.stringify(body));
      }
      expect(await verifications()).toBe(before + 3);
    }
    expect(bodies.size).toBe(1);
  });

  it('evicts the oldest session past the per-user limit', async () => {
    const { app } = await node({ sessions: { maxPerUser: 2 } });
    await app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: 'limit@example.com', password: PASSWORD },
    });
    const cookies: string[] = [];
    for (let index = 0; index < 3; index++) {
      const response = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'limit@example.com', password: PASSWORD },
      });
      cookies.push(cookieFrom(response));
    }
    const status = async (cookie: string) =>
      (await app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie } })).statusCode;
    expect([await status(cookies[0]!), await status(cookies[1]!), await status(cookies[2]!)]).toEqual([
      401, 200, 200,
    ]);
  });

  it('throttles an IP that keeps failing for one e-mail, with Retry-After', async () => {
    const { app } = await node({ accounts: { throttle: { perIpAccountFailures: 3, perIpFailures: 100 } } });
    const attempt = () =>
      app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'target@example.com', password: 'x-y-z-w-v' },
      });
    for (let index = 0; index < 3; index++) expect((await attempt()).statusCode).toBe(401);
    const throttled = await attempt();
    expect(throttled.statusCode).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('upgrades a hash made with older parameters at the next sign-in', async () => {
    const old = await node({ passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } } });
    await old.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: 'rehash@example.com', password: PASSWORD },
    });
    const current = await node({ passwords: { argon2: { memoryKiB: 2048, iterations: 2, parallelism: 1 } } });
    const response = await current.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'rehash@example.com', password: PASSWORD },
    });
    expect(response.statusCode).toBe(200);
    const stored = await current.app.gatehouse.database.db
      .selectFrom('password_credentials')
      .innerJoin('users', 'users.id', 'password_credentials.user_id')
      .select('hash')
      .where('users.email', '=', 'rehash@example.com')
      .executeTakeFirstOrThrow();
    expect(stored.hash).toContain('m=2048,t=2,p=1');
  });

  it('revokes a session on every node at once through Redis', async () => {
    const redis = { url: TEST_REDIS_URL, keyPrefix: `gatehouse-test-${Date.now()}:` };
    const nodeA = await node({ redis });
    const nodeB = await node({ redis });
    await nodeA.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: 'multi@example.com', password: PASSWORD },
    });
    const response = await nodeA.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'multi@example.com', password: PASSWORD },
    });
    const agent = { cookie: cookieFrom(response), csrf: response.json().csrfToken as string };
    const onB = () => nodeB.app.inject({ method: 'GET', url: '/api/v1/me', headers: browser(agent) });
    expect((await onB()).statusCode).toBe(200);
    const logout = await nodeA.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: { ...browser(agent), [CSRF]: agent.csrf },
    });
    expect(logout.statusCode).toBe(204);
    // Node B had the session cached; the invalidation message reaches it through Redis.
    await expect.poll(async () => (await onB()).statusCode, { timeout: 5000, interval: 10 }).toBe(401);
  });
});
