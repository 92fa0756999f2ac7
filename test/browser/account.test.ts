import { copyFileSync, mkdirSync } from 'node:fs';
import { Secret, TOTP } from 'otpauth';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listenTestApp, type TestApp } from '../helpers/app.js';
import { launchChromium } from '../helpers/browser.js';
import { FakeClock } from '../helpers/clock.js';
import { describeEachDialect } from '../helpers/dialects.js';
import { startTestSmtpServer, type TestSmtpServer } from '../helpers/mail.js';

const PASSWORD = 'copper-meadow-signal-93';

const totpAt = (secret: string, at: number) =>
  TOTP.generate({
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    timestamp: at,
  });

describeEachDialect('a person in the account portal, in Chromium', (testDatabase, dialect) => {
  let harness: TestApp & { baseUrl: string };
  let browser: Browser;
  let smtp: TestSmtpServer;
  const clock = new FakeClock(Date.now());
  const email = `portal-${dialect}@example.com`;

  beforeAll(async () => {
    mkdirSync('test-results/browser', { recursive: true });
    smtp = await startTestSmtpServer();
    harness = await listenTestApp(
      testDatabase().url,
      {
        mail: {
          transport: 'smtp',
          from: 'Gatehouse <id@example.test>',
          smtp: { host: '127.0.0.1', port: smtp.port, secure: false, requireTls: false },
        },
      },
      clock,
    );
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await harness?.app.close();
    await smtp?.close();
  });

  const signIn = async (page: Page) => {
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  };

  it('signs up, confirms the address from the e-mail, turns on an authenticator app, and signs in with it', {
    timeout: 90_000,
  }, async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());

    await page.goto(`${harness.baseUrl}/account`);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Name (optional)').fill('Rosa Parks');
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.screenshot({ path: `test-results/browser/account-sign-up-${dialect}.png` });
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Account created.').waitFor();

    // The link in the e-mail opens a page that confirms on a button press (mail scanners only fetch).
    const mail = await smtp.waitFor((message) => message.to.includes(email));
    const link = mail.links.find((url) => url.includes('/auth/verify-email'));
    expect(link).toBeDefined();
    await page.goto(link!);
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('E-mail confirmed').waitFor();

    await page.goto(`${harness.baseUrl}/account`);
    await signIn(page);
    await page.getByRole('heading', { name: 'Your account', exact: true }).waitFor();
    await page.locator('main > p.muted', { hasText: 'address confirmed' }).waitFor();

    await page.getByRole('button', { name: 'Add an authenticator app' }).click();
    await page.getByAltText('QR code to scan with your authenticator app').waitFor();
    const secret = (await page.locator('form.enrol code').textContent())!.trim();
    await page.screenshot({ path: `test-results/browser/account-totp-${dialect}.png`, fullPage: true });
    await page.getByLabel('The 6-digit code the app shows').fill(totpAt(secret, clock.now()));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByText('Your backup codes').waitFor();
    await page.getByRole('button', { name: 'I have stored them' }).click();
    await page.locator('#security li', { hasText: 'Authenticator app' }).waitFor();

    // After a reload, the activity list shows what just happened.
    await page.reload();
    await page.getByText('Two-step sign-in method added').waitFor();
    await page.screenshot({ path: `test-results/browser/account-portal-${dialect}.png`, fullPage: true });
    // docs/screenshots are refreshed on request only, so a test run leaves the tree as it was.
    if (dialect === 'sqlite' && process.env.UPDATE_SCREENSHOTS) {
      copyFileSync(
        `test-results/browser/account-portal-${dialect}.png`,
        'docs/screenshots/account-portal.png',
      );
    }

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to your account' }).waitFor();
    // Half a minute later: a fresh code (the one used to turn the app on cannot be replayed).
    clock.advance(30_000);
    await signIn(page);
    await page
      .getByLabel('Code from your authenticator app, or a backup code')
      .fill(totpAt(secret, clock.now()));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'Your account', exact: true }).waitFor();

    // Factors: renamed, and e-mailed codes added as a second one.
    await page.getByRole('button', { name: 'Rename Authenticator app' }).click();
    await page.getByLabel('New name for Authenticator app').fill('Work phone');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Renamed to Work phone.').waitFor();
    await page.locator('#security li', { hasText: 'Work phone' }).waitFor();
    await page.getByRole('button', { name: 'Get codes by e-mail' }).click();
    const codeMail = await smtp.waitFor(
      (message) => message.to.includes(email) && /is your sign-in code$/.test(message.subject),
    );
    await page.getByLabel('The 6-digit code we sent').fill(/^(\d{6})/.exec(codeMail.subject)![1]!);
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.locator('#security li', { hasText: 'e-mailed code' }).waitFor();
    await page.screenshot({ path: `test-results/browser/account-factors-${dialect}.png`, fullPage: true });

    // The rest of the portal: a new name, new backup codes, an e-mail change asked for, and deletion.
    await page.getByLabel('Name', { exact: true }).fill('Rosa L. Parks');
    await page.getByRole('button', { name: 'Save name' }).click();
    await page.getByText('Name saved.').waitFor();
    // Six minutes on, new backup codes need the password again: asked for in a dialog, then done.
    clock.advance(360_000);
    await page.getByRole('button', { name: 'Make new backup codes' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.waitFor();
    await dialog.getByLabel('Password').fill('not-my-password');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await dialog.getByRole('alert').waitFor();
    await page.screenshot({ path: `test-results/browser/account-reauthenticate-${dialect}.png` });
    await dialog.getByLabel('Password').fill(PASSWORD);
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('Your new backup codes').waitFor();
    expect(await dialog.isVisible()).toBe(false);
    await page.getByRole('button', { name: 'I have stored them' }).click();
    await page.getByLabel(/New e-mail address/).fill(`new-${email}`);
    await page.getByLabel('Your password').first().fill(PASSWORD);
    await page.getByRole('button', { name: 'Change e-mail' }).click();
    await page.getByText(`We sent a link to new-${email}`).waitFor();
    await smtp.waitFor((message) => message.to.includes(`new-${email}`));
    expect(await harness.app.services.accounts.idForEmail(email)).toBeDefined();

    await page.locator('#delete-password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Delete my account' }).click();
    await page.getByRole('heading', { name: 'Sign in to your account' }).waitFor();
    const after = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password: PASSWORD },
    });
    expect(after.statusCode).toBe(401);
    await context.close();
  });

  it('signs up, confirms and signs in and out with JavaScript off, on a phone-sized screen', {
    timeout: 60_000,
  }, async () => {
    const person = `no-js-${dialect}@example.com`;
    const context = await browser.newContext({
      javaScriptEnabled: false,
      viewport: { width: 390, height: 844 },
    });
    const page = await context.newPage();
    await page.goto(`${harness.baseUrl}/login?next=/logout`);
    await page.screenshot({ path: `test-results/browser/sign-in-page-${dialect}.png` });
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('E-mail').fill(person);
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    // Refused beside the field, with the e-mail kept.
    await page.locator('#password-error').waitFor();
    expect(await page.getByLabel('E-mail').inputValue()).toBe(person);
    await page.screenshot({ path: `test-results/browser/sign-up-error-${dialect}.png` });
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Check your e-mail').first().waitFor();

    const mail = await smtp.waitFor((message) => message.to.includes(person));
    await page.goto(mail.links.find((url) => url.includes('/auth/verify-email'))!);
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('E-mail confirmed').waitFor();

    await page.goto(`${harness.baseUrl}/login?next=/logout`);
    await page.getByLabel('E-mail').fill(person);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText('Sign out of this browser?').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out').waitFor();
    await context.close();
  });

  it('adds a passkey in the portal and signs in with it, no password', { timeout: 60_000 }, async () => {
    const person = `passkey-portal-${dialect}@example.com`;
    await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: person, password: PASSWORD },
    });
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${harness.baseUrl}/account`);
    // A platform authenticator that says yes, in DevTools (what a phone or laptop would be).
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await page.getByLabel('E-mail').fill(person);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('Your backup codes').waitFor();
    await page.getByRole('button', { name: 'I have stored them' }).click();
    await page.locator('#security li', { hasText: 'Passkey' }).waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByRole('heading', { name: 'Your account', exact: true }).waitFor();
    expect(await page.locator('header .who').textContent()).toContain(person);
    await context.close();
  });
});
