import { copyFileSync, mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listenTestApp, type TestApp } from '../helpers/app.js';
import { launchChromium } from '../helpers/browser.js';
import { describeEachDialect } from '../helpers/dialects.js';

const PASSWORD = 'violet-harbor-lantern-42';

describeEachDialect('the admin console in Chromium', (testDatabase, dialect) => {
  let harness: TestApp & { baseUrl: string };
  let browser: Browser;
  const admin = `console-admin-${dialect}@example.com`;
  const member = `console-member-${dialect}@example.com`;
  const target = `console-target-${dialect}@example.com`;

  beforeAll(async () => {
    mkdirSync('test-results/browser', { recursive: true });
    harness = await listenTestApp(testDatabase().url);
    for (const email of [admin, member, target]) {
      const created = await harness.app.inject({
        method: 'POST',
        url: '/api/v1/auth/signup',
        payload: { email, password: PASSWORD },
      });
      if (email === admin) {
        await harness.app.services.authz.assign({ type: 'user', id: created.json().user.id }, 'admin', {});
      }
    }
    // Something to look at: failed sign-ins from one address and a block.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      await harness.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: target, password: 'not-the-password' },
        remoteAddress: '203.0.113.50',
      });
    }
    await harness.app.services.security.blocks.add(
      { kind: 'ip', value: '198.51.100.0/24', reason: 'scanner' },
      {},
    );
    await harness.app.services.auditWriter.flush();
    await harness.app.services.checkpointNow();
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await harness?.app.close();
  });

  const signIn = async (page: Page, email: string) => {
    await page.goto(`${harness.baseUrl}/admin`);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  };

  it('signs an administrator in, shows the dashboard and the audit log, and verifies the log', {
    timeout: 60_000,
  }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      // The first GET /api/v1/me answers 401 before signing in: that is how the console knows to ask.
      if (message.type() === 'error' && !/status of 401/.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await signIn(page, admin);

    await page.getByRole('heading', { name: 'Last 24 hours' }).waitFor();
    await page.locator('.chart svg rect').first().waitFor();
    const failures = await page.locator('.card').first().locator('.value').textContent();
    expect(Number(failures)).toBeGreaterThanOrEqual(4);
    await page.getByText('203.0.113.50').waitFor();
    await page.screenshot({ path: `test-results/browser/console-dashboard-${dialect}.png`, fullPage: true });

    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await page.locator('table.events tbody tr', { hasText: 'auth.login.failed' }).first().waitFor();
    await page.getByRole('button', { name: 'Verify the log' }).click();
    await page.getByText('Verified.').waitFor();
    await page.screenshot({ path: `test-results/browser/console-audit-${dialect}.png`, fullPage: true });

    // Filters narrow the list, and a row opens to its details.
    await page.getByLabel('Event or prefix').fill('security.');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('table.events tbody tr', { hasText: 'security.ip.blocked' }).first().waitFor();
    // The unfiltered list also holds security events: wait for the filtered answer to replace it.
    const names = () => page.locator('table.events tbody tr td:nth-child(2)').allTextContents();
    await expect
      .poll(async () => (await names()).filter((name) => !name.startsWith('security.')).length)
      .toBe(0);
    expect((await names()).length).toBeGreaterThan(0);
    await page.locator('table.events tbody tr').first().getByRole('button').click();
    await page.getByText('198.51.100.0/24').first().waitFor();
    const exportHref = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
    expect(exportHref).toBe('/api/v1/admin/audit/export?name=security.&format=csv');
    await page.screenshot({
      path: `test-results/browser/console-audit-filtered-${dialect}.png`,
      fullPage: true,
    });

    // The export link works with the session, as a download.
    const download = await context.request.get(`${harness.baseUrl}${exportHref}`);
    expect(download.status()).toBe(200);
    expect(await download.text()).toContain('security.ip.blocked');

    // A phone-sized screen keeps the essentials.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Security', exact: true }).click();
    await page.getByRole('heading', { name: 'Security events' }).waitFor();
    await page.locator('table.events tbody tr', { hasText: 'security.' }).first().waitFor();
    await page.screenshot({ path: `test-results/browser/console-security-phone-${dialect}.png` });
    // docs/screenshots are refreshed on request only, so a test run leaves the tree as it was.
    if (dialect === 'sqlite' && process.env.UPDATE_SCREENSHOTS) {
      mkdirSync('docs/screenshots', { recursive: true });
      copyFileSync(
        `test-results/browser/console-dashboard-${dialect}.png`,
        'docs/screenshots/console-dashboard.png',
      );
      copyFileSync(`test-results/browser/console-audit-${dialect}.png`, 'docs/screenshots/console-audit.png');
    }
    expect(problems).toEqual([]);
    await context.close();
  });

  it('registers a client, shows its secret once and lists it; finds a user and disables them', {
    timeout: 60_000,
  }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await signIn(page, admin);
    await page.getByRole('link', { name: 'Clients' }).click();
    await page.getByRole('button', { name: 'Register a client' }).click();
    await page.locator('#client-name').fill('Billing app');
    await page.getByLabel('refresh_token').check();
    await page.getByLabel('Redirect URIs').fill('https://billing.example.com/callback');
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    const secret = await page.locator('.secret-value').textContent();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await page.locator('table.clients tbody tr', { hasText: 'Billing app' }).waitFor();
    // Renamed, with a second redirect URI; and an API its tokens can be for.
    await page.getByRole('button', { name: 'Edit Billing app' }).click();
    await page
      .locator('textarea[name="redirectUris"]')
      .fill('https://billing.example.com/callback\nhttps://billing.example.com/callback-2');
    await page.locator('form.edit-row input[name="name"]').fill('Billing');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Billing saved.').waitFor();
    const edited = (await harness.app.services.clients.list()).find((client) => client.name === 'Billing');
    expect(edited?.redirectUris).toEqual([
      'https://billing.example.com/callback',
      'https://billing.example.com/callback-2',
    ]);
    await page
      .getByLabel('Identifier (the audience: an https:// URL)')
      .fill('https://api.billing.example.com');
    await page.locator('#resource-name').fill('Billing API');
    await page.getByLabel('Scopes (separated by spaces)').fill('invoices:read invoices:write');
    await page.getByRole('button', { name: 'Register API' }).click();
    await page.getByText('API Billing API registered.').waitFor();
    await page.locator('ul.plain li', { hasText: 'https://api.billing.example.com' }).waitFor();
    await page.screenshot({ path: `test-results/browser/console-clients-${dialect}.png`, fullPage: true });
    // Only the keyed hash is kept: the secret is nowhere in what the API lists.
    const listed = await context.request.get(`${harness.baseUrl}/api/v1/admin/clients`);
    expect(await listed.text()).not.toContain(secret);
    await page.getByRole('button', { name: 'I have stored it' }).click();
    expect(await page.locator('.secret-value').count()).toBe(0);

    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('button', { name: 'Create a user' }).click();
    await page.getByLabel('E-mail', { exact: true }).fill(`created-${dialect}@example.com`);
    await page.getByLabel('First password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByText(`created-${dialect}@example.com created.`).waitFor();
    const created = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: `created-${dialect}@example.com`, password: PASSWORD },
    });
    expect(created.statusCode).toBe(200);

    await page.getByLabel('E-mail or name').fill(target);
    await page.getByRole('button', { name: 'Search' }).click();
    const row = page.locator('table.users tbody tr', { hasText: target });
    await row.waitFor();
    // The list narrows once the search answers.
    await expect.poll(() => page.locator('table.users tbody tr').count()).toBe(1);
    await row.getByRole('button', { name: 'Reset 2FA' }).click();
    await page.getByText(`${target}: second factors removed; they can add new ones.`).waitFor();
    await row.getByRole('button', { name: 'Disable' }).click();
    await row.getByText('disabled', { exact: true }).waitFor();
    await page.screenshot({ path: `test-results/browser/console-users-${dialect}.png`, fullPage: true });
    // Its activity: the audit log filtered to this user, the disabling on top.
    await row.getByRole('link', { name: 'Activity' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await page.locator('table.events tbody tr', { hasText: 'user.disabled' }).first().waitFor();
    const targets = await page.locator('table.events tbody tr td:nth-child(6)').allTextContents();
    expect(targets.length).toBeGreaterThan(0);
    const stored = await harness.app.services.accounts.get(
      await harness.app.services.accounts.idForEmail(target),
    );
    expect(stored.status).toBe('disabled');
    await context.close();
  });

  it('shows a locked account only the generic error, and lets an administrator unlock it', {
    timeout: 60_000,
  }, async () => {
    const locked = `console-locked-${dialect}@example.com`;
    await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: locked, password: PASSWORD },
    });
    for (let attempt = 0; attempt < 5; attempt += 1) {
      await harness.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: locked, password: 'not-the-password' },
      });
    }
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, locked);
    await page.getByRole('alert').waitFor();
    // The right password on a locked account reads exactly like a wrong one.
    expect(await page.getByRole('alert').textContent()).toBe('Invalid e-mail or password');
    await page.screenshot({ path: `test-results/browser/console-locked-${dialect}.png` });
    await context.close();

    const adminContext = await browser.newContext();
    const adminPage = await adminContext.newPage();
    await signIn(adminPage, admin);
    await adminPage.getByRole('link', { name: 'Users' }).click();
    await adminPage.getByLabel('E-mail or name').fill(locked);
    await adminPage.getByRole('button', { name: 'Search' }).click();
    const row = adminPage.locator('table.users tbody tr', { hasText: locked });
    await row.getByText('locked', { exact: true }).waitFor();
    await row.getByRole('button', { name: 'Unlock' }).click();
    await row.getByText('active', { exact: true }).waitFor();
    await adminContext.close();
  });

  it('blocks a range and lifts it, plants a honeytoken shown once, and shows the settings with secrets masked', {
    timeout: 60_000,
  }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await signIn(page, admin);
    await page.getByRole('link', { name: 'Blocks', exact: true }).click();
    await page.getByLabel('Value').fill('192.0.2.0/24');
    await page.getByLabel('Reason').fill('credential stuffing');
    await page.getByRole('button', { name: 'Block', exact: true }).click();
    const blocked = page.locator('table.blocks tbody tr', { hasText: '192.0.2.0/24' });
    await blocked.waitFor();
    expect(harness.app.services.security.blocks.match('192.0.2.7', undefined)).toBeDefined();

    await page.getByLabel('Kind').selectOption('api_key');
    await page.getByLabel('Name (looks real: backup-sync)').fill('backup-sync');
    await page.getByRole('button', { name: 'Plant' }).click();
    const credentials = await page.locator('.secret-value').textContent();
    expect(credentials).toMatch(/^apiKey: gh_/);
    await page.locator('li', { hasText: 'backup-sync' }).waitFor();
    await page.screenshot({ path: `test-results/browser/console-defences-${dialect}.png`, fullPage: true });

    await blocked.getByRole('button', { name: 'Lift' }).click();
    await page.getByText('Lifted.').waitFor();
    expect(await page.locator('table.blocks tbody tr', { hasText: '192.0.2.0/24' }).count()).toBe(0);

    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await page.locator('summary', { hasText: 'secrets' }).click();
    const secrets = await page.locator('details[open] pre').textContent();
    expect(secrets).toContain('"key"');
    expect(secrets).not.toContain(harness.config.secrets.key as string);
    await context.close();
  });

  it('creates a service account and a key for it, shown once, that then works as a bearer token', {
    timeout: 60_000,
  }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on(
      'dialog',
      (dialog) => void dialog.accept(dialog.type() === 'prompt' ? 'nightly-export' : undefined),
    );
    await signIn(page, admin);
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('New service account').fill('billing-worker');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const panel = page.locator('.panel', { hasText: 'billing-worker' }).first();
    await panel.getByRole('button', { name: 'New API key' }).click();
    const token = (await page.locator('.secret-value').textContent())!.trim();
    expect(token).toMatch(/^gh_[0-9a-f]{16}_/);
    await panel.getByText('nightly-export').waitFor();
    // The key authenticates (a service account without roles is then refused by permission, not by key).
    const called = await harness.app.inject({
      method: 'GET',
      url: '/api/v1/admin/users',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(called.statusCode).toBe(403);
    const forged = await harness.app.inject({
      method: 'GET',
      url: '/api/v1/admin/users',
      headers: { authorization: `Bearer ${token.slice(0, -2)}xx` },
    });
    expect(forged.statusCode).toBe(401);
    await panel.getByRole('button', { name: 'Revoke' }).click();
    await panel.getByText('revoked').waitFor();
    await context.close();
  });

  it('creates an organization and invites someone to it', { timeout: 60_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, admin);
    await page.getByRole('link', { name: 'Organizations' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Acme Corp');
    await page.getByLabel('Slug').fill(`acme-${dialect}`);
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('button', { name: 'Acme Corp' }).click();
    await page.getByLabel('Invite by e-mail').fill(`invitee-${dialect}@example.com`);
    await page.getByRole('button', { name: 'Invite' }).click();
    await page.getByText(`invitee-${dialect}@example.com · invited`).waitFor();
    await context.close();
  });

  it('refuses a wrong password with the generic message, and shows a member without permissions a notice', {
    timeout: 60_000,
  }, async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${harness.baseUrl}/admin`);
    await page.getByLabel('E-mail').fill(member);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/e-mail or password/i);

    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText('Your account holds none of the permissions').waitFor();
    await context.close();
  });
  it('registers a permission, makes and edits a role, gives it through a group, and tries and saves a policy', {
    timeout: 60_000,
  }, async () => {
    // Nobody gives what they do not hold: an administrator cannot hand out the new permissions, an owner can.
    const owner = `console-owner-${dialect}@example.com`;
    const signedUp = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: owner, password: PASSWORD },
    });
    await harness.app.services.authz.assign({ type: 'user', id: signedUp.json().user.id }, 'owner', {});
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, owner);
    await page.getByRole('link', { name: 'Roles' }).click();
    for (const name of ['notes:read', 'notes:edit']) {
      await page.getByLabel('Permission (resource:action)').fill(name);
      await page.getByRole('button', { name: 'Register' }).click();
      await page.getByText(`Permission ${name} registered.`).waitFor();
    }
    await page.getByRole('button', { name: 'New role' }).click();
    await page.getByLabel('Name', { exact: true }).fill('notes-editor');
    await page.getByLabel(/^Permissions \(resource:action/).fill('notes:read, notes:edit');
    await page.getByRole('button', { name: 'Create role' }).click();
    await page.getByText('Role notes-editor created.').waitFor();
    const row = page.locator('table.roles tbody tr', { hasText: 'notes-editor' });
    await row.getByText('notes:edit').waitFor();
    await page.getByRole('button', { name: 'Edit notes-editor' }).click();
    await page.locator('textarea[name="permissions"]').fill('notes:read');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Role notes-editor saved.').waitFor();
    expect(await row.getByText('notes:edit').count()).toBe(0);

    await page.getByRole('link', { name: 'Groups' }).click();
    await page.getByLabel('Name', { exact: true }).fill('editors');
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.getByRole('heading', { name: 'Group editors' }).waitFor();
    await page.getByLabel('Add a member (e-mail)').fill(member);
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.getByText(`${member} joined editors.`).waitFor();
    await page.getByLabel('Give the group a role').selectOption('notes-editor');
    await page.getByRole('button', { name: 'Give role' }).click();
    await page.getByText('editors now gives notes-editor.').waitFor();
    await page.screenshot({ path: `test-results/browser/console-groups-${dialect}.png`, fullPage: true });
    // The member (an earlier test disabled the target, who then holds nothing).
    const memberId = await harness.app.services.accounts.idForEmail(member);
    const access = await harness.app.services.authz.effectiveAccess(memberId);
    expect(access.permissions.has('notes:read')).toBe(true);
    expect(access.permissions.has('notes:edit')).toBe(false);

    await page.getByRole('link', { name: 'Policies' }).click();
    await page.getByRole('button', { name: 'New policy' }).click();
    await page.getByLabel('Name', { exact: true }).fill('owners-edit');
    // A mistake first: Cedar's error names where it is, and nothing is saved.
    await page.getByLabel('Cedar statement').fill('permit (principal, action, resource');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /line|column|parse|expected/i })
      .waitFor();
    await page
      .getByLabel('Cedar statement')
      .fill(
        'permit (principal, action == Action::"notes:edit", resource)\nwhen { resource has owner && resource.owner == principal.id };',
      );
    await page.getByLabel('User (e-mail)').fill(member);
    await page.getByLabel('Permission', { exact: true }).fill('notes:edit');
    await page
      .getByLabel('Resource (JSON, optional)')
      .fill(JSON.stringify({ type: 'note', owner: memberId }));
    await page.getByRole('button', { name: 'Try the draft' }).click();
    await page.getByText('Allowed', { exact: true }).waitFor();
    await page
      .getByLabel('Resource (JSON, optional)')
      .fill(JSON.stringify({ type: 'note', owner: 'someone-else' }));
    await page.getByRole('button', { name: 'Try the draft' }).click();
    await page.getByText('Denied', { exact: true }).waitFor();
    expect(
      (await harness.app.services.authz.listPolicies({ limit: 100, offset: 0 })).map((policy) => policy.name),
    ).not.toContain('owners-edit');
    await page.screenshot({ path: `test-results/browser/console-policy-${dialect}.png`, fullPage: true });
    if (dialect === 'sqlite' && process.env.UPDATE_SCREENSHOTS) {
      copyFileSync(
        `test-results/browser/console-policy-${dialect}.png`,
        'docs/screenshots/console-policy.png',
      );
    }
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText('Policy owners-edit saved.').waitFor();
    await page.locator('table.policies tbody tr', { hasText: 'owners-edit' }).waitFor();
    expect(
      (await harness.app.services.authz.listPolicies({ limit: 100, offset: 0 })).map((policy) => policy.name),
    ).toContain('owners-edit');
    await context.close();
  });

  it('shows the installation and its job queue, and runs a dead job again', { timeout: 60_000 }, async () => {
    const { job } = await harness.app.services.jobs.enqueue(
      'housekeeping.run',
      {},
      { runAt: Date.now() + 3_600_000 },
    );
    await harness.app.services.database.db
      .updateTable('jobs')
      .set({
        status: 'dead',
        attempts: 3,
        last_error: 'Error: the database was away',
        finished_at: Date.now(),
      })
      .where('id', '=', job.id)
      .execute();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, admin);
    await page.getByRole('link', { name: 'System' }).click();
    await page.getByRole('heading', { name: 'System', exact: true }).waitFor();
    await page.getByText(/schema 0017_federation/).waitFor();
    const row = page.locator('table.jobs tbody tr', { hasText: 'housekeeping.run' });
    await row.waitFor();
    expect(await row.locator('td').nth(4).textContent()).toBe('1');
    await page.getByText('Error: the database was away').waitFor();
    await page.screenshot({ path: `test-results/browser/console-system-${dialect}.png`, fullPage: true });
    await page.getByRole('button', { name: `Run housekeeping.run ${job.id} again` }).click();
    await page.getByText('housekeeping.run queued again.').waitFor();
    // This node's worker picks it up at once and, the database being back, it succeeds.
    await expect.poll(async () => (await harness.app.services.jobs.get(job.id)).status).toBe('succeeded');
    expect(await harness.app.services.jobs.get(job.id)).toMatchObject({ attempts: 1, lastError: null });
    await context.close();
  });

  it('gives a user a role and explains the decision it leads to', { timeout: 60_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, admin);
    await page.getByRole('link', { name: 'Roles' }).click();
    await page.getByRole('heading', { name: 'Roles and access' }).waitFor();
    await page.locator('table.roles tbody tr', { hasText: 'auditor' }).first().waitFor();

    await page.getByLabel('User (e-mail)').first().fill(member);
    await page.getByLabel('Permission', { exact: true }).fill('audit:read');
    await page.getByRole('button', { name: 'Decide' }).click();
    await page.getByText('Denied').waitFor();

    await page.locator('#assign-email').fill(member);
    await page.getByLabel('Role', { exact: true }).selectOption('auditor');
    await page.getByRole('button', { name: 'Give role' }).click();
    await page.getByText(`${member} now holds auditor.`).waitFor();
    await page.getByRole('button', { name: 'Decide' }).click();
    await page.getByText('Allowed').waitFor();
    await page.screenshot({ path: `test-results/browser/console-roles-${dialect}.png`, fullPage: true });
    // Last in this file: the member holds a role from here on.
    // The change is the API's: the member now reads the audit log.
    const access = await harness.app.services.authz.effectiveAccess(
      await harness.app.services.accounts.idForEmail(member),
    );
    expect(access.permissions.has('audit:read')).toBe(true);
    await context.close();
  });
});
