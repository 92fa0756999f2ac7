import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type SignedInAccount, signedInAccount } from './helpers/accounts.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { describeEachDialect, TEST_REDIS_URL } from './helpers/dialects.js';

describeEachDialect('authorization', (testDatabase, dialect) => {
  let harness: TestApp;
  // A second node on the same database and Redis: changes made on one must reach the other's caches.
  let other: TestApp;
  let owner: SignedInAccount;
  const keyPrefix = `gatehouse-authz-test-${randomUUID()}:`;

  const node = () =>
    buildTestApp(testDatabase().url, {
      overrides: {
        redis: { url: TEST_REDIS_URL, keyPrefix },
        passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
        accounts: { notifyNewSignIn: false },
      },
    });

  const account = (name: string) => signedInAccount(harness.app, name, dialect);

  const call = (
    caller: SignedInAccount,
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    url: string,
    payload?: object,
    app = harness.app,
  ) => app.inject({ method, url, payload, headers: caller.headers });

  beforeAll(async () => {
    harness = await node();
    other = await node();
    owner = await account('owner');
    await harness.app.services.authz.assign({ type: 'user', id: owner.id }, 'owner', {});
  });

  afterAll(async () => {
    await harness?.app.close();
    await other?.app.close();
  });

  it('guards the admin API with permissions: none for a user, reading for an auditor, all for an owner', async () => {
    const plain = await account('plain');
    const denied = await call(plain, 'GET', '/api/v1/admin/users');
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toMatchObject({
      code: 'permission_denied',
      detail: expect.stringContaining('users:read'),
    });
    expect(harness.logs.text).toContain('"securityEvent":"authz.denied"');
    // No permission, no validation details either: the guard runs before the body is looked at.
    const blind = await call(plain, 'POST', '/api/v1/admin/roles', { name: '' });
    expect(blind.statusCode).toBe(403);

    const auditor = await account('auditor');
    expect((await call(owner, 'PUT', `/api/v1/admin/users/${auditor.id}/roles/auditor`)).statusCode).toBe(
      204,
    );
    expect((await call(auditor, 'GET', '/api/v1/admin/users')).statusCode).toBe(200);
    expect((await call(auditor, 'GET', '/api/v1/admin/clients')).statusCode).toBe(200);
    const write = await call(auditor, 'POST', '/api/v1/admin/users', { email: `x-${dialect}@example.com` });
    expect(write.statusCode).toBe(403);

    const mine = await call(auditor, 'GET', '/api/v1/me/permissions');
    expect(mine.json()).toEqual({
      roles: ['auditor', 'user'],
      groups: [],
      permissions: [
        'audit:read',
        'authz:read',
        'clients:read',
        'orgs:read',
        'security:read',
        'system:read',
        'users:read',
      ],
    });
    const viewed = await call(owner, 'GET', `/api/v1/admin/users/${auditor.id}/permissions`);
    expect(viewed.json().roles).toEqual(['auditor', 'user']);
    const signedOut = await harness.app.inject({ method: 'GET', url: '/api/v1/me/permissions' });
    expect(signedOut.statusCode).toBe(401);
  });

  it('resolves role inheritance and nested groups, refuses cycles, and explains decisions', async () => {
    for (const name of ['invoices:read', 'invoices:write', 'invoices:approve']) {
      const created = await call(owner, 'POST', '/api/v1/admin/permissions', { name, description: name });
      expect(created.statusCode, created.body).toBe(201);
    }
    expect(
      (await call(owner, 'POST', '/api/v1/admin/permissions', { name: 'Not A Permission' })).statusCode,
    ).toBe(400);
    const reader = await call(owner, 'POST', '/api/v1/admin/roles', {
      name: 'billing-reader',
      permissions: ['invoices:read'],
    });
    expect(reader.statusCode, reader.body).toBe(201);
    const clerk = await call(owner, 'POST', '/api/v1/admin/roles', {
      name: 'billing-clerk',
      permissions: ['invoices:write'],
      includes: ['billing-reader'],
    });
    expect(clerk.json().role).toMatchObject({
      includes: ['billing-reader'],
      permissions: ['invoices:write'],
    });
    const manager = await call(owner, 'POST', '/api/v1/admin/roles', {
      name: 'billing-manager',
      permissions: ['invoices:approve'],
      includes: ['billing-clerk'],
    });
    expect(manager.statusCode).toBe(201);
    const unknown = await call(owner, 'POST', '/api/v1/admin/roles', {
      name: 'x',
      permissions: ['ledger:read'],
    });
    expect(unknown.json().code).toBe('permission_unknown');

    // reader → manager would close reader → manager → clerk → reader.
    const cycle = await call(owner, 'PATCH', '/api/v1/admin/roles/billing-reader', {
      includes: ['billing-manager'],
    });
    expect(cycle.statusCode).toBe(409);
    expect(cycle.json().code).toBe('role_cycle');
    const self = await call(owner, 'PATCH', '/api/v1/admin/roles/billing-reader', {
      includes: ['billing-reader'],
    });
    expect(self.json().code).toBe('role_cycle');

    // Groups: finance holds billing-reader; payables sits inside finance and holds billing-clerk.
    for (const name of ['finance', 'payables', 'approvers']) {
      expect((await call(owner, 'POST', '/api/v1/admin/groups', { name })).statusCode).toBe(201);
    }
    expect((await call(owner, 'PUT', '/api/v1/admin/groups/finance/roles/billing-reader')).statusCode).toBe(
      204,
    );
    expect((await call(owner, 'PUT', '/api/v1/admin/groups/payables/roles/billing-clerk')).statusCode).toBe(
      204,
    );
    expect((await call(owner, 'PUT', '/api/v1/admin/groups/payables/parents/finance')).statusCode).toBe(204);
    expect((await call(owner, 'PUT', '/api/v1/admin/groups/approvers/parents/payables')).statusCode).toBe(
      204,
    );
    const groupCycle = await call(owner, 'PUT', '/api/v1/admin/groups/finance/parents/approvers');
    expect(groupCycle.statusCode).toBe(409);
    expect(groupCycle.json().code).toBe('group_cycle');

    const ada = await account('ada');
    expect((await call(owner, 'PUT', `/api/v1/admin/groups/approvers/members/${ada.id}`)).statusCode).toBe(
      204,
    );
    const check = (action: string, explain = false) =>
      call(owner, 'POST', `/api/v1/authz/check${explain ? '?explain=true' : ''}`, {
        subject: { type: 'user', id: ada.id },
        action,
        resource: { type: 'invoice', id: 'inv-1' },
      });
    // Through approvers ⊂ payables ⊂ finance: clerk (write) and, by inclusion, reader (read).
    const explained = await check('invoices:read', true);
    expect(explained.statusCode, explained.body).toBe(200);
    expect(explained.json()).toMatchObject({
      allowed: true,
      reasons: ['role billing-reader grants invoices:read'],
      matchedPolicies: [],
      explanation: {
        roles: ['billing-clerk', 'billing-reader', 'user'],
        groups: ['approvers', 'finance', 'payables'],
        permissions: ['invoices:read', 'invoices:write'],
      },
    });
    expect((await check('invoices:write')).json().allowed).toBe(true);
    const refused = (await check('invoices:approve')).json();
    expect(refused).toMatchObject({
      allowed: false,
      reasons: ['no role of the subject grants invoices:approve'],
    });
    expect(refused.explanation).toBeUndefined();

    const batch = await call(owner, 'POST', '/api/v1/authz/check/batch', {
      checks: [
        { subject: { type: 'user', id: ada.id }, action: 'invoices:read' },
        { subject: { type: 'user', id: 'no-such-user' }, action: 'invoices:read' },
      ],
    });
    expect(batch.json().results.map((result: { allowed: boolean }) => result.allowed)).toEqual([true, false]);
    expect(batch.json().results[1].reasons).toEqual(['the subject is not an active account']);

    const group = await call(owner, 'GET', '/api/v1/admin/groups/payables');
    expect(group.json().group).toMatchObject({
      parents: ['finance'],
      children: ['approvers'],
      roles: ['billing-clerk'],
      members: [],
    });
  });

  it('takes a change into account at the next check, on every node', async () => {
    await call(owner, 'POST', '/api/v1/admin/permissions', { name: 'reports:read' });
    await call(owner, 'POST', '/api/v1/admin/roles', { name: 'reporter', permissions: ['reports:read'] });
    const bea = await account('bea');
    const decide = (app: TestApp['app']) =>
      app.services.authz.check({ subject: { type: 'user', id: bea.id }, action: 'reports:read' });
    // Both nodes cache a "no".
    expect((await decide(harness.app)).allowed).toBe(false);
    expect((await decide(other.app)).allowed).toBe(false);

    // This node at once; the other as soon as Redis delivers the change (its subscriber runs before ours).
    let delivered = await nextChange(other.app);
    expect((await call(owner, 'PUT', `/api/v1/admin/users/${bea.id}/roles/reporter`)).statusCode).toBe(204);
    expect((await decide(harness.app)).allowed).toBe(true);
    await delivered.arrived;
    expect((await decide(other.app)).allowed).toBe(true);

    delivered = await nextChange(other.app);
    expect((await call(owner, 'DELETE', `/api/v1/admin/users/${bea.id}/roles/reporter`)).statusCode).toBe(
      204,
    );
    expect((await decide(harness.app)).allowed).toBe(false);
    await delivered.arrived;
    expect((await decide(other.app)).allowed).toBe(false);
  });

  it('lets nobody give what they do not hold, and protects the built-in roles', async () => {
    const admin = await account('admin');
    await harness.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
    // An admin may hand out auditor (a subset of admin) but not owner (which holds `*`).
    const somebody = await account('somebody');
    expect((await call(admin, 'PUT', `/api/v1/admin/users/${somebody.id}/roles/auditor`)).statusCode).toBe(
      204,
    );
    const escalate = await call(admin, 'PUT', `/api/v1/admin/users/${admin.id}/roles/owner`);
    expect(escalate.statusCode).toBe(403);
    expect(escalate.json().detail).toContain('*');
    // Nor shape a role into more than they hold.
    await call(owner, 'POST', '/api/v1/admin/permissions', { name: 'vault:open' });
    const sneaky = await call(admin, 'POST', '/api/v1/admin/roles', {
      name: 'sneaky',
      permissions: ['vault:open'],
    });
    expect(sneaky.statusCode).toBe(403);

    expect((await call(owner, 'DELETE', '/api/v1/admin/roles/admin')).json().code).toBe('builtin_protected');
    expect((await call(owner, 'PATCH', '/api/v1/admin/roles/owner', { permissions: [] })).json().code).toBe(
      'builtin_protected',
    );
    expect((await call(owner, 'DELETE', '/api/v1/admin/permissions/users:read')).json().code).toBe(
      'builtin_protected',
    );

    // `isAdmin` mirrors holding admin by any path, a group included.
    const carl = await account('carl');
    await call(owner, 'POST', '/api/v1/admin/groups', { name: 'operators' });
    await call(owner, 'PUT', '/api/v1/admin/groups/operators/roles/admin');
    await call(owner, 'PUT', `/api/v1/admin/groups/operators/members/${carl.id}`);
    expect((await call(owner, 'GET', `/api/v1/admin/users/${carl.id}`)).json().user.isAdmin).toBe(true);
    await call(owner, 'DELETE', `/api/v1/admin/groups/operators/members/${carl.id}`);
    expect((await call(owner, 'GET', `/api/v1/admin/users/${carl.id}`)).json().user.isAdmin).toBe(false);
    // The admin API's isAdmin shortcut gives and takes the admin role.
    const flagged = await call(owner, 'PATCH', `/api/v1/admin/users/${carl.id}`, { isAdmin: true });
    expect(flagged.json().user.isAdmin).toBe(true);
    expect((await call(owner, 'GET', `/api/v1/admin/users/${carl.id}/permissions`)).json().roles).toContain(
      'admin',
    );
  });

  it("answers services holding a client_credentials token for Gatehouse's API with the authz:check scope", async () => {
    const issuer = harness.config.server.publicUrl;
    const { clients } = harness.app.services;
    const checker = await clients.create(
      { name: 'Billing API', grants: ['client_credentials'], scopes: ['authz:check'] },
      {},
    );
    const token = async (client: { id: string }, secret: string, resource: string, scope: string) => {
      const response = await harness.app.inject({
        method: 'POST',
        url: '/oauth2/token',
        headers: {
          authorization: `Basic ${Buffer.from(`${client.id}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        payload: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }).toString(),
      });
      return {
        status: response.statusCode,
        body: response.json() as { access_token?: string; error?: string },
      };
    };
    const granted = await token(checker.client, checker.secret!, `${issuer}/api`, 'authz:check');
    expect(granted.status, JSON.stringify(granted.body)).toBe(200);

    const dora = await account('dora');
    const ask = (bearer: string, url = '/api/v1/authz/check') =>
      harness.app.inject({
        method: 'POST',
        url,
        headers: { authorization: `Bearer ${bearer}` },
        payload: { subject: { type: 'user', id: dora.id }, action: 'users:read' },
      });
    const answered = await ask(granted.body.access_token!);
    expect(answered.statusCode, answered.body).toBe(200);
    expect(answered.json()).toMatchObject({ allowed: false });

    // A client not registered for the scope gets no token for Gatehouse's API at all.
    const other = await clients.create(
      { name: 'Other', grants: ['client_credentials'], scopes: ['reports:read'] },
      {},
    );
    expect((await token(other.client, other.secret!, `${issuer}/api`, 'authz:check')).body.error).toBe(
      'invalid_target',
    );
    // Garbage, or a token for another API, is refused with WWW-Authenticate.
    const garbage = await ask('not-a-token');
    expect(garbage.statusCode).toBe(401);
    expect(garbage.json().code).toBe('api_token_invalid');
    expect(garbage.headers['www-authenticate']).toContain('invalid_token');
    // The token opens the check API only: elsewhere its scope falls short.
    const elsewhere = await harness.app.inject({
      method: 'GET',
      url: '/api/v1/admin/users',
      headers: { authorization: `Bearer ${granted.body.access_token}` },
    });
    expect(elsewhere.statusCode).toBe(403);
    expect(elsewhere.json().code).toBe('api_token_scope');
    expect(elsewhere.headers['www-authenticate']).toContain('insufficient_scope');
  });

  it('runs API keys through their life: scopes within the owner, last use, rotation with overlap, revocation', async () => {
    const kim = await account('kim');
    await call(owner, 'PUT', `/api/v1/admin/users/${kim.id}/roles/auditor`);
    const created = await call(kim, 'POST', '/api/v1/me/api-keys', {
      name: 'reports',
      scopes: ['users:read'],
    });
    expect(created.statusCode, created.body).toBe(201);
    const { key, token } = created.json() as { key: { id: string; prefix: string }; token: string };
    expect(token).toMatch(/^gh_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(token.startsWith(`${key.prefix}_`)).toBe(true);
    const withKey = (
      bearer: string,
      method: 'GET' | 'POST' = 'GET',
      url = '/api/v1/admin/users',
      payload?: object,
    ) => harness.app.inject({ method, url, payload, headers: { authorization: `Bearer ${bearer}` } });

    expect((await withKey(token)).statusCode).toBe(200);
    // kim may read clients, but this key is limited to users:read.
    const outside = await withKey(token, 'GET', '/api/v1/admin/clients');
    expect(outside.statusCode).toBe(403);
    expect(outside.json().code).toBe('permission_denied');
    // A key never exceeds its owner: kim cannot write users, so neither can an unscoped key of hers.
    const unscoped = (await call(kim, 'POST', '/api/v1/me/api-keys', { name: 'everything' })).json()
      .token as string;
    expect(
      (await withKey(unscoped, 'POST', '/api/v1/admin/users', { email: `k-${dialect}@example.com` }))
        .statusCode,
    ).toBe(403);
    // Keys do not make keys: that needs a signed-in session.
    expect((await withKey(token, 'POST', '/api/v1/me/api-keys', { name: 'more' })).statusCode).toBe(401);

    const listed = (await call(kim, 'GET', '/api/v1/me/api-keys')).json().keys as Record<string, unknown>[];
    const entry = listed.find((candidate) => candidate.id === key.id)!;
    expect(entry).toMatchObject({ name: 'reports', scopes: ['users:read'], revokedAt: null });
    expect(entry.lastUsedAt).toEqual(expect.any(String));
    expect(JSON.stringify(listed)).not.toContain(token.slice(-43));

    // Rotation: the old secret works through the overlap, not after a rotation without one.
    const rotated = await call(kim, 'POST', `/api/v1/me/api-keys/${key.id}/rotate`, { overlapSeconds: 600 });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const second = rotated.json().token as string;
    expect((await withKey(second)).statusCode).toBe(200);
    expect((await withKey(token)).statusCode).toBe(200);
    const third = (
      await call(kim, 'POST', `/api/v1/me/api-keys/${key.id}/rotate`, { overlapSeconds: 0 })
    ).json().token as string;
    expect((await withKey(third)).statusCode).toBe(200);
    expect((await withKey(second)).statusCode).toBe(401);
    expect((await withKey(token)).statusCode).toBe(401);

    // Someone else's key is not theirs to revoke; the owner's revocation is immediate.
    expect((await call(owner, 'DELETE', `/api/v1/me/api-keys/${key.id}`)).statusCode).toBe(404);
    expect((await call(kim, 'DELETE', `/api/v1/me/api-keys/${key.id}`)).statusCode).toBe(204);
    const revoked = await withKey(third);
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().code).toBe('api_key_invalid');
    expect(revoked.headers['www-authenticate']).toContain('invalid_token');
    expect(harness.logs.text).toContain('"securityEvent":"api_key.rejected"');
    expect(
      (await withKey('gh_0000000000000000_not-a-real-secret-not-a-real-secret-xxxxxxx')).statusCode,
    ).toBe(401);

    // An expired key stops.
    const expiring = (
      await call(kim, 'POST', '/api/v1/me/api-keys', { name: 'short', expiresInDays: 1 })
    ).json();
    expect((await withKey(expiring.token)).statusCode).toBe(200);
    await harness.app.gatehouse.database.db
      .updateTable('api_keys')
      .set({ expires_at: Date.now() - 1 })
      .where('id', '=', expiring.key.id)
      .execute();
    expect((await withKey(expiring.token)).statusCode).toBe(401);
  });

  it('gives service accounts roles and keys, and decides for them', async () => {
    const made = await call(owner, 'POST', '/api/v1/admin/service-accounts', { name: `ci-bot-${dialect}` });
    expect(made.statusCode, made.body).toBe(201);
    const bot = made.json().serviceAccount as { id: string; name: string };
    expect(
      (await call(owner, 'PUT', `/api/v1/admin/service-accounts/${bot.name}/roles/auditor`)).statusCode,
    ).toBe(204);
    const issued = await call(owner, 'POST', `/api/v1/admin/service-accounts/${bot.id}/api-keys`, {
      name: 'pipeline',
    });
    expect(issued.statusCode, issued.body).toBe(201);
    const token = issued.json().token as string;
    const asBot = (url: string) =>
      harness.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    expect((await asBot('/api/v1/admin/users')).statusCode).toBe(200);
    expect((await asBot('/api/v1/admin/roles')).statusCode).toBe(200);
    expect(
      (await call(owner, 'GET', `/api/v1/admin/service-accounts/${bot.id}`)).json().serviceAccount.roles,
    ).toEqual(['auditor']);
    const decision = await call(owner, 'POST', '/api/v1/authz/check', {
      subject: { type: 'service_account', id: bot.id },
      action: 'audit:read',
    });
    expect(decision.json()).toMatchObject({ allowed: true, reasons: ['role auditor grants audit:read'] });

    expect((await call(owner, 'DELETE', `/api/v1/admin/service-accounts/${bot.id}`)).statusCode).toBe(204);
    expect((await asBot('/api/v1/admin/users')).statusCode).toBe(401);
    expect(harness.logs.text).toContain('"securityEvent":"service_account.deleted"');
  });

  it('refines and restricts roles with Cedar policies: ownership, time, network, assurance, attributes', async () => {
    for (const name of ['payroll:run', 'notes:edit', 'docs:read']) {
      await call(owner, 'POST', '/api/v1/admin/permissions', { name });
    }
    await call(owner, 'POST', '/api/v1/admin/roles', { name: 'payroll-clerk', permissions: ['payroll:run'] });
    const pia = await account('pia');
    await call(owner, 'PUT', `/api/v1/admin/users/${pia.id}/roles/payroll-clerk`);
    await call(owner, 'POST', '/api/v1/admin/groups', { name: 'writers' });
    await call(owner, 'PUT', `/api/v1/admin/groups/writers/members/${pia.id}`);
    const decide = async (action: string, extra: Record<string, unknown> = {}) =>
      (
        await call(owner, 'POST', '/api/v1/authz/check', {
          subject: { type: 'user', id: pia.id },
          action,
          ...extra,
        })
      ).json();

    // Written wrong: a 400 that names the line and column.
    const broken = await call(owner, 'PUT', '/api/v1/admin/policies/broken', {
      text: 'permit (principal, action, resource)\nwhen { resource.owner = principal.id };',
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toMatchObject({
      code: 'policy_invalid',
      detail: expect.stringMatching(/^line 2, column \d+: /),
    });
    expect(
      (
        await call(owner, 'PUT', '/api/v1/admin/policies/two', {
          text: 'permit (principal, action, resource); forbid (principal, action, resource);',
        })
      ).json().detail,
    ).toContain('one policy per entry');

    const save = (name: string, text: string, enabled = true) =>
      call(owner, 'PUT', `/api/v1/admin/policies/${name}`, { text, enabled });

    // Checked against the schema too: each mistake a 400 that points at it, nothing saved.
    const schemaProblem = async (text: string) => {
      const refused = await save('mistaken', text);
      expect(refused.statusCode, refused.body).toBe(400);
      expect(refused.json().code).toBe('policy_invalid');
      return refused.json().detail as string;
    };
    expect(await schemaProblem('permit (principal, action == Action::"notes:edti", resource);')).toMatch(
      /^line 1, column \d+: .*notes:edti/,
    );
    expect(
      await schemaProblem(
        'permit (principal, action == Action::"notes:edit", resource)\nwhen { resource.colour == "red" };',
      ),
    ).toMatch(/^line 2, column \d+: .*colour/);
    // Declared but optional: read only after `has`, so a check without it cannot turn the policy into an error.
    expect(
      await schemaProblem(
        'permit (principal, action == Action::"notes:edit", resource) when { resource.owner == principal.id };',
      ),
    ).toMatch(/owner/);
    expect(
      await schemaProblem('forbid (principal, action, resource) when { context.hour == "noon" };'),
    ).toMatch(/^line 1, column \d+: /);
    expect((await call(owner, 'GET', '/api/v1/admin/policies/mistaken')).statusCode).toBe(404);
    const schema = (await call(owner, 'GET', '/api/v1/admin/policy-schema')).json().schema;
    expect(Object.keys(schema[''].actions)).toEqual(expect.arrayContaining(['notes:edit', 'payroll:run']));
    expect(schema[''].entityTypes.Resource.shape.attributes.owner).toMatchObject({ type: 'String' });

    expect(
      (
        await save(
          'owner-edits',
          'permit (principal, action == Action::"notes:edit", resource) when { resource has owner && resource.owner == principal.id };',
        )
      ).statusCode,
    ).toBe(200);
    expect(
      (
        await save(
          'payroll-office-hours',
          'forbid (principal, action == Action::"payroll:run", resource) when { context.hour < 8 || context.hour >= 18 };',
        )
      ).statusCode,
    ).toBe(200);
    expect(
      (
        await save(
          'payroll-office-network',
          'forbid (principal, action == Action::"payroll:run", resource) when { context has ip && !context.ip.isInRange(ip("10.0.0.0/8")) };',
        )
      ).statusCode,
    ).toBe(200);
    expect(
      (
        await save(
          'payroll-second-factor',
          'forbid (principal, action == Action::"payroll:run", resource) unless { context has acr && context.acr >= 2 };',
        )
      ).statusCode,
    ).toBe(200);
    expect(
      (
        await save(
          'writers-read-docs',
          'permit (principal, action == Action::"docs:read", resource) when { principal.groups.contains("writers") };',
        )
      ).statusCode,
    ).toBe(200);

    // Ownership grants what no role does.
    const own = await decide('notes:edit', { resource: { id: 'note-1', owner: pia.id } });
    expect(own).toMatchObject({ allowed: true, matchedPolicies: ['owner-edits'] });
    expect(own.reasons).toContain('policy owner-edits permits it');
    expect((await decide('notes:edit', { resource: { id: 'note-2', owner: 'someone-else' } })).allowed).toBe(
      false,
    );
    // Group membership as an attribute.
    expect((await decide('docs:read')).allowed).toBe(true);

    // The role allows payroll; time, network and assurance restrict it.
    const good = { hour: 10, ip: '10.1.2.3', acr: 2 };
    expect((await decide('payroll:run', { context: good })).allowed).toBe(true);
    const late = await decide('payroll:run', { context: { ...good, hour: 20 } });
    expect(late).toMatchObject({ allowed: false, matchedPolicies: ['payroll-office-hours'] });
    expect(late.reasons).toContain('policy payroll-office-hours forbids it');
    expect((await decide('payroll:run', { context: { ...good, ip: '8.8.8.8' } })).matchedPolicies).toEqual([
      'payroll-office-network',
    ]);
    expect((await decide('payroll:run', { context: { ...good, acr: 1 } })).matchedPolicies).toEqual([
      'payroll-second-factor',
    ]);

    // Trying a change first: the decision as if saved, nothing saved.
    const trial = await call(owner, 'POST', '/api/v1/admin/policies/test', {
      policy: {
        name: 'payroll-office-hours',
        text: 'forbid (principal, action == Action::"payroll:run", resource) when { context.hour < 6 || context.hour >= 22 };',
      },
      request: {
        subject: { type: 'user', id: pia.id },
        action: 'payroll:run',
        context: { ...good, hour: 20 },
      },
    });
    expect(trial.statusCode, trial.body).toBe(200);
    expect(trial.json().allowed).toBe(true);
    expect((await decide('payroll:run', { context: { ...good, hour: 20 } })).allowed).toBe(false);

    // Saving makes a new version and takes effect at the next check; the old one is kept.
    await save(
      'payroll-office-hours',
      'forbid (principal, action == Action::"payroll:run", resource) when { context.hour < 6 || context.hour >= 22 };',
    );
    expect((await decide('payroll:run', { context: { ...good, hour: 20 } })).allowed).toBe(true);
    const history = (await call(owner, 'GET', '/api/v1/admin/policies/payroll-office-hours')).json().policy;
    expect(history.version).toBe(2);
    expect(history.versions.map((version: { version: number }) => version.version)).toEqual([2, 1]);
    expect(harness.logs.text).toContain('"securityEvent":"policy.changed"');

    // A disabled policy does not apply; a deleted one is gone.
    await save(
      'payroll-second-factor',
      'forbid (principal, action == Action::"payroll:run", resource) unless { context has acr && context.acr >= 2 };',
      false,
    );
    expect((await decide('payroll:run', { context: { ...good, acr: 1 } })).allowed).toBe(true);
    expect((await call(owner, 'DELETE', '/api/v1/admin/policies/owner-edits')).statusCode).toBe(204);
    expect((await decide('notes:edit', { resource: { id: 'note-1', owner: pia.id } })).allowed).toBe(false);
  });

  it('pages through lists', async () => {
    const first = await call(owner, 'GET', '/api/v1/admin/roles?limit=2');
    const second = await call(owner, 'GET', '/api/v1/admin/roles?limit=2&offset=2');
    expect(first.json().roles).toHaveLength(2);
    expect(second.json().roles).toHaveLength(2);
    const names = [...first.json().roles, ...second.json().roles].map((role: { name: string }) => role.name);
    expect(new Set(names).size).toBe(4);
    expect((await call(owner, 'GET', '/api/v1/admin/roles?limit=0')).statusCode).toBe(400);
    // Policies page the same way (four are left from the policy test above).
    const policyNames = async (offset: number) =>
      (
        (await call(owner, 'GET', `/api/v1/admin/policies?limit=2&offset=${offset}`)).json().policies as {
          name: string;
        }[]
      ).map((policy) => policy.name);
    const [front, back] = [await policyNames(0), await policyNames(2)];
    expect(front).toHaveLength(2);
    expect(back).toHaveLength(2);
    expect(new Set([...front, ...back]).size).toBe(4);
  });
});

/** Resolves when `app` next hears of an authorization change (subscribed before the change is made). */
async function nextChange(app: TestApp['app']): Promise<{ arrived: Promise<void> }> {
  let heard!: () => void;
  const arrival = new Promise<void>((resolve) => {
    heard = resolve;
  });
  const unsubscribe = await app.services.pubsub.subscribe('authz.changed', () => heard());
  // Wrapped: an async function returning a promise would wait for it.
  return { arrived: arrival.finally(() => unsubscribe()) };
}
