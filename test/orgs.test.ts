import { afterAll, beforeAll, expect, it } from 'vitest';
import { type SignedInAccount, signedInAccount } from './helpers/accounts.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { describeEachDialect } from './helpers/dialects.js';
import { startTestSmtpServer, type TestSmtpServer } from './helpers/mail.js';

describeEachDialect('organizations', (testDatabase, dialect) => {
  let harness: TestApp;
  let smtp: TestSmtpServer;
  let owner: SignedInAccount;

  beforeAll(async () => {
    smtp = await startTestSmtpServer();
    harness = await buildTestApp(testDatabase().url, {
      overrides: {
        mail: {
          transport: 'smtp',
          from: 'Gatehouse <id@example.test>',
          smtp: { host: '127.0.0.1', port: smtp.port, secure: false, requireTls: false },
        },
        passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
        accounts: { notifyNewSignIn: false },
      },
    });
    owner = await account('owner');
    await harness.app.services.authz.assign({ type: 'user', id: owner.id }, 'owner', {});
  });

  afterAll(async () => {
    await harness?.app.close();
    await smtp?.close();
  });

  const account = (name: string) => signedInAccount(harness.app, name, dialect);

  const call = (
    caller: SignedInAccount,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    payload?: object,
  ) => harness.app.inject({ method, url, payload, headers: caller.headers });

  it('invites by e-mail, grants roles within one organization only, and keeps organizations apart', async () => {
    await call(owner, 'POST', '/api/v1/admin/permissions', { name: 'projects:read' });
    await call(owner, 'POST', '/api/v1/admin/roles', {
      name: 'project-viewer',
      permissions: ['projects:read'],
    });
    for (const [name, slug] of [
      ['Acme', 'acme'],
      ['Globex', 'globex'],
    ]) {
      const created = await call(owner, 'POST', '/api/v1/admin/organizations', { name, slug });
      expect(created.statusCode, created.body).toBe(201);
    }
    expect(
      (await call(owner, 'POST', '/api/v1/admin/organizations', { name: 'Again', slug: 'acme' })).statusCode,
    ).toBe(409);
    const acme = (await call(owner, 'GET', '/api/v1/admin/organizations/acme')).json().organization as {
      id: string;
    };

    const ivy = await account('ivy');
    const invited = await call(owner, 'POST', '/api/v1/admin/organizations/acme/invitations', {
      email: ivy.email.toUpperCase(),
      role: 'project-viewer',
    });
    expect(invited.statusCode, invited.body).toBe(201);
    const mail = await smtp.waitFor(
      (message) => message.to.includes(ivy.email) && /Join Acme/.test(message.subject),
    );
    const link = mail.links.find((url) => url.includes('/organizations/invitations/accept'))!;
    const token = new URL(link).searchParams.get('token')!;
    expect(harness.logs.text).not.toContain(token);

    // The link shows a button to the signed-in invitee; nothing is spent by opening it.
    const opened = await harness.app.inject({
      method: 'GET',
      url: new URL(link).pathname + new URL(link).search,
      headers: { cookie: ivy.headers.cookie },
    });
    expect(opened.statusCode).toBe(200);
    expect(opened.body).toContain('Accept the invitation');

    // Only the address it was sent to may use it.
    const mallory = await account('mallory');
    const wrongPerson = await call(mallory, 'POST', '/api/v1/me/organizations/invitations/accept', { token });
    expect(wrongPerson.statusCode).toBe(400);
    expect(wrongPerson.json().detail).toContain('another e-mail address');

    const accepted = await call(ivy, 'POST', '/api/v1/me/organizations/invitations/accept', { token });
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(accepted.json().organization.slug).toBe('acme');
    const again = await call(ivy, 'POST', '/api/v1/me/organizations/invitations/accept', { token });
    expect(again.json().code).toBe('invitation_invalid');
    expect(harness.logs.text).toContain('"securityEvent":"org.invitation_accepted"');

    expect((await call(ivy, 'GET', '/api/v1/me/organizations')).json().organizations).toEqual([
      { id: acme.id, name: 'Acme', slug: 'acme', roles: ['project-viewer'] },
    ]);

    const decide = async (organization?: string) =>
      (
        await call(owner, 'POST', '/api/v1/authz/check', {
          subject: { type: 'user', id: ivy.id },
          action: 'projects:read',
          ...(organization ? { organization } : {}),
        })
      ).json().allowed as boolean;
    const globex = (await call(owner, 'GET', '/api/v1/admin/organizations/globex')).json().organization as {
      id: string;
    };
    expect(await decide(acme.id)).toBe(true);
    expect(await decide(globex.id)).toBe(false);
    expect(await decide()).toBe(false);

    // Members see their own organization, and other organizations do not exist for them.
    const ownMembers = await call(ivy, 'GET', '/api/v1/me/organizations/acme/members');
    expect(ownMembers.json().members).toEqual([
      { id: ivy.id, email: ivy.email, roles: ['project-viewer'], joinedAt: expect.any(String) },
    ]);
    const other = await call(ivy, 'GET', '/api/v1/me/organizations/globex/members');
    expect(other.statusCode).toBe(404);
    expect(other.json().code).toBe('organization_not_found');
    expect((await call(ivy, 'GET', '/api/v1/me/organizations/no-such-org/members')).json()).toMatchObject({
      code: 'organization_not_found',
    });
    // Nor do members administer organizations.
    expect((await call(ivy, 'GET', '/api/v1/admin/organizations')).statusCode).toBe(403);

    // Leaving takes the organization's roles with it, at the next decision.
    expect(
      (await call(owner, 'DELETE', `/api/v1/admin/organizations/acme/members/${ivy.id}`)).statusCode,
    ).toBe(204);
    expect(await decide(acme.id)).toBe(false);
    expect((await call(ivy, 'GET', '/api/v1/me/organizations')).json().organizations).toEqual([]);

    // Direct membership and roles through the admin API; roles only for members.
    expect(
      (
        await call(owner, 'PUT', `/api/v1/admin/organizations/globex/members/${ivy.id}/roles/project-viewer`)
      ).json().code,
    ).toBe('not_a_member');
    expect(
      (await call(owner, 'PUT', `/api/v1/admin/organizations/globex/members/${ivy.id}`)).statusCode,
    ).toBe(204);
    expect(
      (await call(owner, 'PUT', `/api/v1/admin/organizations/globex/members/${ivy.id}/roles/project-viewer`))
        .statusCode,
    ).toBe(204);
    expect(await decide(globex.id)).toBe(true);
    expect(await decide(acme.id)).toBe(false);
    const detail = (await call(owner, 'GET', '/api/v1/admin/organizations/globex')).json().organization;
    expect(detail.members).toEqual([
      { id: ivy.id, email: ivy.email, roles: ['project-viewer'], joinedAt: expect.any(String) },
    ]);
    expect(
      (await call(owner, 'PUT', '/api/v1/admin/organizations/globex/members/no-such-user')).json().code,
    ).toBe('user_not_found');
  });
});
