import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listenTestApp, type TestApp } from '../helpers/app.js';
import { launchChromium } from '../helpers/browser.js';
import { describeEachDialect } from '../helpers/dialects.js';

const PASSWORD = 'violet-harbor-lantern-42';

describeEachDialect('signing in to an app in Chromium', (testDatabase, dialect) => {
  let harness: TestApp;
  let issuer: string;
  let browser: Browser;
  let app: Server;
  let callbackBase: string;
  const callbacks: string[] = [];

  beforeAll(async () => {
    const started = await listenTestApp(testDatabase().url);
    harness = started;
    issuer = started.baseUrl;
    // The relying party's callback: records where the browser lands.
    app = createServer((request, response) => {
      callbacks.push(request.url ?? '');
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<!doctype html><title>App</title><h1>Signed in to the app</h1>');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    callbackBase = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => app?.close(resolve));
    await harness?.app.close();
  });

  it('fills the sign-in form, allows access, and lands on the app with a code', {
    timeout: 60_000,
  }, async () => {
    const email = `browser-${dialect}@example.com`;
    await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email, password: PASSWORD },
    });
    const admin = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: `admin-${email}`, password: PASSWORD },
    });
    await harness.app.services.authz.assign({ type: 'user', id: admin.json().user.id }, 'admin', {});
    const login = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: `admin-${email}`, password: PASSWORD },
    });
    const created = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/admin/clients',
      payload: {
        name: 'Example app',
        grants: ['authorization_code'],
        redirectUris: [`${callbackBase}/callback`],
      },
      headers: {
        cookie: String(login.headers['set-cookie']).split(';')[0]!,
        'x-csrf-token': login.json().csrfToken,
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const { client, secret } = created.json();
    const config = await oidc.discovery(new URL(issuer), client.id, secret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: `${callbackBase}/callback`,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });

    const page = await browser.newPage();
    mkdirSync('test-results/browser', { recursive: true });
    await page.goto(url.toString());
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.screenshot({ path: `test-results/browser/sign-in-${dialect}.png` });
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    expect(await page.textContent('h1')).toContain('Example app');
    await page.screenshot({ path: `test-results/browser/consent-${dialect}.png` });
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${callbackBase}/callback**`);
    expect(await page.textContent('h1')).toBe('Signed in to the app');

    const landed = new URL(callbacks.filter((path) => path.startsWith('/callback')).at(-1)!, callbackBase);
    const tokens = await oidc.authorizationCodeGrant(config, landed, { pkceCodeVerifier: verifier });
    expect(tokens.claims()).toMatchObject({ iss: issuer, aud: client.id, amr: ['pwd'], acr: '1' });
    await page.close();
  });
});
