import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { FakeClock } from './helpers/clock.js';
import { describeEachDialect } from './helpers/dialects.js';
import { startTestSmtpServer, type TestSmtpServer } from './helpers/mail.js';

const PASSWORD = 'violet-harbor-lantern-42';
const SESSION = '__Host-gh_session';
const PENDING = '__Host-gh_mfa';
const DEVICE = '__Host-gh_device';

interface Agent {
  cookie: string;
  csrf: string;
}

/** The value of one cookie from a response's Set-Cookie headers, or undefined. */
function setCookie(response: LightMyRequestResponse, name: string): string | undefined {
  const header = response.headers['set-cookie'];
  const all = (Array.isArray(header) ? header : header ? [header] : []) as string[];
  const found = all.find((line) => line.startsWith(`${name}=`));
  const value = found?.split(';')[0]?.slice(name.length + 1);
  return value ? value : undefined;
}

function totpCode(secret: string, at: number): string {
  return TOTP.generate({
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    timestamp: at,
  });
}

/** A stand-in for the Twilio Messages API on a real socket: records what Gatehouse sends. */
async function startSmsStub(): Promise<{ server: Server; url: string; messages: URLSearchParams[] }> {
  const messages: URLSearchParams[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      messages.push(new URLSearchParams(body));
      response.writeHead(201, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ sid: `SM${messages.length}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, messages };
}

async function until<T>(probe: () => T | undefined, what: string): Promise<T> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describeEachDialect('multi-factor authentication', (testDatabase) => {
  let smtp: TestSmtpServer;
  let sms: Awaited<ReturnType<typeof startSmsStub>>;
  let harness: TestApp;
  let clock: FakeClock;
  let counter = 0;

  beforeAll(async () => {
    smtp = await startTestSmtpServer();
    sms = await startSmsStub();
    clock = new FakeClock(Date.UTC(2026, 10, 23, 12));
    harness = await buildTestApp(testDatabase().url, {
      clock,
      overrides: {
        mail: {
          transport: 'smtp',
          from: 'Gatehouse <id@example.test>',
          smtp: { host: '127.0.0.1', port: smtp.port, secure: false, requireTls: false },
        },
        sms: {
          provider: 'twilio',
          twilio: { accountSid: 'AC1', authToken: 'token-1', from: '+15550001111', baseUrl: sms.url },
        },
        passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
        accounts: { notifyNewSignIn: false, throttle: { perIpFailures: 1000, perIpAccountFailures: 1000 } },
        sessions: { cacheTtlMs: 0 },
      },
    });
    await harness.app.ready();
  });

  afterAll(async () => {
    await harness.app.close();
    await smtp.close();
    await new Promise((resolve) => sms.server.close(resolve));
  });

  const inject = (options: InjectOptions) => harness.app.inject(options);
  const db = () => harness.app.gatehouse.database.db;

  async function newUser(verified = true): Promise<{ email: string; id: string }> {
    counter += 1;
    const email = `mfa-user-${counter}@example.com`;
    const response = await inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email, password: PASSWORD },
    });
    expect(response.statusCode, response.body).toBe(201);
    const id = response.json().user.id as string;
    if (verified)
      await db().updateTable('users').set({ email_verified_at: clock.now() }).where('id', '=', id).execute();
    return { email, id };
  }

  const login = (email: string, cookies: Record<string, string> = {}) =>
    inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: PASSWORD }, cookies });

  async function signIn(email: string): Promise<Agent> {
    const response = await login(email);
    expect(response.json().status, response.body).toBe('ok');
    return { cookie: setCookie(response, SESSION)!, csrf: response.json().csrfToken };
  }

  const get = (agent: Agent, url: string) =>
    inject({ method: 'GET', url, cookies: { [SESSION]: agent.cookie } });
  const send = (agent: Agent, method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    inject({
      method,
      url,
      payload,
      cookies: { [SESSION]: agent.cookie },
      headers: { 'x-csrf-token': agent.csrf },
    });

  /** Enrols and activates an authenticator app; the clock moves past the step used to confirm it. */
  async function enrolTotp(agent: Agent) {
    const started = await send(agent, 'POST', '/api/v1/me/mfa/methods', { type: 'totp' });
    expect(started.statusCode, started.body).toBe(201);
    const { method, totp } = started.json();
    const confirmed = await send(agent, 'POST', `/api/v1/me/mfa/methods/${method.id}/verify`, {
      code: totpCode(totp.secret, clock.now()),
    });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    clock.advance(30_000);
    return {
      methodId: method.id as string,
      secret: totp.secret as string,
      backupCodes: confirmed.json().backupCodes as string[] | undefined,
    };
  }

  /** Password first: returns the pending-sign-in cookie. */
  async function startLogin(email: string, cookies: Record<string, string> = {}): Promise<string> {
    const response = await login(email, cookies);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().status).toBe('mfa_required');
    expect(setCookie(response, SESSION)).toBeUndefined();
    return setCookie(response, PENDING)!;
  }

  const verify = (pending: string, payload: object) =>
    inject({ method: 'POST', url: '/api/v1/auth/mfa/verify', payload, cookies: { [PENDING]: pending } });
  const challenge = (pending: string, payload: object) =>
    inject({ method: 'POST', url: '/api/v1/auth/mfa/challenge', payload, cookies: { [PENDING]: pending } });

  it('enrols an authenticator app that works only after its first code, then requires it at sign-in', async () => {
    const { email, id } = await newUser();
    const agent = await signIn(email);
    const started = await send(agent, 'POST', '/api/v1/me/mfa/methods', { type: 'totp', name: 'Phone' });
    expect(started.statusCode, started.body).toBe(201);
    const { method, totp } = started.json();
    expect(method).toMatchObject({ type: 'totp', name: 'Phone', status: 'pending' });
    expect(totp.uri).toMatch(/^otpauth:\/\/totp\/Gatehouse:mfa-user-\d+%40example\.com\?/);
    expect(totp.uri).toContain(`secret=${totp.secret}`);
    expect(Buffer.from(totp.qrCode.replace('data:image/svg+xml;base64,', ''), 'base64').toString()).toContain(
      '<svg',
    );

    // Pending: the password alone still signs in.
    expect((await login(email)).json().status).toBe('ok');

    // The seed is stored sealed, bound to its row, never in the clear.
    const row = await db()
      .selectFrom('mfa_methods')
      .selectAll()
      .where('id', '=', method.id)
      .executeTakeFirstOrThrow();
    expect(row.secret_sealed).toMatch(/^v2\.k0\./);
    expect(row.secret_sealed).not.toContain(totp.secret);

    const wrong = await send(agent, 'POST', `/api/v1/me/mfa/methods/${method.id}/verify`, { code: '000000' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('mfa_invalid_code');
    const confirmed = await send(agent, 'POST', `/api/v1/me/mfa/methods/${method.id}/verify`, {
      code: totpCode(totp.secret, clock.now()),
    });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    expect(confirmed.json().method.status).toBe('active');
    expect(confirmed.json().backupCodes).toHaveLength(10);

    const status = await get(agent, '/api/v1/me/mfa');
    expect(status.json()).toMatchObject({
      enabled: true,
      required: false,
      primary: method.id,
      backupCodesRemaining: 10,
    });

    const pendingResponse = await login(email);
    expect(pendingResponse.json()).toMatchObject({
      status: 'mfa_required',
      methods: [{ id: method.id, type: 'totp', name: 'Phone', primary: true }],
      backupCodes: true,
    });
    const pending = setCookie(pendingResponse, PENDING)!;
    expect(String(pendingResponse.headers['set-cookie'])).toMatch(/__Host-gh_mfa=[^;]+;.*HttpOnly.*Secure/);

    // The code that confirmed the enrolment was spent: it cannot sign in (replay), even within the window.
    const replayed = await verify(pending, { type: 'totp', code: totpCode(totp.secret, clock.now()) });
    expect(replayed.statusCode).toBe(401);
    expect(replayed.json().code).toBe('mfa_invalid_code');
    expect(harness.logs.text).toContain('"securityEvent":"mfa.replayed"');

    clock.advance(30_000);
    const code = totpCode(totp.secret, clock.now());
    const done = await verify(pending, { type: 'totp', code });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json()).toMatchObject({ status: 'ok', amr: ['pwd', 'otp', 'mfa'], acr: '2' });
    const session = setCookie(done, SESSION)!;
    const me = await inject({ method: 'GET', url: '/api/v1/me', cookies: { [SESSION]: session } });
    expect(me.json().session).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: '2', restriction: null });
    expect(me.json().user.id).toBe(id);

    // The pending sign-in is spent, and the same code does not open a second one.
    expect((await verify(pending, { type: 'totp', code })).json().code).toBe('mfa_pending_invalid');
    const again = await startLogin(email);
    expect((await verify(again, { type: 'totp', code })).statusCode).toBe(401);
    // A code from the previous step is within the window but older than the last one used: refused too.
    expect(
      (await verify(again, { type: 'totp', code: totpCode(totp.secret, clock.now() - 30_000) })).statusCode,
    ).toBe(401);
  });

  it('lets a pending sign-in do nothing but finish, and forgets it after a few minutes', async () => {
    const { email } = await newUser();
    const { secret } = await enrolTotp(await signIn(email));
    const pending = await startLogin(email);
    const me = await inject({
      method: 'GET',
      url: '/api/v1/me',
      cookies: { [SESSION]: pending, [PENDING]: pending },
    });
    expect(me.statusCode).toBe(401);
    expect(me.json().code).toBe('session_required');
    clock.advance(301_000);
    const late = await verify(pending, { type: 'totp', code: totpCode(secret, clock.now()) });
    expect(late.statusCode).toBe(401);
    expect(late.json().code).toBe('mfa_pending_invalid');
    expect((await verify('x'.repeat(43), { type: 'totp', code: '123456' })).json().code).toBe(
      'mfa_pending_invalid',
    );
  });

  it('counts wrong second factors toward the lockout even when the password is right every time', async () => {
    const { email } = await newUser();
    await enrolTotp(await signIn(email));
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const pending = await startLogin(email);
      const wrong = await verify(pending, { type: 'totp', code: '000000' });
      expect(wrong.statusCode).toBe(401);
    }
    const locked = await login(email);
    expect(locked.statusCode).toBe(401);
    expect(locked.json().code).toBe('invalid_credentials');
    expect(harness.logs.text).toContain('"securityEvent":"auth.lockout"');
  });

  it('voids a pending sign-in after too many wrong answers', async () => {
    const { email, id } = await newUser();
    const { secret } = await enrolTotp(await signIn(email));
    // Keep the account lock out of the way: this is about the pending sign-in's own limit.
    await db().updateTable('users').set({ failed_login_count: -100 }).where('id', '=', id).execute();
    const pending = await startLogin(email);
    const codes: string[] = [];
    for (let attempt = 0; attempt < 5; attempt += 1)
      codes.push((await verify(pending, { type: 'totp', code: '000000' })).json().code);
    expect(codes).toEqual([
      'mfa_invalid_code',
      'mfa_invalid_code',
      'mfa_invalid_code',
      'mfa_invalid_code',
      'mfa_pending_invalid',
    ]);
    const right = await verify(pending, { type: 'totp', code: totpCode(secret, clock.now()) });
    expect(right.json().code).toBe('mfa_pending_invalid');
    expect(harness.logs.text).toContain('"securityEvent":"mfa.pending_voided"');
  });

  it('accepts each backup code once, and regenerating replaces the whole set', async () => {
    const { email } = await newUser();
    const agent = await signIn(email);
    const { backupCodes } = await enrolTotp(agent);
    const codes = backupCodes!;
    expect(new Set(codes).size).toBe(10);
    const stored = await db().selectFrom('backup_codes').select('code_hash').execute();
    for (const code of codes) expect(stored.map((row) => row.code_hash)).not.toContain(code);

    // Typed sloppily: lower case, no dash.
    const used = await verify(await startLogin(email), {
      type: 'backup_code',
      code: codes[0]!.toLowerCase().replace('-', ''),
    });
    expect(used.statusCode, used.body).toBe(200);
    expect(used.json()).toMatchObject({ status: 'ok', acr: '2' });
    expect((await verify(await startLogin(email), { type: 'backup_code', code: codes[0]! })).statusCode).toBe(
      401,
    );

    const fresh = await send(agent, 'POST', '/api/v1/me/mfa/backup-codes');
    expect(fresh.statusCode, fresh.body).toBe(200);
    const newCodes = fresh.json().codes as string[];
    expect(newCodes).toHaveLength(10);
    expect((await verify(await startLogin(email), { type: 'backup_code', code: codes[1]! })).statusCode).toBe(
      401,
    );
    expect(
      (await verify(await startLogin(email), { type: 'backup_code', code: newCodes[0]! })).statusCode,
    ).toBe(200);
    expect((await get(agent, '/api/v1/me/mfa')).json().backupCodesRemaining).toBe(9);
  });

  it('needs a recent sign-in to add or remove factors; re-authenticating with the password restores it', async () => {
    const { email } = await newUser();
    const agent = await signIn(email);
    clock.advance(6 * 60_000);
    const stale = await send(agent, 'POST', '/api/v1/me/mfa/methods', { type: 'totp' });
    expect(stale.statusCode).toBe(403);
    expect(stale.json().code).toBe('reauthentication_required');
    const wrong = await send(agent, 'POST', '/api/v1/auth/reauthenticate', { password: 'not-the-password' });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().code).toBe('current_password_invalid');
    const reauthenticated = await send(agent, 'POST', '/api/v1/auth/reauthenticate', { password: PASSWORD });
    expect(reauthenticated.statusCode, reauthenticated.body).toBe(200);
    expect(reauthenticated.json()).toMatchObject({
      amr: ['pwd'],
      acr: '1',
      authTime: new Date(clock.now()).toISOString(),
    });
    const { methodId } = await enrolTotp(agent);

    clock.advance(6 * 60_000);
    for (const [method, url] of [
      ['DELETE', `/api/v1/me/mfa/methods/${methodId}`],
      ['POST', '/api/v1/me/mfa/backup-codes'],
      ['POST', '/api/v1/me/mfa/disable'],
    ] as const) {
      const response = await send(agent, method, url);
      expect(response.json().code, url).toBe('reauthentication_required');
    }
    await send(agent, 'POST', '/api/v1/auth/reauthenticate', { password: PASSWORD });
    expect((await send(agent, 'DELETE', `/api/v1/me/mfa/methods/${methodId}`)).statusCode).toBe(204);
    // The last factor gone, backup codes go with it and the password alone signs in again.
    expect((await get(agent, '/api/v1/me/mfa')).json()).toMatchObject({
      enabled: false,
      backupCodesRemaining: 0,
    });
    expect((await login(email)).json().status).toBe('ok');
  });

  it('e-mails six-digit codes that work once, are limited in rate and expire', async () => {
    const { email } = await newUser();
    const agent = await signIn(email);
    const started = await send(agent, 'POST', '/api/v1/me/mfa/methods', { type: 'email' });
    expect(started.statusCode, started.body).toBe(201);
    expect(started.json().code.sentTo).toMatch(/\*/);
    const codeFrom = async (count: number) => {
      const mail = await until(
        () =>
          smtp.messages.filter(
            (message) => message.to.includes(email) && /sign-in code/.test(message.subject),
          )[count - 1],
        `e-mail code ${count}`,
      );
      return /^(\d{6}) is your sign-in code$/.exec(mail.subject)![1]!;
    };
    const methodId = started.json().method.id;
    const confirmed = await send(agent, 'POST', `/api/v1/me/mfa/methods/${methodId}/verify`, {
      code: await codeFrom(1),
    });
    expect(confirmed.statusCode, confirmed.body).toBe(200);

    clock.advance(31_000);
    const pending = await startLogin(email);
    const sent = await challenge(pending, { type: 'email' });
    expect(sent.statusCode, sent.body).toBe(200);
    expect(sent.json()).toMatchObject({ type: 'email', methodId });
    const tooSoon = await challenge(pending, { type: 'email' });
    expect(tooSoon.statusCode).toBe(429);
    expect(tooSoon.json().code).toBe('mfa_code_recently_sent');
    expect(Number(tooSoon.headers['retry-after'])).toBeGreaterThan(0);
    const code = await codeFrom(2);
    const done = await verify(pending, { type: 'email', code });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json().amr).toEqual(['pwd', 'email', 'mfa']);
    // Single use, and bound to the sign-in it was sent for.
    const other = await startLogin(email);
    expect((await verify(other, { type: 'email', code })).statusCode).toBe(401);

    // Codes sent for a step-up expire after ten minutes.
    const session = { cookie: setCookie(done, SESSION)!, csrf: done.json().csrfToken };
    clock.advance(31_000);
    expect(
      (await send(session, 'POST', '/api/v1/auth/step-up/challenge', { type: 'email' })).statusCode,
    ).toBe(200);
    const late = await codeFrom(3);
    clock.advance(601_000);
    const expired = await send(session, 'POST', '/api/v1/auth/step-up/verify', { type: 'email', code: late });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().code).toBe('mfa_invalid_code');
  });

  it('signs in on the /login page with an e-mailed code, without JavaScript', async () => {
    const { email } = await newUser();
    const agent = await signIn(email);
    const started = await send(agent, 'POST', '/api/v1/me/mfa/methods', { type: 'email' });
    const methodId = started.json().method.id as string;
    const codeFrom = async (count: number) => {
      const mail = await until(
        () =>
          smtp.messages.filter(
            (message) => message.to.includes(email) && /sign-in code/.test(message.subject),
          )[count - 1],
        `e-mail code ${count}`,
      );
      return /^(\d{6}) is your sign-in code$/.exec(mail.subject)![1]!;
    };
    await send(agent, 'POST', `/api/v1/me/mfa/methods/${methodId}/verify`, { code: await codeFrom(1) });
    clock.advance(31_000);
    const post = (url: string, fields: Record<string, string>, pending?: string) =>
      inject({
        method: 'POST',
        url,
        payload: new URLSearchParams(fields).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        cookies: pending ? { [PENDING]: pending } : {},
      });

    const password = await post('/login', { email, password: PASSWORD, next: '/account' });
    expect(password.statusCode, password.body).toBe(200);
    expect(password.body).toContain('<form method="post" action="/login/mfa/send">');
    expect(password.body).toContain('E-mail me a code');
    const pending = setCookie(password, PENDING)!;

    const sent = await post('/login/mfa/send', { methodId, next: '/account' }, pending);
    expect(sent.statusCode, sent.body).toBe(200);
    expect(sent.body).toMatch(/We sent a code to [^<]*\*/);
    expect(sent.body).toContain('<input type="hidden" name="type" value="email">');
    expect(sent.body).toContain('Code we sent by e-mail');
    const code = await codeFrom(2);

    const fields = { type: 'email', methodId, next: '/account' };
    const wrong = await post(
      '/login/mfa',
      { ...fields, code: code === '000000' ? '111111' : '000000' },
      pending,
    );
    expect(wrong.statusCode).toBe(401);
    // The form stays on the e-mailed code, says what is wrong beside the field, and sends no new code.
    expect(wrong.body).toMatch(/<input id="code"[^>]*aria-invalid="true"/);
    expect(wrong.body).toContain('<input type="hidden" name="type" value="email">');
    const done = await post('/login/mfa', { ...fields, code }, pending);
    expect(done.statusCode, done.body).toBe(303);
    expect(done.headers.location).toBe('/account');
    const me = await inject({
      method: 'GET',
      url: '/api/v1/me',
      cookies: { [SESSION]: setCookie(done, SESSION)! },
    });
    expect(me.statusCode).toBe(200);
    // The pending sign-in is spent: the same form again starts over at the password.
    const again = await post('/login/mfa', { ...fields, code }, pending);
    expect(again.statusCode).toBe(401);
    expect(again.body).toContain('action="/login"');
  });

  it('sends SMS codes through the Twilio-compatible provider', async () => {
    const { email } = await newUser();
    const agent = await signIn(email);
    const before = sms.messages.length;
    const started = await send(agent, 'POST', '/api/v1/me/mfa/methods', {
      type: 'sms',
      phone: '+15550002222',
    });
    expect(started.statusCode, started.body).toBe(201);
    expect(started.json().method.target).toBe('+15*******22');
    const first = await until(() => sms.messages[before], 'the first SMS');
    expect(first.get('To')).toBe('+15550002222');
    expect(first.get('From')).toBe('+15550001111');
    const enrolCode = /^(\d{6}) is your Gatehouse code/.exec(first.get('Body') ?? '')![1]!;
    const bad = await send(agent, 'POST', '/api/v1/me/mfa/methods', { type: 'sms', phone: '5550002222' });
    expect(bad.statusCode).toBe(400);
    const methodId = started.json().method.id;
    expect(
      (await send(agent, 'POST', `/api/v1/me/mfa/methods/${methodId}/verify`, { code: enrolCode }))
        .statusCode,
    ).toBe(200);

    clock.advance(31_000);
    const pending = await startLogin(email);
    expect((await challenge(pending, { methodId })).json()).toMatchObject({
      type: 'sms',
      sentTo: '+15*******22',
    });
    const second = await until(() => sms.messages[before + 1], 'the second SMS');
    const code = /^(\d{6})/.exec(second.get('Body') ?? '')![1]!;
    const done = await verify(pending, { methodId, code });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json().amr).toEqual(['pwd', 'sms', 'mfa']);
  });

  it('remembers a device when asked, lists it with the sessions, and forgets it on request', async () => {
    const { email } = await newUser();
    const { secret } = await enrolTotp(await signIn(email));
    const done = await verify(await startLogin(email), {
      type: 'totp',
      code: totpCode(secret, clock.now()),
      rememberDevice: true,
    });
    expect(done.statusCode, done.body).toBe(200);
    const device = setCookie(done, DEVICE)!;
    expect(device).toMatch(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
    expect(String(done.headers['set-cookie'])).toMatch(/__Host-gh_device=[^;]+;.*HttpOnly.*Secure/);

    const remembered = await login(email, { [DEVICE]: device });
    expect(remembered.json()).toMatchObject({ status: 'ok', amr: ['pwd'], acr: '1' });
    const agent = { cookie: setCookie(remembered, SESSION)!, csrf: remembered.json().csrfToken };
    const listed = await inject({
      method: 'GET',
      url: '/api/v1/me/sessions',
      cookies: { [SESSION]: agent.cookie, [DEVICE]: device },
    });
    expect(listed.json().rememberedDevices).toHaveLength(1);
    expect(listed.json().rememberedDevices[0].current).toBe(true);

    // Bound to its user: it does not excuse anyone else.
    const other = await newUser();
    const { secret: otherSecret } = await enrolTotp(await signIn(other.email));
    expect(otherSecret).not.toBe(secret);
    expect((await login(other.email, { [DEVICE]: device })).json().status).toBe('mfa_required');

    const deviceId = listed.json().rememberedDevices[0].id;
    expect((await send(agent, 'DELETE', `/api/v1/me/remembered-devices/${deviceId}`)).statusCode).toBe(204);
    expect((await login(email, { [DEVICE]: device })).json().status).toBe('mfa_required');
  });

  it('stops skipping the second factor when the remembered device expires', async () => {
    const { email } = await newUser();
    const { secret } = await enrolTotp(await signIn(email));
    const done = await verify(await startLogin(email), {
      type: 'totp',
      code: totpCode(secret, clock.now()),
      rememberDevice: true,
    });
    const device = setCookie(done, DEVICE)!;
    clock.advance(29 * 86_400_000);
    expect((await login(email, { [DEVICE]: device })).json().status).toBe('ok');
    clock.advance(2 * 86_400_000);
    expect((await login(email, { [DEVICE]: device })).json().status).toBe('mfa_required');
  });

  it('steps a password-only session up to two factors', async () => {
    const { email } = await newUser();
    const { secret } = await enrolTotp(await signIn(email));
    const remembered = await verify(await startLogin(email), {
      type: 'totp',
      code: totpCode(secret, clock.now()),
      rememberDevice: true,
    });
    clock.advance(30_000);
    const passwordOnly = await login(email, { [DEVICE]: setCookie(remembered, DEVICE)! });
    const agent = { cookie: setCookie(passwordOnly, SESSION)!, csrf: passwordOnly.json().csrfToken };
    expect((await get(agent, '/api/v1/me')).json().session.acr).toBe('1');
    expect(
      (await send(agent, 'POST', '/api/v1/auth/step-up/challenge', { type: 'totp' })).json(),
    ).toMatchObject({
      type: 'totp',
    });
    const wrong = await send(agent, 'POST', '/api/v1/auth/step-up/verify', { type: 'totp', code: '000000' });
    expect(wrong.json().code).toBe('mfa_invalid_code');
    const stepped = await send(agent, 'POST', '/api/v1/auth/step-up/verify', {
      type: 'totp',
      code: totpCode(secret, clock.now()),
    });
    expect(stepped.statusCode, stepped.body).toBe(200);
    expect(stepped.json()).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: '2' });
    expect((await get(agent, '/api/v1/me')).json().session).toMatchObject({
      amr: ['pwd', 'otp', 'mfa'],
      acr: '2',
    });
    expect(harness.logs.text).toContain('"securityEvent":"auth.step_up"');
  });

  it('sends a user an administrator requires MFA of to enrolment, which is all the session can do until then', async () => {
    const admin = await newUser();
    await harness.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
    const adminAgent = await signIn(admin.email);
    const { email, id } = await newUser();
    const flagged = await send(adminAgent, 'PATCH', `/api/v1/admin/users/${id}`, { mfaRequired: true });
    expect(flagged.statusCode, flagged.body).toBe(200);
    expect(flagged.json().user.mfaRequired).toBe(true);

    const response = await login(email);
    expect(response.json()).toMatchObject({ status: 'mfa_enrollment_required', amr: ['pwd'] });
    const agent = { cookie: setCookie(response, SESSION)!, csrf: response.json().csrfToken };
    const blocked = await get(agent, '/api/v1/me/sessions');
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json().code).toBe('mfa_enrollment_required');
    expect((await get(agent, '/api/v1/me')).json().session.restriction).toBe('mfa_enrollment');
    expect((await get(agent, '/api/v1/me/mfa')).json()).toMatchObject({ enabled: false, required: true });

    const { methodId, secret } = await enrolTotp(agent);
    expect((await get(agent, '/api/v1/me/sessions')).statusCode).toBe(200);
    expect((await get(agent, '/api/v1/me')).json().session).toMatchObject({ restriction: null, acr: '2' });
    const remove = await send(agent, 'DELETE', `/api/v1/me/mfa/methods/${methodId}`);
    expect(remove.statusCode).toBe(409);
    expect(remove.json().code).toBe('mfa_required_by_policy');
    expect((await send(agent, 'POST', '/api/v1/me/mfa/disable')).json().code).toBe('mfa_required_by_policy');

    // The administrator resets the user's factors (a lost phone): audited, and enrolment comes back.
    const reset = await send(adminAgent, 'POST', `/api/v1/admin/users/${id}/mfa/reset`);
    expect(reset.statusCode, reset.body).toBe(200);
    expect(reset.json().removed).toBe(1);
    expect(harness.logs.text).toContain('"securityEvent":"mfa.reset"');
    expect((await login(email)).json().status).toBe('mfa_enrollment_required');
    const forbidden = await send(agent, 'POST', `/api/v1/admin/users/${id}/mfa/reset`);
    expect(forbidden.statusCode).toBe(403);
    expect(secret).toBeTruthy();
  });

  it('keeps a primary factor, renames factors, and disabling removes everything', async () => {
    const { email } = await newUser();
    const agent = await signIn(email);
    const totp = await enrolTotp(agent);
    const started = await send(agent, 'POST', '/api/v1/me/mfa/methods', { type: 'email' });
    const mail = await until(
      () =>
        smtp.messages.find((message) => message.to.includes(email) && /sign-in code/.test(message.subject)),
      'the e-mail code',
    );
    const code = /^(\d{6})/.exec(mail.subject)![1]!;
    const emailMethod = started.json().method.id;
    const confirmed = await send(agent, 'POST', `/api/v1/me/mfa/methods/${emailMethod}/verify`, { code });
    expect(confirmed.json().backupCodes).toBeUndefined();
    expect((await get(agent, '/api/v1/me/mfa')).json().primary).toBe(totp.methodId);
    const primary = await send(agent, 'PUT', '/api/v1/me/mfa/primary', { methodId: emailMethod });
    expect(primary.json().primary).toBe(emailMethod);
    const renamed = await send(agent, 'PATCH', `/api/v1/me/mfa/methods/${totp.methodId}`, {
      name: 'Old phone',
    });
    expect(renamed.json().method.name).toBe('Old phone');
    const pending = await login(email);
    expect(
      pending
        .json()
        .methods.map((method: { type: string; primary: boolean }) => [method.type, method.primary]),
    ).toEqual([
      ['totp', false],
      ['email', true],
    ]);

    const exported = await get(agent, '/api/v1/me/export');
    expect(exported.statusCode, exported.body).toBe(200);
    expect(exported.json().mfaMethods.map((method: { type: string }) => method.type)).toEqual([
      'totp',
      'email',
    ]);
    expect(exported.body).not.toContain(totp.secret);

    expect((await send(agent, 'POST', '/api/v1/me/mfa/disable')).statusCode).toBe(204);
    expect((await get(agent, '/api/v1/me/mfa')).json()).toMatchObject({
      enabled: false,
      methods: [],
      backupCodesRemaining: 0,
    });
    expect((await login(email)).json().status).toBe('ok');
    expect(harness.logs.text).toContain('"securityEvent":"mfa.disabled"');
  });

  it('refuses e-mail codes for an unverified address and unknown factors', async () => {
    const { email } = await newUser(false);
    const agent = await signIn(email);
    const unverified = await send(agent, 'POST', '/api/v1/me/mfa/methods', { type: 'email' });
    expect(unverified.statusCode).toBe(409);
    expect(unverified.json().code).toBe('email_not_verified');
    expect((await send(agent, 'DELETE', '/api/v1/me/mfa/methods/nope')).json().code).toBe(
      'mfa_method_not_found',
    );
    expect((await send(agent, 'POST', '/api/v1/me/mfa/backup-codes')).json().code).toBe('mfa_not_enabled');
    const webauthnless = await send(agent, 'POST', '/api/v1/auth/step-up/challenge', { type: 'webauthn' });
    expect(webauthnless.json().code).toBe('mfa_method_not_found');
  });

  it('lets only one of two simultaneous sign-ins spend the same code', async () => {
    const { email } = await newUser();
    const { secret, backupCodes } = await enrolTotp(await signIn(email));
    const code = totpCode(secret, clock.now());
    const totp = await Promise.all([
      verify(await startLogin(email), { type: 'totp', code }),
      verify(await startLogin(email), { type: 'totp', code }),
    ]);
    expect(totp.map((response) => response.statusCode).sort()).toEqual([200, 401]);
    const backup = await Promise.all([
      verify(await startLogin(email), { type: 'backup_code', code: backupCodes![0]! }),
      verify(await startLogin(email), { type: 'backup_code', code: backupCodes![0]! }),
    ]);
    expect(backup.map((response) => response.statusCode).sort()).toEqual([200, 401]);
  });

  it('enforces MFA for administrators only when configured so', async () => {
    const admin = await newUser();
    await harness.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
    const member = await newUser();
    // A second node on the same database, with the stricter setting.
    const strict = await buildTestApp(testDatabase().url, {
      clock,
      overrides: {
        passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
        accounts: { notifyNewSignIn: false },
        mfa: { enforce: 'admins' },
      },
    });
    try {
      const signInThere = (email: string) =>
        strict.app.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { email, password: PASSWORD },
        });
      expect((await signInThere(admin.email)).json().status).toBe('mfa_enrollment_required');
      expect((await signInThere(member.email)).json().status).toBe('ok');
    } finally {
      await strict.app.close();
    }
  });

  it('deletes expired pending sign-ins and codes in housekeeping, and keeps live ones', async () => {
    const { email } = await newUser();
    await enrolTotp(await signIn(email));
    await startLogin(email);
    const challenges = () => db().selectFrom('mfa_challenges').select(['id', 'expires_at']).execute();
    const before = await challenges();
    expect(before.some((row) => row.expires_at > clock.now())).toBe(true);
    expect((await harness.app.services.housekeeping.runOnce()).mfa_challenges).toBe(
      before.filter((row) => row.expires_at <= clock.now()).length,
    );
    const live = (await challenges()).length;
    expect(live).toBeGreaterThan(0);
    clock.advance(86_400_000 + 1);
    const counts = await harness.app.services.housekeeping.runOnce();
    expect(counts.mfa_challenges).toBe(live);
    expect(await challenges()).toEqual([]);
    expect(counts.sessions).toBeGreaterThan(0);
  });
});
