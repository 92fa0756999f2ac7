import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listenTestApp, type TestApp } from '../helpers/app.js';
import { accessibilityViolations, launchChromium } from '../helpers/browser.js';
import { createTestDatabase, type TestDatabase } from '../helpers/dialects.js';

const PASSWORD = 'indigo-orchard-beacon-58';

let database: TestDatabase;
let harness: TestApp & { baseUrl: string };
let browser: Browser;
const admin = 'a11y-admin@example.com';

beforeAll(async () => {
  database = await createTestDatabase('sqlite');
  harness = await listenTestApp(database.url);
  const created = await harness.app.inject({
    method: 'POST',
    url: '/api/v1/auth/signup',
    payload: { email: admin, password: PASSWORD },
  });
  await harness.app.services.authz.assign({ type: 'user', id: created.json().user.id }, 'admin', {});
  await harness.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email: admin, password: 'not-the-password' },
    remoteAddress: '203.0.113.7',
  });
  await harness.app.services.auditWriter.flush();
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await harness?.app.close();
  await database?.drop();
});

it('the sign-in pages pass axe-core’s WCAG 2.1 AA checks, errors included', { timeout: 60_000 }, async () => {
  const page = await browser.newPage();
  for (const path of ['/login', '/signup', '/forgot-password', '/no/such/page']) {
    await page.goto(`${harness.baseUrl}${path}`);
    expect(await accessibilityViolations(page), path).toEqual([]);
  }
  await page.goto(`${harness.baseUrl}/signup`);
  await page.getByLabel('E-mail').fill('someone@example.com');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('#password-error').waitFor();
  expect(await accessibilityViolations(page), '/signup with an error').toEqual([]);
  await page.close();
});

it('the console and the portal pass axe-core’s WCAG 2.1 AA checks', { timeout: 60_000 }, async () => {
  const page = await browser.newPage();
  await page.goto(`${harness.baseUrl}/admin`);
  await page.getByLabel('E-mail').waitFor();
  expect(await accessibilityViolations(page), 'console sign-in').toEqual([]);
  await page.getByLabel('E-mail').fill(admin);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'Last 24 hours' }).waitFor();
  await page.locator('.chart svg').waitFor();
  expect(await accessibilityViolations(page), 'dashboard').toEqual([]);
  for (const [link, heading] of [
    ['Users', 'Users'],
    ['Clients', 'OAuth clients'],
    ['Roles', 'Roles and access'],
    ['Groups', 'Groups'],
    ['Policies', 'Policies'],
    ['Organizations', 'Organizations'],
    ['API keys', 'Service accounts and API keys'],
    ['Audit log', 'Audit log'],
    ['Blocks', 'Blocks and honeytokens'],
    ['System', 'System'],
    ['Settings', 'Settings'],
  ] as const) {
    await page.getByRole('link', { name: link, exact: true }).click();
    await page.getByRole('heading', { name: heading, exact: true }).waitFor();
    await page.waitForLoadState('networkidle');
    expect(await accessibilityViolations(page), link).toEqual([]);
  }
  // The forms that open in place: a new role, a new policy with its tester.
  await page.getByRole('link', { name: 'Roles', exact: true }).click();
  await page.getByRole('button', { name: 'New role' }).click();
  expect(await accessibilityViolations(page), 'new role').toEqual([]);
  await page.getByRole('link', { name: 'Policies', exact: true }).click();
  await page.getByRole('button', { name: 'New policy' }).click();
  await page.getByLabel('Cedar statement').waitFor();
  expect(await accessibilityViolations(page), 'new policy').toEqual([]);
  await page.goto(`${harness.baseUrl}/account`);
  await page.getByRole('heading', { name: 'Your account', exact: true }).waitFor();
  await page.waitForLoadState('networkidle');
  expect(await accessibilityViolations(page), 'portal').toEqual([]);
  await page.close();
});

it('the sign-in page is used with the keyboard alone, in reading order', { timeout: 60_000 }, async () => {
  const page = await browser.newPage();
  await page.goto(`${harness.baseUrl}/login`);
  /** The focused element's id, or its text (buttons and links without one). */
  const focused = () =>
    page.evaluate(`(() => {
      const element = document.activeElement;
      return (element && (element.id || element.textContent.trim())) || undefined;
    })()`) as Promise<string | undefined>;
  // The e-mail field has the focus on arrival; Tab walks the page top to bottom.
  expect(await focused()).toBe('email');
  const order: (string | undefined)[] = [];
  for (let step = 0; step < 5; step += 1) {
    await page.keyboard.press('Tab');
    order.push(await focused());
  }
  expect(order).toEqual(['password', 'Sign in', 'passkey', 'Forgot your password?', 'Create an account']);
  // Enter in a field sends the form; a wrong password comes back with the e-mail kept and the error announced.
  await page.locator('#email').fill(admin);
  await page.locator('#password').fill('not-the-password');
  await page.locator('#password').press('Enter');
  await page.getByRole('alert').filter({ hasText: 'Invalid e-mail or password' }).waitFor();
  expect(await page.locator('#email').inputValue()).toBe(admin);
  expect(await focused()).toBe('password');
  expect(await accessibilityViolations(page), '/login with an error').toEqual([]);
  await page.close();
});
