import { copyFileSync, mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeTestApp, listenTestApp, type TestApp } from '../helpers/app.js';
import { accessibilityViolations, launchChromium } from '../helpers/browser.js';
import { describeEachDialect } from '../helpers/dialects.js';

const PASSWORD = 'juniper-halyard-quartz-36';

interface Listed {
  id: string;
  name: string;
  enabled: boolean;
  [key: string]: unknown;
}

/**
 * SAML in the console: an administrator connects a company's identity provider from its metadata (here,
 * Gatehouse's own IdP metadata, so the document is real), sees the values to give it, changes, disables and
 * deletes the connection; and registers, changes and deletes an app that signs in with Gatehouse over SAML.
 */
describeEachDialect('SAML connections and apps in the console, in Chromium', (testDatabase, dialect) => {
  let harness: TestApp & { baseUrl: string };
  let browser: Browser;
  let organizationId: string;
  const admin = `saml-admin-${dialect}@example.com`;

  beforeAll(async () => {
    mkdirSync('test-results/browser', { recursive: true });
    harness = await listenTestApp(testDatabase().url);
    const created = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: admin, password: PASSWORD },
    });
    await harness.app.services.authz.assign({ type: 'user', id: created.json().user.id }, 'admin', {});
    organizationId = (
      await harness.app.services.organizations.create({ name: 'Acme Corp', slug: 'acme-corp' }, {})
    ).id;
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await closeTestApp(harness);
  });

  /** Signed in as the administrator, on the Sign-in providers view; console errors and failures collected. */
  async function providersPage(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      // 401 before signing in, and the refusals this test asks for (400, 409), are expected.
      if (message.type() === 'error' && !/status of (400|401|409)/.test(message.text()))
        problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${harness.baseUrl}/admin`);
    await page.getByLabel('E-mail').fill(admin);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('link', { name: 'Sign-in providers' }).click();
    await page.getByRole('heading', { name: 'SAML connections' }).waitFor();
    await page.getByRole('heading', { name: 'SAML apps (Gatehouse as identity provider)' }).waitFor();
    await page.waitForLoadState('networkidle');
    return { context, page, problems };
  }

  it('connects an identity provider from pasted metadata, shows what to give it, edits its domains, disables and deletes it; bad metadata is refused beside the form', {
    timeout: 90_000,
  }, async () => {
    // Real IdP metadata, from this same Gatehouse (its signing key is made on this first request).
    const metadata = await (await fetch(`${harness.baseUrl}/saml/idp/metadata`)).text();
    expect(metadata).toContain('EntityDescriptor');
    const { context, page, problems } = await providersPage();
    const section = page.locator('section[aria-labelledby="saml-connections-title"]');
    await section.getByText('No SAML connections yet.').waitFor();

    await page.getByRole('button', { name: 'Add a SAML connection' }).click();
    const form = page.getByRole('form', { name: 'New SAML connection' });
    // The metadata comes by URL unless the XML is chosen; only the chosen field is shown.
    await form.getByLabel(/^IdP metadata URL/).waitFor();
    expect(await form.getByLabel(/^IdP metadata XML/).count()).toBe(0);
    await form.getByLabel('By pasting the XML document').check();
    await form.getByLabel(/^IdP metadata XML/).waitFor();
    expect(await form.getByLabel(/^IdP metadata URL/).count()).toBe(0);
    expect(await accessibilityViolations(page), 'new SAML connection form').toEqual([]);

    // Metadata that is not a metadata document: the server's refusal shows under the form, which stays filled in.
    await form.getByLabel(/^Connection slug/).fill('acme');
    await form.getByLabel('Connection name').fill('Acme SSO');
    await form.getByLabel(/^Organization/).fill('acme-corp');
    await form.getByLabel(/^IdP metadata XML/).fill('<not-xml');
    await form.getByLabel(/^E-mail domains/).fill('Acme.example, @corp.acme.example');
    await form.getByLabel(/^E-mail attribute/).fill('mail');
    await form.getByLabel(/^Groups attribute/).fill('memberOf');
    await form.getByLabel(/^Roles from the groups/).fill('IT=admin\ncn=auditors,ou=groups=auditor');
    await form.getByLabel('Auto-link: an address').check();
    await form.getByRole('button', { name: 'Add connection' }).click();
    await form.getByRole('alert').filter({ hasText: 'This is too short to be SAML metadata' }).waitFor();
    await form.getByLabel(/^IdP metadata XML/).fill(`<not-xml ${'x'.repeat(60)}`);
    await form.getByRole('button', { name: 'Add connection' }).click();
    await form.getByRole('alert').filter({ hasText: 'The metadata is not well-formed XML' }).waitFor();
    expect(await accessibilityViolations(page), 'SAML connection form with an error').toEqual([]);
    await page.screenshot({
      path: `test-results/browser/console-saml-refused-${dialect}.png`,
      fullPage: true,
    });
    expect(await form.getByLabel('Connection name').inputValue()).toBe('Acme SSO');

    await form.getByLabel(/^IdP metadata XML/).fill(metadata);
    await form.getByRole('button', { name: 'Add connection' }).click();
    await section
      .getByText('Acme SSO added. Give its identity provider the entity ID and ACS URL listed.')
      .waitFor();
    const row = section.locator('table.saml-connections tbody tr', { hasText: 'Acme SSO' });
    const value = (term: string) =>
      row.locator('dt', { hasText: term }).locator('xpath=following-sibling::dd[1]');
    expect(await value('Entity ID and metadata URL').textContent()).toBe(
      `${harness.baseUrl}/saml/acme/metadata`,
    );
    expect(await value('ACS URL').textContent()).toBe(`${harness.baseUrl}/saml/acme/acs`);
    expect(await value('Sign-in URL').textContent()).toBe(`${harness.baseUrl}/login/saml/acme`);
    await row.getByText(/organization Acme Corp acme-corp/).waitFor();
    await row.getByText(`${harness.baseUrl}/saml/idp/metadata`).waitFor();
    await row.getByText('domains: acme.example, corp.acme.example').waitFor();
    await row.getByText('enabled', { exact: true }).waitFor();
    // What the identity provider is told to fetch is our metadata, naming that ACS URL.
    expect(await (await fetch(`${harness.baseUrl}/saml/acme/metadata`)).text()).toContain(
      `${harness.baseUrl}/saml/acme/acs`,
    );

    const listed = async () => {
      const response = await context.request.get(`${harness.baseUrl}/api/v1/admin/saml/connections`);
      const { connections } = (await response.json()) as { connections: (Listed & { slug: string })[] };
      return connections.find((connection) => connection.slug === 'acme');
    };
    const idp = {
      entityId: `${harness.baseUrl}/saml/idp/metadata`,
      ssoUrl: `${harness.baseUrl}/saml/idp/sso`,
    };
    expect(await listed()).toMatchObject({
      name: 'Acme SSO',
      organizationId,
      idp,
      allowIdpInitiated: false,
      domains: ['acme.example', 'corp.acme.example'],
      autoLink: true,
      allowSignup: true,
      enabled: true,
      mapping: {
        email: 'mail',
        groups: 'memberOf',
        roles: { IT: 'admin', 'cn=auditors,ou=groups': 'auditor' },
      },
    });
    await page.screenshot({
      path: `test-results/browser/console-saml-connections-${dialect}.png`,
      fullPage: true,
    });
    expect(await accessibilityViolations(page), 'SAML connections listed').toEqual([]);

    // Changed in place: the metadata left empty keeps the identity provider, and the organization stays.
    await page.getByRole('button', { name: 'Edit SAML connection Acme SSO' }).click();
    const edit = page.getByRole('form', { name: 'Change Acme SSO' });
    await edit.getByLabel(/^IdP metadata XML \(empty: keep the current one\)/).waitFor();
    expect(await edit.getByLabel(/^E-mail domains/).inputValue()).toBe('acme.example, corp.acme.example');
    expect(await edit.getByLabel(/^Organization/).inputValue()).toBe('acme-corp');
    expect(await edit.getByLabel(/^Roles from the groups/).inputValue()).toBe(
      'IT=admin\ncn=auditors,ou=groups=auditor',
    );
    await page.screenshot({
      path: `test-results/browser/console-saml-connection-edit-${dialect}.png`,
      fullPage: true,
    });
    expect(await accessibilityViolations(page), 'SAML connection changed in place').toEqual([]);
    await edit.getByLabel(/^E-mail domains/).fill('acme.example');
    await edit.getByLabel('Allow IdP-initiated sign-in').check();
    await edit.getByRole('button', { name: 'Save', exact: true }).click();
    await section.getByText('Acme SSO saved.').waitFor();
    await row.getByText(/domains: acme\.example(?!,)/).waitFor();
    expect(await listed()).toMatchObject({
      organizationId,
      idp,
      domains: ['acme.example'],
      allowIdpInitiated: true,
      autoLink: true,
      mapping: { email: 'mail', groups: 'memberOf' },
    });

    // Disabled: people can no longer start a sign-in through it.
    await page.getByRole('button', { name: 'Disable SAML connection Acme SSO' }).click();
    await section.getByText('Acme SSO disabled.').waitFor();
    await row.getByText('disabled', { exact: true }).waitFor();
    expect((await listed())?.enabled).toBe(false);
    const start = await fetch(`${harness.baseUrl}/login/saml/acme`, { redirect: 'manual' });
    expect(start.headers.get('location') ?? '').not.toContain(idp.ssoUrl);

    await page.getByRole('button', { name: 'Delete SAML connection Acme SSO' }).click();
    await section.getByText('Acme SSO deleted.').waitFor();
    await section.getByText('No SAML connections yet.').waitFor();
    expect(await listed()).toBeUndefined();
    expect(problems).toEqual([]);
    await context.close();
  });

  it('registers a SAML app with our IdP addresses shown, refuses a bad attribute and a second app with its entity ID, edits its attributes, deletes it', {
    timeout: 90_000,
  }, async () => {
    const { context, page, problems } = await providersPage();
    const section = page.locator('section[aria-labelledby="saml-apps-title"]');
    const ours = (term: string) =>
      section.locator('dl.copy-values dt', { hasText: term }).locator('xpath=following-sibling::dd[1]');
    expect(await ours('Our entity ID and metadata URL').textContent()).toBe(
      `${harness.baseUrl}/saml/idp/metadata`,
    );
    expect(await ours('Our SSO URL').textContent()).toBe(`${harness.baseUrl}/saml/idp/sso`);
    await section.getByText('No SAML apps yet.').waitFor();

    await page.getByRole('button', { name: 'Add a SAML app' }).click();
    const form = page.getByRole('form', { name: 'New SAML app' });
    expect(await form.getByLabel(/^Attributes/).inputValue()).toBe('email=email\nname=name');
    expect(await accessibilityViolations(page), 'new SAML app form').toEqual([]);
    await form.getByLabel('App name').fill('Wiki');
    await form.getByLabel(/^App entity ID/).fill('https://wiki.example.com/saml');
    await form.getByLabel(/^App ACS URL/).fill('https://wiki.example.com/saml/acs');
    await form.getByLabel('NameID format').selectOption('persistent');
    await form.getByLabel(/^Attributes/).fill('email=email\nmemberOf=teams');
    await form.getByRole('button', { name: 'Add app' }).click();
    await form.getByRole('alert').filter({ hasText: '“memberOf=teams”: the source is one of' }).waitFor();
    await form.getByLabel(/^Attributes/).fill('email=email\ndisplayName=name');
    await form.getByRole('button', { name: 'Add app' }).click();
    await section.getByText('Wiki added. Give it our metadata URL.').waitFor();

    const listed = async () => {
      const response = await context.request.get(`${harness.baseUrl}/api/v1/admin/saml/apps`);
      return ((await response.json()) as { apps: (Listed & { entityId: string })[] }).apps.find(
        (app) => app.entityId === 'https://wiki.example.com/saml',
      );
    };
    const app = await listed();
    expect(app).toMatchObject({
      name: 'Wiki',
      acsUrl: 'https://wiki.example.com/saml/acs',
      nameIdFormat: 'persistent',
      attributes: { email: 'email', displayName: 'name' },
      signResponse: true,
      enabled: true,
    });
    const row = section.locator('table.saml-apps tbody tr', { hasText: 'Wiki' });
    expect(await row.locator('code.copy').textContent()).toBe(
      `${harness.baseUrl}/saml/idp/apps/${app!.id}/start`,
    );
    await row.getByText('displayName=name', { exact: true }).waitFor();
    await row.getByText('NameID: persistent (per-app pseudonym)').waitFor();
    await page.screenshot({ path: `test-results/browser/console-saml-apps-${dialect}.png`, fullPage: true });
    expect(await accessibilityViolations(page), 'SAML apps listed').toEqual([]);

    // A second app with the same entity ID: the server's refusal, under the form.
    await page.getByRole('button', { name: 'Add a SAML app' }).click();
    await form.getByLabel('App name').fill('Wiki again');
    await form.getByLabel(/^App entity ID/).fill('https://wiki.example.com/saml');
    await form.getByLabel(/^App ACS URL/).fill('https://wiki.example.com/saml/acs');
    await form.getByRole('button', { name: 'Add app' }).click();
    await form
      .getByRole('alert')
      .filter({ hasText: 'A SAML application with that entity ID exists' })
      .waitFor();
    await form.getByRole('button', { name: 'Cancel' }).click();

    // Its attributes changed in place; unsigned responses; the rest as it was.
    await page.getByRole('button', { name: 'Edit SAML app Wiki' }).click();
    const edit = page.getByRole('form', { name: 'Change Wiki' });
    expect(await edit.getByLabel(/^Attributes/).inputValue()).toBe('email=email\ndisplayName=name');
    expect(await edit.getByLabel('NameID format').inputValue()).toBe('persistent');
    await page.screenshot({
      path: `test-results/browser/console-saml-app-edit-${dialect}.png`,
      fullPage: true,
    });
    expect(await accessibilityViolations(page), 'SAML app changed in place').toEqual([]);
    await edit.getByLabel(/^Attributes/).fill('mail=email\nmemberOf=roles\nuid=id');
    await edit.getByLabel('Sign the whole response').uncheck();
    await edit.getByRole('button', { name: 'Save', exact: true }).click();
    await section.getByText('Wiki saved.').waitFor();
    await row.getByText('memberOf=roles', { exact: true }).waitFor();
    await row.getByText('signed: assertion only').waitFor();
    expect(await listed()).toMatchObject({
      name: 'Wiki',
      nameIdFormat: 'persistent',
      attributes: { mail: 'email', memberOf: 'roles', uid: 'id' },
      signResponse: false,
      enabled: true,
    });
    expect(Object.keys((await listed())!.attributes as object)).toEqual(['mail', 'memberOf', 'uid']);

    await page.getByRole('button', { name: 'Disable SAML app Wiki' }).click();
    await section.getByText('Wiki disabled.').waitFor();
    expect((await listed())?.enabled).toBe(false);
    await page.getByRole('button', { name: 'Delete SAML app Wiki' }).click();
    await section.getByText('Wiki deleted.').waitFor();
    await section.getByText('No SAML apps yet.').waitFor();
    expect(await listed()).toBeUndefined();
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows one connection and one app (the screenshot of the SAML sections)', {
    timeout: 60_000,
  }, async () => {
    const { saml } = harness.app.services;
    await saml.createConnection({
      slug: 'globex',
      name: 'Globex Okta',
      organizationId: 'acme-corp',
      metadataXml: await saml.idpMetadata(),
      allowIdpInitiated: false,
      domains: ['globex.example'],
      autoLink: true,
      allowSignup: true,
      enabled: true,
      mapping: { email: 'email', name: 'displayName', groups: 'memberOf', roles: { 'IT-Admins': 'admin' } },
    });
    await saml.createApp({
      name: 'Expense reports',
      entityId: 'https://expenses.example.com/saml/metadata',
      acsUrl: 'https://expenses.example.com/saml/acs',
      nameIdFormat: 'email',
      attributes: { email: 'email', displayName: 'name', memberOf: 'roles' },
      signResponse: true,
      enabled: true,
    });
    const { context, page, problems } = await providersPage();
    await page.locator('table.saml-connections tbody tr', { hasText: 'Globex Okta' }).waitFor();
    await page.locator('table.saml-apps tbody tr', { hasText: 'Expense reports' }).waitFor();
    expect(await accessibilityViolations(page), 'SAML sections with a connection and an app').toEqual([]);
    // From the top of the connections section to the bottom of the apps section, with a margin of the page.
    const first = page.locator('section[aria-labelledby="saml-connections-title"]');
    const last = page.locator('section[aria-labelledby="saml-apps-title"]');
    await first.scrollIntoViewIfNeeded();
    const top = (await first.boundingBox())!;
    const bottom = (await last.boundingBox())!;
    const path = `test-results/browser/console-saml-${dialect}.png`;
    await page.screenshot({
      path,
      fullPage: true,
      clip: {
        x: top.x - 16,
        y: top.y + (await page.evaluate(() => window.scrollY)) - 16,
        width: top.width + 32,
        height: bottom.y + bottom.height - top.y + 32,
      },
    });
    // docs/screenshots are refreshed on request only, so a test run leaves the tree as it was.
    if (dialect === 'sqlite' && process.env.UPDATE_SCREENSHOTS) {
      mkdirSync('docs/screenshots', { recursive: true });
      copyFileSync(path, 'docs/screenshots/console-saml.png');
    }
    expect(problems).toEqual([]);
    await context.close();
  });
});
