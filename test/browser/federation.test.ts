import { copyFileSync, mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeTestApp, listenTestApp, type TestApp } from '../helpers/app.js';
import { accessibilityViolations, launchChromium } from '../helpers/browser.js';
import { describeEachDialect } from '../helpers/dialects.js';

const PASSWORD = 'saffron-ledger-compass-71';

/**
 * Federation in the browser: an administrator manages upstream sign-in providers in the console (those from
 * the configuration file read-only), and a person sees, unlinks and can link upstream accounts in the portal.
 */
describeEachDialect(
  'sign-in providers in the console and linked accounts in the portal, in Chromium',
  (testDatabase, dialect) => {
    let harness: TestApp & { baseUrl: string };
    let browser: Browser;
    const admin = `providers-admin-${dialect}@example.com`;
    const person = `linked-${dialect}@example.com`;

    beforeAll(async () => {
      mkdirSync('test-results/browser', { recursive: true });
      harness = await listenTestApp(testDatabase().url, {
        federation: {
          providers: [
            { slug: 'corp', name: 'Corp SSO', issuer: 'https://corp.example.com', clientId: 'x' },
            { slug: 'google', name: 'Google', preset: 'google', clientId: 'y' },
          ],
        },
      });
      for (const email of [admin, person]) {
        const created = await harness.app.inject({
          method: 'POST',
          url: '/api/v1/auth/signup',
          payload: { email, password: PASSWORD },
        });
        if (email === admin) {
          await harness.app.services.authz.assign({ type: 'user', id: created.json().user.id }, 'admin', {});
        }
      }
      browser = await launchChromium();
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await closeTestApp(harness);
    });

    const signIn = async (page: Page, path: string, email: string) => {
      await page.goto(`${harness.baseUrl}${path}`);
      await page.getByLabel('E-mail').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    };

    it('adds an OpenID Connect provider, lists it with its callback URL, edits, disables and deletes it; configured ones are read-only', {
      timeout: 90_000,
    }, async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        // 401 before signing in, and the 400 of the incomplete provider below, are expected.
        if (message.type() === 'error' && !/status of (400|401)/.test(message.text()))
          problems.push(message.text());
      });
      page.on('pageerror', (error) => problems.push(error.message));
      page.on('dialog', (dialog) => void dialog.accept());
      await signIn(page, '/admin', admin);
      await page.getByRole('link', { name: 'Sign-in providers' }).click();
      await page.getByRole('heading', { name: 'Sign-in providers', exact: true }).waitFor();
      await page.getByRole('heading', { name: 'OpenID Connect and OAuth 2.0' }).waitFor();

      // From the configuration file: listed with its callback URL, and nothing to change it with.
      const corp = page.locator('table.providers tbody tr', { hasText: 'Corp SSO' });
      await corp.getByText('from the configuration file').waitFor();
      await corp.getByText('read-only', { exact: true }).waitFor();
      expect(await corp.locator('code.copy').textContent()).toBe(
        `${harness.baseUrl}/login/federated/corp/callback`,
      );
      expect(await corp.getByRole('button').count()).toBe(0);
      expect(await page.getByRole('button', { name: /Corp SSO|Google/ }).count()).toBe(0);

      // The fields follow the kind of provider.
      await page.getByRole('button', { name: 'Add a provider' }).click();
      await page.getByLabel('Kind of provider').selectOption('microsoft');
      await page.getByLabel(/^Tenant/).waitFor();
      expect(await page.getByLabel(/^Issuer URL/).count()).toBe(0);
      await page.getByLabel('Kind of provider').selectOption('generic-oauth2');
      await page.getByLabel('Token endpoint').waitFor();
      expect(await page.getByLabel(/^Tenant/).count()).toBe(0);
      await page.getByLabel('Kind of provider').selectOption('generic-oidc');
      await page.getByLabel(/^Issuer URL/).waitFor();
      expect(await page.getByLabel('Token endpoint').count()).toBe(0);
      expect(await accessibilityViolations(page), 'new provider form').toEqual([]);

      // The server's refusal shows beside the form, which stays filled in.
      await page.getByLabel(/^Slug/).fill('acme');
      await page.getByLabel(/^Name on the button/).fill('Acme ID');
      await page.getByLabel(/^Issuer URL/).fill('https://idp.example.com');
      await page.getByLabel(/^Client id/).fill('gatehouse');
      await page.getByLabel(/^Client secret/).fill('upstream-secret-value');
      await page.getByLabel(/^Scopes/).fill('email profile');
      await page.getByLabel(/^Groups claim/).fill('groups');
      await page.getByLabel(/^Group to role/).fill('engineering=admin\ncn=auditors,ou=groups=auditor');
      await page.getByLabel('Link to an existing account').check();
      await page.getByRole('button', { name: 'Add provider' }).click();
      await page
        .locator('form.provider-form')
        .getByRole('alert')
        .filter({ hasText: 'scopes must include openid' })
        .waitFor();
      await page.screenshot({
        path: `test-results/browser/console-provider-form-${dialect}.png`,
        fullPage: true,
      });
      await page.getByLabel(/^Scopes/).fill('openid email profile groups');
      await page.getByRole('button', { name: 'Add provider' }).click();
      await page.getByText('Acme ID added. Register its callback URL at the provider.').waitFor();
      const acme = page.locator('table.providers tbody tr', { hasText: 'Acme ID' });
      expect(await acme.locator('code.copy').textContent()).toBe(
        `${harness.baseUrl}/login/federated/acme/callback`,
      );
      await acme.getByText('enabled', { exact: true }).waitFor();
      const listed = async () => {
        const response = await context.request.get(`${harness.baseUrl}/api/v1/admin/identity-providers`);
        expect(await response.text()).not.toContain('upstream-secret-value');
        const { providers } = (await response.json()) as {
          providers: { slug: string; name: string; enabled: boolean; [key: string]: unknown }[];
        };
        return providers.find((provider) => provider.slug === 'acme');
      };
      expect(await listed()).toMatchObject({
        name: 'Acme ID',
        preset: 'generic',
        protocol: 'oidc',
        source: 'database',
        issuer: 'https://idp.example.com',
        clientId: 'gatehouse',
        hasClientSecret: true,
        scopes: ['openid', 'email', 'profile', 'groups'],
        mapping: { groups: 'groups', roles: { engineering: 'admin', 'cn=auditors,ou=groups': 'auditor' } },
        autoLink: true,
        allowSignup: true,
        keepTokens: false,
        enabled: true,
      });
      await page.screenshot({
        path: `test-results/browser/console-providers-${dialect}.png`,
        fullPage: true,
      });
      expect(await accessibilityViolations(page), 'providers list').toEqual([]);

      // Changed in place: the secret left empty stays as it was.
      await page.getByRole('button', { name: 'Edit Acme ID' }).click();
      await page.getByLabel('Client secret (empty: keep it)').waitFor();
      await page.screenshot({
        path: `test-results/browser/console-provider-edit-${dialect}.png`,
        fullPage: true,
      });
      expect(await accessibilityViolations(page), 'provider changed in place').toEqual([]);
      expect(await page.getByLabel(/^Group to role/).inputValue()).toBe(
        'engineering=admin\ncn=auditors,ou=groups=auditor',
      );
      await page.getByLabel(/^Name on the button/).fill('Acme Login');
      await page.getByRole('button', { name: 'Save', exact: true }).click();
      await page.getByText('Acme Login saved.').waitFor();
      expect(await listed()).toMatchObject({
        name: 'Acme Login',
        hasClientSecret: true,
        issuer: 'https://idp.example.com',
        mapping: { groups: 'groups', roles: { engineering: 'admin' } },
      });

      // Disabled: no longer offered on the sign-in page.
      await page.getByRole('button', { name: 'Disable Acme Login' }).click();
      await page.getByText('Acme Login disabled.').waitFor();
      await page
        .locator('table.providers tbody tr', { hasText: 'Acme Login' })
        .getByText('disabled', { exact: true })
        .waitFor();
      expect((await listed())?.enabled).toBe(false);
      const offered = await harness.app.inject({ method: 'GET', url: '/api/v1/auth/providers' });
      expect(offered.json().providers.map((provider: { slug: string }) => provider.slug)).toEqual([
        'corp',
        'google',
      ]);

      await page.getByRole('button', { name: 'Delete Acme Login' }).click();
      await page.getByText('Acme Login deleted.').waitFor();
      expect(await page.locator('table.providers tbody tr', { hasText: 'Acme Login' }).count()).toBe(0);
      expect(await listed()).toBeUndefined();
      expect(problems).toEqual([]);
      await context.close();
    });

    it('shows a person their linked account, refuses to unlink the last way in, unlinks it, and offers to link it again', {
      timeout: 90_000,
    }, async () => {
      const db = harness.app.gatehouse.database.db;
      const userId = await harness.app.services.accounts.idForEmail(person);
      const day = 86_400_000;
      await db
        .insertInto('federated_identities')
        .values({
          id: `identity-${dialect}`,
          user_id: userId,
          provider_id: 'config:corp',
          subject: 'corp-subject-1',
          email: 'rosa@corp.example.com',
          email_verified: 1,
          display_name: 'Rosa',
          tokens: null,
          granted_roles: '[]',
          created_at: Date.now() - 30 * day,
          last_used_at: Date.now() - 2 * day,
        })
        .execute();

      const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
      const page = await context.newPage();
      page.on('dialog', (dialog) => void dialog.accept());
      await signIn(page, '/account', person);
      await page.getByRole('heading', { name: 'Your account', exact: true }).waitFor();
      const section = page.locator('#linked-accounts');
      await section.getByRole('heading', { name: 'Linked accounts' }).waitFor();
      const linked = section.locator('li', { hasText: 'Corp SSO' });
      await linked.getByText('rosa@corp.example.com').waitFor();
      await linked.getByText(/^linked .+ · last used \d/).waitFor();
      // Linked already: only the other provider is offered.
      await section.getByRole('button', { name: 'Link Google', exact: true }).waitFor();
      expect(await section.getByRole('button', { name: 'Link Corp SSO', exact: true }).count()).toBe(0);
      await page.waitForLoadState('networkidle');
      expect(await accessibilityViolations(page), 'portal with a linked account').toEqual([]);
      // The section with a margin of the page around it (the box is relative to the scrolled viewport).
      await section.scrollIntoViewIfNeeded();
      const box = (await section.boundingBox())!;
      await page.screenshot({
        path: `test-results/browser/portal-linked-accounts-${dialect}.png`,
        clip: { x: box.x - 12, y: box.y - 12, width: box.width + 24, height: box.height + 24 },
      });

      // Without a password, the link is the only way in: refused, and the person is told why.
      const credential = await db
        .selectFrom('password_credentials')
        .selectAll()
        .where('user_id', '=', userId)
        .executeTakeFirstOrThrow();
      await db.deleteFrom('password_credentials').where('user_id', '=', userId).execute();
      await section.getByRole('button', { name: 'Unlink Corp SSO' }).click();
      await section
        .getByRole('alert')
        .filter({
          hasText: 'This is the only way left to sign in to the account; add a password or passkey first',
        })
        .waitFor();
      await page.screenshot({
        path: `test-results/browser/portal-unlink-refused-${dialect}.png`,
        fullPage: true,
      });
      expect(await linked.count()).toBe(1);

      // With the password back, unlinking works; the provider is then offered for linking.
      await db.insertInto('password_credentials').values(credential).execute();
      await section.getByRole('button', { name: 'Unlink Corp SSO' }).click();
      await section.getByText('Corp SSO unlinked.').waitFor();
      await section.getByText('None yet.').waitFor();
      expect(await linked.count()).toBe(0);
      await section.getByRole('button', { name: 'Link Corp SSO', exact: true }).waitFor();
      expect(
        await db.selectFrom('federated_identities').select('id').where('user_id', '=', userId).execute(),
      ).toEqual([]);

      // docs/screenshots are refreshed on request only, so a test run leaves the tree as it was.
      if (dialect === 'sqlite' && process.env.UPDATE_SCREENSHOTS) {
        mkdirSync('docs/screenshots', { recursive: true });
        copyFileSync(
          `test-results/browser/console-providers-${dialect}.png`,
          'docs/screenshots/console-providers.png',
        );
        copyFileSync(
          `test-results/browser/portal-linked-accounts-${dialect}.png`,
          'docs/screenshots/portal-linked-accounts.png',
        );
      }
      await context.close();
    });
  },
);
