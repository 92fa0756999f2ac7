import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { listenTestApp, type TestApp } from '../helpers/app.js';
import { launchChromium } from '../helpers/browser.js';
import { describeEachDialect } from '../helpers/dialects.js';

const PASSWORD = 'violet-harbor-lantern-42';
const require = createRequire(import.meta.url);
// The package's own browser build (the UMD bundle beside its entry point).
const browserBundle = readFileSync(
  join(dirname(require.resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js'),
  'utf8',
);

// biome-ignore lint/suspicious/noExplicitAny: API answers are inspected loosely in this journey test.
type Json = Record<string, any>;

/** The global the UMD bundle defines in the page. */
interface WebAuthnBrowserGlobal {
  SimpleWebAuthnBrowser: {
    startRegistration(input: { optionsJSON: unknown }): Promise<unknown>;
    startAuthentication(input: { optionsJSON: unknown }): Promise<unknown>;
  };
}

/** A tiny cookie jar for one origin: what a browser would keep, for API calls made from the test. */
class Client {
  private readonly cookies = new Map<string, string>();
  csrf = '';

  constructor(private readonly base: string) {}

  async call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.csrf ? { 'x-csrf-token': this.csrf } : {}),
        cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '),
        origin: this.base,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, value] = [pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1)];
      if (value && !/expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.set(name, value);
      else this.cookies.delete(name);
    }
    const text = await response.text();
    const json = text ? (JSON.parse(text) as Json) : {};
    if (typeof json.csrfToken === 'string') this.csrf = json.csrfToken;
    return { status: response.status, json };
  }
}

describeEachDialect('passkeys in Chromium', (testDatabase, dialect) => {
  let harness: TestApp;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let cdp: CDPSession;
  let authenticatorId: string;

  beforeAll(async () => {
    const started = await listenTestApp(testDatabase().url);
    harness = started;
    base = started.baseUrl;
    browser = await launchChromium();
    context = await browser.newContext();
    page = await context.newPage();
    // Any page of Gatehouse's own origin: the ceremonies must run where the relying party lives.
    await page.goto(`${base}/auth/verify-email?token=${'x'.repeat(43)}`);
    // DevTools evaluation is not subject to the page's CSP, so the page keeps its strict policy.
    await page.evaluate(`${browserBundle};window.SimpleWebAuthnBrowser = SimpleWebAuthnBrowser;`);
    cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    }));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await harness?.app.close();
  });

  const register = (options: unknown) =>
    page.evaluate(
      (optionsJSON) =>
        (globalThis as unknown as WebAuthnBrowserGlobal).SimpleWebAuthnBrowser.startRegistration({
          optionsJSON,
        }),
      options,
    );
  const authenticate = (options: unknown) =>
    page.evaluate(
      (optionsJSON) =>
        (globalThis as unknown as WebAuthnBrowserGlobal).SimpleWebAuthnBrowser.startAuthentication({
          optionsJSON,
        }),
      options,
    );

  it('registers a passkey, then uses it as a second factor and to sign in without a password', {
    timeout: 60_000,
  }, async () => {
    const email = `passkey-${dialect}@example.com`;
    const alice = new Client(base);
    expect((await alice.call('POST', '/api/v1/auth/signup', { email, password: PASSWORD })).status).toBe(201);
    expect((await alice.call('POST', '/api/v1/auth/login', { email, password: PASSWORD })).json.status).toBe(
      'ok',
    );

    const started = await alice.call('POST', '/api/v1/me/mfa/methods', { type: 'webauthn', name: 'Laptop' });
    expect(started.status).toBe(201);
    const registration = await register(started.json.webauthn.options);
    const confirmed = await alice.call('POST', `/api/v1/me/mfa/methods/${started.json.method.id}/verify`, {
      response: registration,
    });
    expect(confirmed.status, JSON.stringify(confirmed.json)).toBe(200);
    expect(confirmed.json.method).toMatchObject({ type: 'webauthn', name: 'Laptop', status: 'active' });
    expect(confirmed.json.backupCodes).toHaveLength(10);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);

    // Password, then the passkey as second factor.
    const second = new Client(base);
    const pending = await second.call('POST', '/api/v1/auth/login', { email, password: PASSWORD });
    expect(pending.json).toMatchObject({
      status: 'mfa_required',
      methods: [{ type: 'webauthn', name: 'Laptop' }],
    });
    const challenge = await second.call('POST', '/api/v1/auth/mfa/challenge', { type: 'webauthn' });
    expect(challenge.status).toBe(200);
    const assertion = await authenticate(challenge.json.options);
    const done = await second.call('POST', '/api/v1/auth/mfa/verify', {
      type: 'webauthn',
      response: assertion,
    });
    expect(done.status, JSON.stringify(done.json)).toBe(200);
    expect(done.json.acr).toBe('3');
    expect(done.json.amr).toEqual(expect.arrayContaining(['pwd', 'mfa']));
    expect(done.json.amr.some((method: string) => method === 'hwk' || method === 'swk')).toBe(true);
    expect((await second.call('GET', '/api/v1/me')).json.session.acr).toBe('3');
    // The pending sign-in was spent with that answer.
    const again = await second.call('POST', '/api/v1/auth/mfa/verify', {
      type: 'webauthn',
      response: assertion,
    });
    expect(again.status).toBe(401);

    // No password at all: a discoverable credential with user verification.
    const third = new Client(base);
    const options = await third.call('POST', '/api/v1/auth/passkey/options');
    expect(options.json.options.userVerification).toBe('required');
    const passwordless = await authenticate(options.json.options);
    const signedIn = await third.call('POST', '/api/v1/auth/passkey/verify', {
      challengeId: options.json.challengeId,
      response: passwordless,
    });
    expect(signedIn.status, JSON.stringify(signedIn.json)).toBe(200);
    expect(signedIn.json).toMatchObject({ status: 'ok', acr: '3', user: { email } });
    expect(signedIn.json.amr).toContain('mfa');
    expect((await third.call('GET', '/api/v1/me')).json.user.email).toBe(email);
    const replay = await third.call('POST', '/api/v1/auth/passkey/verify', {
      challengeId: options.json.challengeId,
      response: passwordless,
    });
    expect(replay).toMatchObject({ status: 401, json: { code: 'passkey_invalid' } });

    mkdirSync('test-results/browser', { recursive: true });
    await page.screenshot({ path: `test-results/browser/passkeys-${dialect}.png` });
  });

  it('uses a passkey as the second factor on the OpenID sign-in page (the one part that needs JavaScript)', {
    timeout: 60_000,
  }, async () => {
    const email = `oidc-passkey-${dialect}@example.com`;
    const bob = new Client(base);
    expect((await bob.call('POST', '/api/v1/auth/signup', { email, password: PASSWORD })).status).toBe(201);
    await bob.call('POST', '/api/v1/auth/login', { email, password: PASSWORD });
    const started = await bob.call('POST', '/api/v1/me/mfa/methods', { type: 'webauthn', name: 'Phone' });
    const registration = await register(started.json.webauthn.options);
    const confirmed = await bob.call('POST', `/api/v1/me/mfa/methods/${started.json.method.id}/verify`, {
      response: registration,
    });
    expect(confirmed.status, JSON.stringify(confirmed.json)).toBe(200);

    // The app: a page on loopback that says it got its callback.
    const app = createServer((_request, response) => response.end('signed in to the app'));
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => app.close(() => resolve())));
    const redirectUri = `http://127.0.0.1:${(app.address() as AddressInfo).port}/callback`;
    const { client, secret } = await harness.app.services.clients.create(
      { name: 'Example app', grants: ['authorization_code'], redirectUris: [redirectUri], firstParty: true },
      {},
    );
    const verifier = randomBytes(32).toString('base64url');
    const authorize = new URL(`${base}/oauth2/authorize`);
    authorize.search = new URLSearchParams({
      client_id: client.id,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    // The page the virtual authenticator is attached to (DevTools enables WebAuthn per page).
    const fresh = page;
    /** Does `action` and follows the browser until it lands on the app's callback. */
    const arrivalAtApp = async (action: () => Promise<void>): Promise<URL> => {
      await action();
      await fresh.waitForURL((url) => url.toString().startsWith(redirectUri));
      return new URL(fresh.url());
    };
    const errors: string[] = [];
    fresh.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await fresh.goto(authorize.toString());
    await fresh.getByLabel('E-mail').fill(email);
    await fresh.getByLabel('Password').fill(PASSWORD);
    await fresh.getByRole('button', { name: 'Sign in' }).click();
    const passkeyButton = fresh.getByRole('button', { name: 'Use a passkey' });
    await passkeyButton.waitFor({ state: 'visible' });
    mkdirSync('test-results/browser', { recursive: true });
    await fresh.screenshot({ path: `test-results/browser/oidc-passkey-step-${dialect}.png` });
    const callback = await arrivalAtApp(() => passkeyButton.click());
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect(callback.searchParams.get('error')).toBeNull();
    // The strict CSP held: no script was refused on the way.
    expect(errors.filter((text) => /Content Security Policy/i.test(text))).toEqual([]);

    const claimsFor = async (code: string) => {
      const token = await fetch(`${base}/oauth2/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${client.id}:${secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: redirectUri,
          code_verifier: verifier,
        }).toString(),
      });
      expect(token.status).toBe(200);
      const idToken = ((await token.json()) as { id_token: string }).id_token;
      return JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as Json;
    };
    const claims = await claimsFor(callback.searchParams.get('code')!);
    // A passkey is phishing-resistant: level 3.
    expect(claims).toMatchObject({ acr: '3' });

    // A new browser session proven with a backup code (level 2); then an app asks for level 3: the step-up
    // page offers the passkey, and the session is lifted to level 3.
    await context.clearCookies();
    await fresh.goto(authorize.toString());
    await fresh.getByLabel('E-mail').fill(email);
    await fresh.getByLabel('Password').fill(PASSWORD);
    await fresh.getByRole('button', { name: 'Sign in' }).click();
    await fresh.getByLabel('A backup code').fill(confirmed.json.backupCodes[0]);
    const backupCallback = await arrivalAtApp(() => fresh.getByRole('button', { name: 'Verify' }).click());
    expect(await claimsFor(backupCallback.searchParams.get('code')!)).toMatchObject({ acr: '2' });

    const levelThree = new URL(authorize);
    levelThree.searchParams.set('acr_values', '3');
    await fresh.goto(levelThree.toString());
    const stepUp = fresh.getByRole('button', { name: 'Use a passkey' });
    await stepUp.waitFor({ state: 'visible' });
    expect(await fresh.getByText('asks for a stronger sign-in').count()).toBe(1);
    // Codes cannot reach level 3, so none are asked for.
    expect(await fresh.locator('input[name="code"]').count()).toBe(0);
    await fresh.screenshot({ path: `test-results/browser/oidc-passkey-step-up-${dialect}.png` });
    const steppedUp = await arrivalAtApp(() => stepUp.click());
    expect(await claimsFor(steppedUp.searchParams.get('code')!)).toMatchObject({ acr: '3' });
  });

  it('signs in on the /login page with the passkey button alone, and with a passkey as the second factor', {
    timeout: 60_000,
  }, async () => {
    const email = `login-passkey-${dialect}@example.com`;
    // The ceremonies below run in the browser on Gatehouse's origin (the last test left it at the app,
    // signed in: the sign-in page would send it on to the portal).
    await page.context().clearCookies();
    await page.goto(`${base}/login`);
    const carol = new Client(base);
    expect((await carol.call('POST', '/api/v1/auth/signup', { email, password: PASSWORD })).status).toBe(201);
    await carol.call('POST', '/api/v1/auth/login', { email, password: PASSWORD });
    const started = await carol.call('POST', '/api/v1/me/mfa/methods', { type: 'webauthn', name: 'Tablet' });
    const registration = await register(started.json.webauthn.options);
    const confirmed = await carol.call('POST', `/api/v1/me/mfa/methods/${started.json.method.id}/verify`, {
      response: registration,
    });
    expect(confirmed.status, JSON.stringify(confirmed.json)).toBe(200);
    const signedInAs = async () =>
      (await page.request.get(`${base}/api/v1/me`)).json() as Promise<{
        user?: { email: string };
        session?: { acr: string };
      }>;

    // The virtual authenticator holds credentials of earlier tests too: it offers the first it finds, so
    // carol's must be the only one for the passwordless button (the browser would ask a person to choose).
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    const carolHandle = Buffer.from(started.json.webauthn.options.user.id, 'base64url').toString('hex');
    const handleOf = (entry: { userHandle?: string }) =>
      Buffer.from(entry.userHandle ?? '', 'base64').toString('hex');
    expect(credentials.filter((entry) => handleOf(entry) === carolHandle)).toHaveLength(1);
    for (const credential of credentials.filter((entry) => handleOf(entry) !== carolHandle)) {
      await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: credential.credentialId });
    }

    await page.context().clearCookies();
    await page.goto(`${base}/login?next=/account`);
    const passwordless = page.getByRole('button', { name: 'Sign in with a passkey' });
    await passwordless.waitFor({ state: 'visible' });
    await page.screenshot({ path: `test-results/browser/login-${dialect}.png` });
    // docs/screenshots are refreshed on request only, so a test run leaves the tree as it was.
    if (dialect === 'sqlite' && process.env.UPDATE_SCREENSHOTS) {
      copyFileSync(`test-results/browser/login-${dialect}.png`, 'docs/screenshots/sign-in.png');
    }
    await passwordless.click();
    await page.waitForURL(`${base}/account`);
    expect(await signedInAs()).toMatchObject({ user: { email }, session: { acr: '3' } });

    await page.context().clearCookies();
    await page.goto(`${base}/login?next=/account`);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const secondFactor = page.getByRole('button', { name: 'Use a passkey' });
    await secondFactor.waitFor({ state: 'visible' });
    await page.screenshot({ path: `test-results/browser/login-second-factor-${dialect}.png` });
    await secondFactor.click();
    await page.waitForURL(`${base}/account`);
    expect(await signedInAs()).toMatchObject({ user: { email }, session: { acr: '3' } });
  });
});
