import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { describeEachDialect } from './helpers/dialects.js';

const PASSWORD = 'amber-lighthouse-quartz-71';
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const formHeaders = { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost:3000' };

describeEachDialect('sign-in pages without JavaScript', (testDatabase, dialect) => {
  let harness: TestApp;
  const email = `pages-${dialect}@example.com`;

  beforeAll(async () => {
    harness = await buildTestApp(testDatabase().url, {
      overrides: {
        server: { publicUrl: 'http://localhost:3000' },
        passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
        accounts: { notifyNewSignIn: false },
      },
    });
  });

  afterAll(async () => {
    await harness?.app.close();
  });

  const post = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    harness.app.inject({
      method: 'POST',
      url,
      payload: form(fields),
      headers: { ...formHeaders, ...headers },
    });

  it('signs up, keeps what was typed when the password is refused, and says so beside the field', async () => {
    const page = await harness.app.inject({ method: 'GET', url: '/signup' });
    expect(page.statusCode).toBe(200);
    expect(String(page.headers['content-security-policy'])).toMatch(/script-src 'self' 'nonce-/);
    expect(page.body).toContain('<form method="post" action="/signup"');
    expect(page.body).not.toContain('<script');

    const weak = await post('/signup', { name: 'Ada', email, password: 'password' });
    expect(weak.statusCode).toBe(400);
    expect(weak.body).toContain(`value="${email}"`);
    expect(weak.body).toContain('value="Ada"');
    expect(weak.body).toMatch(
      /<input id="password"[^>]*aria-invalid="true"[^>]*aria-describedby="password-hint password-error"/,
    );
    expect(weak.body).not.toContain('value="password"');

    const created = await post('/signup', { name: 'Ada', email, password: PASSWORD });
    expect(created.statusCode).toBe(200);
    expect(created.body).toContain('Check your e-mail');
  });

  it('signs in and redirects only to a path on this site; a wrong password keeps the e-mail', async () => {
    const wrong = await post('/login', { email, password: 'not-it-at-all', next: '/account' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('Invalid e-mail or password');
    expect(wrong.body).toContain(`value="${email}"`);

    const signedIn = await post('/login', { email, password: PASSWORD, next: '//evil.example/steal' });
    expect(signedIn.statusCode).toBe(303);
    expect(signedIn.headers.location).toBe('/account');
    const cookie = String(signedIn.headers['set-cookie']).split(';')[0]!;
    const me = await harness.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie } });
    expect(me.json().user.email).toBe(email);

    const elsewhere = await post('/login', { email, password: PASSWORD, next: '/logout' });
    expect(elsewhere.headers.location).toBe('/logout');

    // Signing out is a button press (a POST), not a link a page could trigger.
    const confirm = await harness.app.inject({ method: 'GET', url: '/logout', headers: { cookie } });
    expect(confirm.body).toContain('<form method="post" action="/logout">');
    const out = await post('/logout', {}, { cookie });
    expect(out.body).toContain('You are signed out');
    expect(
      (await harness.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie } })).statusCode,
    ).toBe(401);
  });

  it('refuses a form posted from another site', async () => {
    const forged = await post('/login', { email, password: PASSWORD }, { origin: 'https://evil.example' });
    expect(forged.statusCode).toBe(403);
    expect(forged.headers['set-cookie']).toBeUndefined();
  });

  it('asks for the second factor on its own page, and accepts a backup code', async () => {
    const login = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password: PASSWORD },
    });
    const headers = {
      cookie: String(login.headers['set-cookie']).split(';')[0]!,
      'x-csrf-token': login.json().csrfToken,
    };
    const started = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/me/mfa/methods',
      headers,
      payload: { type: 'totp' },
    });
    const { Secret, TOTP } = await import('otpauth');
    const secret = started.json().totp.secret as string;
    const confirmed = await harness.app.inject({
      method: 'POST',
      url: `/api/v1/me/mfa/methods/${started.json().method.id}/verify`,
      headers,
      payload: { code: TOTP.generate({ secret: Secret.fromBase32(secret) }) },
    });
    const [backupCode] = confirmed.json().backupCodes as string[];

    const first = await post('/login', { email, password: PASSWORD, next: '/logout' });
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('<form method="post" action="/login/mfa"');
    const pending = String(first.headers['set-cookie']).split(';')[0]!;
    const wrong = await post('/login/mfa', { code: '000000', next: '/logout' }, { cookie: pending });
    expect(wrong.statusCode).toBeGreaterThanOrEqual(400);
    expect(wrong.body).toMatch(/<input id="code"[^>]*aria-invalid="true"/);
    const done = await post('/login/mfa', { code: backupCode!, next: '/logout' }, { cookie: pending });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe('/logout');
  });

  it('answers a forgotten password the same way whether or not the account exists', async () => {
    const known = await post('/forgot-password', { email });
    const unknown = await post('/forgot-password', { email: `nobody-${dialect}@example.com` });
    expect(known.statusCode).toBe(200);
    expect(unknown.statusCode).toBe(200);
    const text = (body: string, address: string) => body.replace(address, 'X').replace(/nonce="[^"]+"/g, '');
    expect(text(known.body, email)).toBe(text(unknown.body, `nobody-${dialect}@example.com`));
  });

  it('shows people a page, with a reference to quote, when a form or an OAuth request cannot go on', async () => {
    const tooLong = await post('/login', { email: 'x'.repeat(5000), password: 'p' }, { accept: 'text/html' });
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.headers['content-type']).toContain('text/html');
    expect(tooLong.body).toContain('<h1>Something went wrong</h1>');
    expect(tooLong.body).toMatch(/Reference: [\w-]+/);
    expect(tooLong.body).not.toContain('x'.repeat(100));
    // The same mistake from an API client stays problem details.
    const api = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'x'.repeat(5000), password: 'p' },
      headers: { accept: 'text/html,application/json' },
    });
    expect(api.headers['content-type']).toContain('application/problem+json');

    const authorize = `/oauth2/authorize?${new URLSearchParams({
      client_id: 'no-such-client',
      response_type: 'code',
      redirect_uri: 'https://app.example/callback',
      scope: 'openid',
    })}`;
    const browser = await harness.app.inject({
      method: 'GET',
      url: authorize,
      headers: { accept: 'text/html' },
    });
    expect(browser.statusCode).toBe(400);
    expect(browser.headers['content-type']).toContain('text/html');
    expect(browser.body).toContain('This sign-in cannot continue');
    expect(browser.body).toContain('<code>invalid_client</code>');
    expect(String(browser.headers['content-security-policy'])).toMatch(/style-src 'self' 'nonce-[^']+'/);
    const tool = await harness.app.inject({
      method: 'GET',
      url: authorize,
      headers: { accept: 'application/json' },
    });
    expect(tool.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('shows people a page, and API clients problem details, for an address that does not exist', async () => {
    const person = await harness.app.inject({
      method: 'GET',
      url: '/no/such/page',
      headers: { accept: 'text/html' },
    });
    expect(person.statusCode).toBe(404);
    expect(person.headers['content-type']).toContain('text/html');
    expect(person.body).toContain('Page not found');
    const client = await harness.app.inject({
      method: 'GET',
      url: '/api/v1/nope',
      headers: { accept: 'text/html' },
    });
    expect(client.headers['content-type']).toContain('application/problem+json');
  });
});
