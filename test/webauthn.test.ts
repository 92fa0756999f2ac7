import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { FakeClock } from './helpers/clock.js';
import { describeEachDialect } from './helpers/dialects.js';
import { SoftAuthenticator } from './helpers/soft-authenticator.js';

const PASSWORD = 'violet-harbor-lantern-42';
const SESSION = '__Host-gh_session';
const PENDING = '__Host-gh_mfa';

function setCookie(response: LightMyRequestResponse, name: string): string | undefined {
  const header = response.headers['set-cookie'];
  const all = (Array.isArray(header) ? header : header ? [header] : []) as string[];
  return all
    .find((line) => line.startsWith(`${name}=`))
    ?.split(';')[0]
    ?.slice(name.length + 1);
}

describeEachDialect('WebAuthn checks', (testDatabase) => {
  let harness: TestApp;
  let clock: FakeClock;
  let origin: string;
  let counter = 0;

  beforeAll(async () => {
    clock = new FakeClock(Date.UTC(2026, 10, 23, 12));
    harness = await buildTestApp(testDatabase().url, {
      clock,
      overrides: {
        passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
        accounts: { notifyNewSignIn: false, throttle: { perIpFailures: 1000, perIpAccountFailures: 1000 } },
        sessions: { cacheTtlMs: 0 },
      },
    });
    await harness.app.ready();
    origin = new URL(harness.config.server.publicUrl).origin;
  });

  afterAll(async () => {
    await harness.app.close();
  });

  const inject = (options: InjectOptions) => harness.app.inject(options);

  /** A signed-in user with one active security key. */
  async function userWithKey(key = new SoftAuthenticator(origin)) {
    counter += 1;
    const email = `key-user-${counter}@example.com`;
    const signup = await inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email, password: PASSWORD },
    });
    const login = await inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password: PASSWORD },
    });
    const agent = { cookie: setCookie(login, SESSION)!, csrf: login.json().csrfToken as string };
    const started = await send(agent, '/api/v1/me/mfa/methods', { type: 'webauthn', name: 'Key' });
    expect(started.statusCode, started.body).toBe(201);
    const { options } = started.json().webauthn;
    expect(options).toMatchObject({ rp: { id: 'localhost' }, attestation: 'none' });
    const confirmed = await send(agent, `/api/v1/me/mfa/methods/${started.json().method.id}/verify`, {
      response: key.register(options),
    });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    return {
      email,
      key,
      agent,
      userId: signup.json().user.id as string,
      methodId: started.json().method.id as string,
    };
  }

  const send = (agent: { cookie: string; csrf: string }, url: string, payload?: object) =>
    inject({
      method: 'POST',
      url,
      payload,
      cookies: { [SESSION]: agent.cookie },
      headers: { 'x-csrf-token': agent.csrf },
    });

  async function pendingFor(email: string) {
    const login = await inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password: PASSWORD },
    });
    expect(login.json().status).toBe('mfa_required');
    const pending = setCookie(login, PENDING)!;
    const challenge = await inject({
      method: 'POST',
      url: '/api/v1/auth/mfa/challenge',
      payload: { type: 'webauthn' },
      cookies: { [PENDING]: pending },
    });
    expect(challenge.statusCode, challenge.body).toBe(200);
    return { pending, options: challenge.json().options };
  }

  const verify = (pending: string, response: unknown) =>
    inject({
      method: 'POST',
      url: '/api/v1/auth/mfa/verify',
      payload: { type: 'webauthn', response },
      cookies: { [PENDING]: pending },
    });

  const passkey = async (key: SoftAuthenticator, tamper?: (options: { challenge: string }) => void) => {
    const started = await inject({ method: 'POST', url: '/api/v1/auth/passkey/options' });
    const { challengeId, options } = started.json();
    expect(options.userVerification).toBe('required');
    tamper?.(options);
    const response = key.authenticate(options);
    return {
      response,
      challengeId,
      answer: await inject({
        method: 'POST',
        url: '/api/v1/auth/passkey/verify',
        payload: { challengeId, response },
      }),
    };
  };

  it('signs in with a security key as the second factor: hwk, acr 3', async () => {
    const { email, key } = await userWithKey();
    const { pending, options } = await pendingFor(email);
    expect(options.allowCredentials).toEqual([{ id: key.id, type: 'public-key', transports: ['usb'] }]);
    const done = await verify(pending, key.authenticate(options));
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json()).toMatchObject({ status: 'ok', amr: ['pwd', 'hwk', 'mfa'], acr: '3' });
    const stored = await harness.app.gatehouse.database.db
      .selectFrom('webauthn_credentials')
      .select(['sign_count', 'device_type'])
      .where('id', '=', key.id)
      .executeTakeFirstOrThrow();
    expect(Number(stored.sign_count)).toBe(1);
    expect(stored.device_type).toBe('singleDevice');
  });

  it('refuses a registration from another origin, and leaves the key pending', async () => {
    counter += 1;
    const email = `key-user-${counter}@example.com`;
    await inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { email, password: PASSWORD } });
    const login = await inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password: PASSWORD },
    });
    const agent = { cookie: setCookie(login, SESSION)!, csrf: login.json().csrfToken as string };
    const started = await send(agent, '/api/v1/me/mfa/methods', { type: 'webauthn' });
    const phished = new SoftAuthenticator('https://gatehouse.example.evil');
    const refused = await send(agent, `/api/v1/me/mfa/methods/${started.json().method.id}/verify`, {
      response: phished.register(started.json().webauthn.options),
    });
    expect(refused.statusCode).toBe(401);
    expect(refused.json().code).toBe('mfa_invalid_code');
    expect(harness.logs.text).toContain('WebAuthn answer rejected');
    // The challenge was spent by the failed attempt: a correct answer to it no longer works either.
    const late = await send(agent, `/api/v1/me/mfa/methods/${started.json().method.id}/verify`, {
      response: new SoftAuthenticator(origin).register(started.json().webauthn.options),
    });
    expect(late.statusCode).toBe(401);
    const status = await inject({
      method: 'GET',
      url: '/api/v1/me/mfa',
      cookies: { [SESSION]: agent.cookie },
    });
    expect(status.json()).toMatchObject({ enabled: false, methods: [{ status: 'pending' }] });
  });

  it('uses each challenge once and only before it expires', async () => {
    const { email, key } = await userWithKey();
    const first = await pendingFor(email);
    const answer = key.authenticate(first.options);
    expect((await verify(first.pending, answer)).statusCode).toBe(200);
    // The same signed answer, replayed into a new pending sign-in.
    const second = await pendingFor(email);
    expect((await verify(second.pending, answer)).statusCode).toBe(401);

    const third = await pendingFor(email);
    clock.advance(301_000);
    // The pending sign-in and the challenge have both run out.
    expect((await verify(third.pending, key.authenticate(third.options))).statusCode).toBe(401);
  });

  it('refuses a key whose sign counter went backwards (a cloned authenticator)', async () => {
    const { email, key } = await userWithKey();
    const first = await pendingFor(email);
    expect((await verify(first.pending, key.authenticate(first.options))).statusCode).toBe(200);
    const second = await pendingFor(email);
    expect((await verify(second.pending, key.authenticate(second.options))).statusCode).toBe(200);
    key.signCount = 0;
    const cloned = await pendingFor(email);
    const refused = await verify(cloned.pending, key.authenticate(cloned.options));
    expect(refused.statusCode).toBe(401);
    expect(refused.json().code).toBe('mfa_invalid_code');
  });

  it("does not accept one user's key for another user's sign-in", async () => {
    const alice = await userWithKey();
    const bob = await userWithKey();
    const { pending, options } = await pendingFor(bob.email);
    const refused = await verify(pending, alice.key.authenticate(options));
    expect(refused.statusCode).toBe(401);
  });

  it('signs in without a password with a passkey that verified its user, once per challenge', async () => {
    const { key, userId } = await userWithKey();
    const { answer, challengeId, response } = await passkey(key);
    expect(answer.statusCode, answer.body).toBe(200);
    expect(answer.json()).toMatchObject({
      status: 'ok',
      amr: ['hwk', 'mfa'],
      acr: '3',
      user: { id: userId },
    });
    const me = await inject({
      method: 'GET',
      url: '/api/v1/me',
      cookies: { [SESSION]: setCookie(answer, SESSION)! },
    });
    expect(me.json().user.id).toBe(userId);

    const replay = await inject({
      method: 'POST',
      url: '/api/v1/auth/passkey/verify',
      payload: { challengeId, response },
    });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().code).toBe('passkey_invalid');
  });

  it('refuses a passwordless sign-in without user verification, with a foreign challenge, or for a disabled account', async () => {
    const { key, userId } = await userWithKey();
    key.userVerified = false;
    expect((await passkey(key)).answer.json().code).toBe('passkey_invalid');
    key.userVerified = true;
    const swapped = await passkey(key, (options) => {
      options.challenge = Buffer.from('a challenge we never issued').toString('base64url');
    });
    expect(swapped.answer.json().code).toBe('passkey_invalid');
    expect((await passkey(key)).answer.statusCode).toBe(200);
    await harness.app.gatehouse.database.db
      .updateTable('users')
      .set({ status: 'disabled' })
      .where('id', '=', userId)
      .execute();
    expect((await passkey(key)).answer.json().code).toBe('passkey_invalid');
    expect(harness.logs.text).toContain('"securityEvent":"auth.passkey.failed"');
  });

  it('removes a key with its credential, so it no longer signs in', async () => {
    const { key, agent, methodId } = await userWithKey();
    const removed = await inject({
      method: 'DELETE',
      url: `/api/v1/me/mfa/methods/${methodId}`,
      cookies: { [SESSION]: agent.cookie },
      headers: { 'x-csrf-token': agent.csrf },
    });
    expect(removed.statusCode).toBe(204);
    expect((await passkey(key)).answer.json().code).toBe('passkey_invalid');
  });
});
