import * as oidc from 'openid-client';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signedInAccount } from './helpers/accounts.js';
import { MultiOriginAgent } from './helpers/agent.js';
import { closeTestApp, freePort, listenTestApp, type TestApp } from './helpers/app.js';
import { describeEachDialect } from './helpers/dialects.js';
import { startGitHubStub, startUpstreamOidc } from './helpers/upstream.js';

const PASSWORD = 'violet-harbor-lantern-42';
const CLIENT = { clientId: 'gatehouse', clientSecret: 'upstream-client-secret-for-tests' };

/**
 * Federation end to end, on real sockets: Gatehouse (localhost) signs people in through a second oidc-provider
 * (127.0.0.1) and a GitHub-shaped OAuth 2.0 stub, with openid-client doing the protocol.
 */
describeEachDialect('federated sign-in', (testDatabase, dialect) => {
  let harness: TestApp & { baseUrl: string };
  let upstream: Awaited<ReturnType<typeof startUpstreamOidc>>;
  let github: Awaited<ReturnType<typeof startGitHubStub>>;
  let closedPort: number;
  const mail = (name: string) => `${name}-${dialect}@example.com`;

  beforeAll(async () => {
    const port = await freePort();
    closedPort = await freePort();
    const callback = (slug: string) => `http://localhost:${port}/login/federated/${slug}/callback`;
    upstream = await startUpstreamOidc({
      ...CLIENT,
      redirectUris: [callback('corp'), callback('strict'), callback('keeper'), callback('added')],
      people: [
        { sub: 'new-person', email: mail('newcomer'), email_verified: true, name: 'New Comer' },
        { sub: 'owner', email: mail('owner'), email_verified: true, name: 'Owner' },
        { sub: 'unverified', email: mail('victim'), email_verified: false },
        { sub: 'auditor', email: mail('auditor'), email_verified: true, groups: ['audit-team'] },
        { sub: 'mfa', email: mail('mfa'), email_verified: true },
        { sub: 'no-email' },
      ],
    });
    github = await startGitHubStub(CLIENT);
    const oidcProvider = (slug: string, extra: Record<string, unknown> = {}) => ({
      slug,
      name: `Corp ${slug}`,
      issuer: upstream.issuer,
      ...CLIENT,
      ...extra,
    });
    harness = await listenTestApp(testDatabase().url, {
      server: { port },
      federation: {
        allowInsecureIssuers: true,
        providers: [
          oidcProvider('corp', {
            autoLink: true,
            scopes: ['openid', 'email', 'profile', 'groups'],
            mapping: { groups: 'groups', roles: { 'audit-team': 'auditor' } },
          }),
          oidcProvider('strict'),
          oidcProvider('keeper', { keepTokens: true, allowSignup: true }),
          { slug: 'github', name: 'GitHub', preset: 'github', ...CLIENT, endpoints: github.endpoints },
          oidcProvider('down', { issuer: `http://127.0.0.1:${closedPort}` }),
        ],
      },
    });
  });
  afterAll(async () => {
    await closeTestApp(harness);
    await upstream?.close();
    await github?.close();
  });

  const db = () => harness.app.gatehouse.database.db;
  const events = async (name: string) => {
    await harness.app.services.auditWriter.flush();
    return db().selectFrom('audit_events').selectAll().where('name', '=', name).orderBy('seq').execute();
  };
  const signUp = async (email: string) => {
    const created = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email, password: PASSWORD },
    });
    expect(created.statusCode, created.body).toBe(201);
    return created.json().user.id as string;
  };
  /** Starts at Gatehouse, goes through the upstream provider, and stops at the first page Gatehouse shows. */
  const signInThrough = async (agent: MultiOriginAgent, slug: string, next = '/account') =>
    agent.follow(
      `${harness.baseUrl}/login/federated/${slug}?next=${encodeURIComponent(next)}`,
      {},
      (url) => url.origin === harness.baseUrl && !url.pathname.startsWith('/login/federated/'),
    );
  const me = async (agent: MultiOriginAgent) => {
    const response = await agent.request(`${harness.baseUrl}/api/v1/me`);
    return { status: response.status, body: response.status === 200 ? JSON.parse(response.body) : undefined };
  };

  it('offers the providers on the sign-in page and in the API', async () => {
    const page = await fetch(`${harness.baseUrl}/login`).then((response) => response.text());
    expect(page).toContain('href="/login/federated/corp?next=%2Faccount"');
    expect(page).toContain('Continue with GitHub');
    const listed = await fetch(`${harness.baseUrl}/api/v1/auth/providers`).then((response) =>
      response.json(),
    );
    expect(listed.providers.map((provider: { slug: string }) => provider.slug)).toEqual([
      'corp',
      'strict',
      'keeper',
      'github',
      'down',
    ]);
  });

  it('creates an account at the first sign-in, and finds it again at the next', async () => {
    upstream.signInAs('new-person');
    const agent = new MultiOriginAgent();
    const first = await signInThrough(agent, 'corp', '/account/security');
    // Through the provider (PKCE, state and nonce on the way) and back with a session.
    expect(first.visited.some((url) => url.startsWith(upstream.issuer))).toBe(true);
    expect(first.url).toBe(`${harness.baseUrl}/account/security`);
    const signedIn = await me(agent);
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.user).toMatchObject({
      email: mail('newcomer'),
      emailVerified: true,
      name: 'New Comer',
    });
    expect(signedIn.body.session.amr).toEqual(['fed']);
    const userId = signedIn.body.user.id as string;
    const authorizationRequest = new URL(
      first.visited.find((url) => url.startsWith(`${upstream.issuer}/auth`))!,
    );
    expect(authorizationRequest.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorizationRequest.searchParams.get('state')).toBeTruthy();
    expect(authorizationRequest.searchParams.get('nonce')).toBeTruthy();

    const again = new MultiOriginAgent();
    await signInThrough(again, 'corp');
    expect((await me(again)).body.user.id).toBe(userId);
    const users = await db().selectFrom('users').select('id').where('email', '=', mail('newcomer')).execute();
    expect(users).toHaveLength(1);
    const [created] = await events('user.created');
    expect(JSON.parse(created!.details!)).toMatchObject({ via: 'federation', provider: 'corp' });
    const logins = (await events('auth.login.succeeded')).filter((event) => event.target_id === userId);
    expect(logins).toHaveLength(2);
    expect(JSON.parse(logins[0]!.details!).amr).toEqual(['fed']);
  });

  it('links automatically only when the provider allows it and vouches for the address', async () => {
    const ownerId = await signUp(mail('owner'));
    upstream.signInAs('owner');
    const agent = new MultiOriginAgent();
    await signInThrough(agent, 'corp');
    expect((await me(agent)).body.user.id).toBe(ownerId);
    const [linked] = (await events('federation.identity.linked')).filter(
      (event) => event.target_id === ownerId,
    );
    expect(JSON.parse(linked!.details!)).toMatchObject({ provider: 'corp', method: 'verified_email' });

    // Same address, but the provider does not say it is verified: the account's owner must prove it first.
    const victimId = await signUp(mail('victim'));
    upstream.signInAs('unverified');
    const attacker = new MultiOriginAgent();
    const page = await signInThrough(attacker, 'corp');
    expect(page.status).toBe(200);
    expect(page.body).toContain('You already have an account');
    expect((await me(attacker)).status).toBe(401);
    const links = await db()
      .selectFrom('federated_identities')
      .selectAll()
      .where('user_id', '=', victimId)
      .execute();
    expect(links).toHaveLength(0);
  });

  it('links to an existing account once its owner signs in to it, when the provider does not link by itself', async () => {
    const ownerId = await signUp(mail('prover'));
    upstream.setPerson({ sub: 'prover', email: mail('prover'), email_verified: true });
    upstream.signInAs('prover');
    const agent = new MultiOriginAgent();
    const offered = await signInThrough(agent, 'strict');
    expect(offered.body).toContain('Sign in to connect');
    expect(offered.body).toContain(mail('prover'));

    // Without signing in, the link cannot be confirmed.
    const early = await agent.request(`${harness.baseUrl}/login/federated/connect`, {
      form: { confirm: 'yes' },
    });
    expect(early.status).toBe(303);
    expect(early.location).toContain('/login?next=');

    const signedIn = await agent.follow(`${harness.baseUrl}/login`, {
      form: { email: mail('prover'), password: PASSWORD, next: '/login/federated/connect' },
    });
    expect(signedIn.body).toContain('Connect Corp strict?');
    const confirmed = await agent.request(`${harness.baseUrl}/login/federated/connect`, {
      form: { confirm: 'yes' },
    });
    expect(confirmed.status).toBe(303);
    const [linked] = (await events('federation.identity.linked')).filter(
      (event) => event.target_id === ownerId,
    );
    expect(JSON.parse(linked!.details!)).toMatchObject({ provider: 'strict', method: 'proved_ownership' });

    // From now on the provider signs them straight in.
    const later = new MultiOriginAgent();
    await signInThrough(later, 'strict');
    expect((await me(later)).body.user.id).toBe(ownerId);
  });

  it('refuses a callback whose state, nonce or code was tampered with, or that is replayed', async () => {
    upstream.signInAs('new-person');
    const callbackOf = async (agent: MultiOriginAgent, tamper?: (url: URL) => void) => {
      const start = await agent.request(`${harness.baseUrl}/login/federated/corp`);
      const authorize = new URL(start.location!);
      tamper?.(authorize);
      const back = await agent.follow(authorize.toString(), {}, (url) => url.origin === harness.baseUrl);
      return new URL(back.url);
    };

    // State: the callback's state must be the one this browser's flow started with.
    const agent = new MultiOriginAgent();
    const callback = await callbackOf(agent);
    const forged = new URL(callback);
    forged.searchParams.set('state', 'forged-state');
    const refused = await agent.request(forged.toString());
    expect(refused.status).toBe(401);
    expect(refused.body).toContain('did not sign you in');
    expect((await me(agent)).status).toBe(401);

    // A callback without the flow cookie (another browser, or an attacker's link) is refused.
    const stranger = new MultiOriginAgent();
    const noFlow = await stranger.request(callback.toString());
    expect(noFlow.status).toBe(400);
    expect(noFlow.body).toContain('start again');

    // Nonce: a different nonce at the provider ends in an ID token openid-client refuses.
    const nonceAgent = new MultiOriginAgent();
    const nonceCallback = await callbackOf(nonceAgent, (url) =>
      url.searchParams.set('nonce', 'attacker-nonce'),
    );
    const nonceRefused = await nonceAgent.request(nonceCallback.toString());
    expect(nonceRefused.status).toBe(401);
    expect((await me(nonceAgent)).status).toBe(401);

    // PKCE: a code issued for another challenge is refused by the provider's token endpoint.
    const pkceAgent = new MultiOriginAgent();
    const pkceCallback = await callbackOf(pkceAgent, (url) =>
      url.searchParams.set('code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'),
    );
    expect((await pkceAgent.request(pkceCallback.toString())).status).toBe(401);

    // Replay: the same callback with the same cookie, after it succeeded once.
    const good = new MultiOriginAgent();
    const goodCallback = await callbackOf(good);
    const flowCookie =
      good.cookie(harness.baseUrl, 'gh_federation') ?? good.cookie(harness.baseUrl, '__Host-gh_federation');
    expect(flowCookie).toBeDefined();
    expect((await good.request(goodCallback.toString())).status).toBe(303);
    good.setCookie(harness.baseUrl, '__Host-gh_federation', flowCookie);
    good.setCookie(harness.baseUrl, 'gh_federation', flowCookie);
    const replayed = await good.request(goodCallback.toString());
    expect(replayed.status).toBe(400);

    const failures = (await events('federation.signin.failed')).map(
      (event) => JSON.parse(event.details!).reason,
    );
    expect(failures).toContain('no_flow');
    expect(failures).toContain('state_reused');
    expect(failures.some((reason: string) => /state/i.test(reason) && reason !== 'state_reused')).toBe(true);
    expect(failures.some((reason: string) => /nonce/i.test(reason))).toBe(true);
  });

  it('tells people clearly when the provider is down', async () => {
    const agent = new MultiOriginAgent();
    const page = await agent.request(`${harness.baseUrl}/login/federated/down`);
    expect(page.status).toBe(502);
    expect(page.body).toContain('could not be reached');
    expect(page.body).toContain('href="/login?next=');
    const [failure] = (await events('federation.signin.failed')).filter(
      (event) => JSON.parse(event.details!).provider === 'down',
    );
    expect(JSON.parse(failure!.details!).reason).toBe('discovery');
    const metrics = await fetch(`${harness.baseUrl}/metrics`).then((response) => response.text());
    expect(metrics).toMatch(
      /gatehouse_federation_signins_total\{provider="down",outcome="unavailable"\} [1-9]/,
    );
  });

  it('signs in through a GitHub-shaped OAuth 2.0 provider with the primary verified address', async () => {
    github.addUser({
      id: 4242,
      login: 'octo',
      name: null,
      avatar_url: 'https://avatars.example/4242',
      emails: [
        { email: mail('octo-old'), primary: false, verified: false },
        { email: mail('octo'), primary: true, verified: true },
      ],
    });
    github.signInAs(4242);
    const agent = new MultiOriginAgent();
    const done = await signInThrough(agent, 'github');
    expect(done.status).toBe(303);
    const signedIn = await me(agent);
    expect(signedIn.body.user).toMatchObject({ email: mail('octo'), emailVerified: true, name: 'octo' });
    const [identity] = await db()
      .selectFrom('federated_identities')
      .selectAll()
      .where('user_id', '=', signedIn.body.user.id)
      .execute();
    expect(identity).toMatchObject({ provider_id: 'config:github', subject: '4242', email_verified: 1 });
  });

  it('asks for the second factor after the provider, as after a password', async () => {
    upstream.signInAs('mfa');
    const agent = new MultiOriginAgent();
    await signInThrough(agent, 'corp');
    const session = await agent.request(`${harness.baseUrl}/api/v1/me`);
    const csrf = JSON.parse(session.body).csrfToken as string;
    const started = await agent.request(`${harness.baseUrl}/api/v1/me/mfa/methods`, {
      json: { type: 'totp' },
      headers: { 'x-csrf-token': csrf },
    });
    const { method, totp } = JSON.parse(started.body);
    const code = () => TOTP.generate({ secret: Secret.fromBase32(totp.secret) });
    const verified = await agent.request(`${harness.baseUrl}/api/v1/me/mfa/methods/${method.id}/verify`, {
      json: { code: code() },
      headers: { 'x-csrf-token': csrf },
    });
    expect(verified.status, verified.body).toBe(200);

    const fresh = new MultiOriginAgent();
    const challenge = await signInThrough(fresh, 'corp', '/account/security');
    expect(challenge.status).toBe(200);
    expect(challenge.body).toContain('action="/login/mfa"');
    expect((await me(fresh)).status).toBe(401);
    const { backupCodes } = JSON.parse(verified.body) as { backupCodes: string[] };
    const done = await fresh.request(`${harness.baseUrl}/login/mfa`, {
      form: { code: backupCodes[0]!, next: '/account/security' },
    });
    expect(done.status).toBe(303);
    expect(done.location).toBe('/account/security');
    const after = await me(fresh);
    expect(after.body.session.amr).toEqual(expect.arrayContaining(['fed', 'mfa']));
    expect(after.body.session.acr).toBe('2');
  });

  it('maps upstream groups to roles at each sign-in, and takes them back when the group goes', async () => {
    upstream.signInAs('auditor');
    const agent = new MultiOriginAgent();
    await signInThrough(agent, 'corp');
    const userId = (await me(agent)).body.user.id as string;
    expect((await harness.app.services.authz.effectiveAccess(userId)).roles).toContain('auditor');

    upstream.setPerson({ sub: 'auditor', email: mail('auditor'), email_verified: true, groups: [] });
    await signInThrough(new MultiOriginAgent(), 'corp');
    expect((await harness.app.services.authz.effectiveAccess(userId)).roles).not.toContain('auditor');
    const synced = (await events('federation.roles.synced')).map((event) => JSON.parse(event.details!));
    expect(synced).toEqual([
      { provider: 'corp', added: ['auditor'], removed: [] },
      { provider: 'corp', added: [], removed: ['auditor'] },
    ]);
  });

  it('links and unlinks from the portal, never leaving an account without a way in', async () => {
    upstream.setPerson({ sub: 'portal', email: mail('portal'), email_verified: true });
    upstream.signInAs('portal');
    const agent = new MultiOriginAgent();
    await signInThrough(agent, 'corp');
    const session = await me(agent);
    const csrf = session.body.csrfToken as string;
    const api = (path: string, method = 'GET') =>
      agent.request(`${harness.baseUrl}${path}`, { method, headers: { 'x-csrf-token': csrf } });

    const [only] = JSON.parse((await api('/api/v1/me/identities')).body).identities;
    expect(only).toMatchObject({ providerSlug: 'corp', providerName: 'Corp corp', email: mail('portal') });
    // The account has no password and no passkey: this link is its only way in.
    const refused = await api(`/api/v1/me/identities/${only.id}`, 'DELETE');
    expect(refused.status).toBe(409);
    expect(JSON.parse(refused.body).code).toBe('federation_last_method');

    github.addUser({
      id: 77,
      login: 'portal',
      name: 'Portal',
      avatar_url: '',
      emails: [{ email: mail('gh-portal'), primary: true, verified: true }],
    });
    github.signInAs(77);
    const started = await api('/api/v1/me/identities/github/link', 'POST');
    expect(started.status, started.body).toBe(200);
    const back = await agent.follow(
      JSON.parse(started.body).url,
      {},
      (url) => url.origin === harness.baseUrl && url.pathname === '/account',
    );
    expect(back.stopped).toBe(true);
    const identities = JSON.parse((await api('/api/v1/me/identities')).body).identities;
    expect(identities.map((identity: { providerSlug: string }) => identity.providerSlug)).toEqual([
      'corp',
      'github',
    ]);

    expect((await api(`/api/v1/me/identities/${only.id}`, 'DELETE')).status).toBe(204);
    const [unlinked] = (await events('federation.identity.unlinked')).filter(
      (event) => event.target_id === session.body.user.id,
    );
    expect(JSON.parse(unlinked!.details!)).toMatchObject({ provider: 'corp' });

    // Someone else's GitHub account cannot be linked here once it belongs to another account.
    const other = new MultiOriginAgent();
    upstream.setPerson({ sub: 'other', email: mail('other'), email_verified: true });
    upstream.signInAs('other');
    await signInThrough(other, 'corp');
    const otherCsrf = (await me(other)).body.csrfToken as string;
    const link = await other.request(`${harness.baseUrl}/api/v1/me/identities/github/link`, {
      method: 'POST',
      headers: { 'x-csrf-token': otherCsrf },
    });
    const taken = await other.follow(
      JSON.parse(link.body).url,
      {},
      (url) => url.origin === harness.baseUrl && url.pathname === '/account',
    );
    expect(taken.status).toBe(409);
    expect(taken.body).toContain('already linked to another account');
  });

  it('keeps upstream tokens only when asked, sealed by the keyring', async () => {
    upstream.setPerson({ sub: 'keeper', email: mail('keeper'), email_verified: true });
    upstream.signInAs('keeper');
    const agent = new MultiOriginAgent();
    await signInThrough(agent, 'keeper');
    const userId = (await me(agent)).body.user.id as string;
    const [row] = await db()
      .selectFrom('federated_identities')
      .selectAll()
      .where('user_id', '=', userId)
      .execute();
    expect(row!.tokens).toMatch(/^v2\./);
    const tokens = (await harness.app.services.federation.upstreamTokens(userId, row!.id)) as {
      accessToken: string;
    };
    expect(tokens.accessToken.length).toBeGreaterThan(20);
    expect(row!.tokens).not.toContain(tokens.accessToken);
    const corp = await db()
      .selectFrom('federated_identities')
      .select('tokens')
      .where('provider_id', '=', 'config:corp')
      .execute();
    expect(corp.every((identity) => identity.tokens === null)).toBe(true);
  });

  it('lets administrators add, change and remove providers; configured ones are read-only', async () => {
    const admin = await signedInAccount(harness.app, 'federation-admin', dialect);
    await harness.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
    const user = await signedInAccount(harness.app, 'federation-user', dialect);
    const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object, who = admin) =>
      harness.app.inject({ method, url, headers: who.headers, ...(payload ? { payload } : {}) });
    // The upstream client's real secret: the sign-in below shows it was stored and read back correctly.
    const { clientSecret: secret } = CLIENT;
    const definition = {
      slug: 'added',
      name: 'Added IdP',
      issuer: upstream.issuer,
      clientId: CLIENT.clientId,
    };

    expect((await call('POST', '/api/v1/admin/identity-providers', definition, user)).statusCode).toBe(403);
    const incomplete = await call('POST', '/api/v1/admin/identity-providers', {
      ...definition,
      issuer: undefined,
    });
    expect(incomplete.statusCode).toBe(400);
    expect(incomplete.json()).toMatchObject({ code: 'federation_provider_invalid' });
    expect(incomplete.json().detail).toContain('issuer is required');
    const clash = await call('POST', '/api/v1/admin/identity-providers', { ...definition, slug: 'corp' });
    expect(clash.statusCode).toBe(409);

    const created = await call('POST', '/api/v1/admin/identity-providers', {
      ...definition,
      clientSecret: secret,
      allowSignup: false,
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.body).not.toContain(secret);
    const provider = created.json().provider;
    expect(provider).toMatchObject({
      slug: 'added',
      protocol: 'oidc',
      source: 'database',
      hasClientSecret: true,
      autoLink: false,
      allowSignup: false,
      callbackUrl: `${harness.baseUrl}/login/federated/added/callback`,
    });
    const [row] = await db()
      .selectFrom('identity_providers')
      .selectAll()
      .where('id', '=', provider.id)
      .execute();
    expect(row!.secret).toMatch(/^v2\./);
    expect(row!.secret).not.toContain(secret);

    const renamed = await call('PATCH', `/api/v1/admin/identity-providers/${provider.id}`, {
      name: 'Renamed IdP',
    });
    // What a change leaves out stays as it was (no defaults filled in).
    expect(renamed.json().provider).toMatchObject({
      name: 'Renamed IdP',
      hasClientSecret: true,
      allowSignup: false,
    });
    const reopened = await call('PATCH', `/api/v1/admin/identity-providers/${provider.id}`, {
      allowSignup: true,
    });
    expect(reopened.json().provider).toMatchObject({ name: 'Renamed IdP', allowSignup: true });
    const configured = await call('PATCH', '/api/v1/admin/identity-providers/corp', { name: 'Nope' });
    expect(configured.statusCode).toBe(409);
    expect(configured.json().code).toBe('federation_provider_read_only');
    expect((await call('DELETE', '/api/v1/admin/identity-providers/corp')).statusCode).toBe(409);

    // A provider from the database signs people in like a configured one (discovery, secret from the keyring).
    upstream.setPerson({ sub: 'db-person', email: mail('db-person'), email_verified: true });
    upstream.signInAs('db-person');
    const agent = new MultiOriginAgent();
    const viaDatabase = await signInThrough(agent, 'added');
    expect(viaDatabase.status).toBe(303);
    expect((await me(agent)).body.user.email).toBe(mail('db-person'));

    expect((await call('DELETE', `/api/v1/admin/identity-providers/${provider.id}`)).statusCode).toBe(204);
    expect((await call('GET', `/api/v1/admin/identity-providers/${provider.id}`)).statusCode).toBe(404);
    const links = await db()
      .selectFrom('federated_identities')
      .select('id')
      .where('provider_id', '=', provider.id)
      .execute();
    expect(links).toHaveLength(0);
    const names = (await events('federation.provider.created'))
      .concat(await events('federation.provider.updated'), await events('federation.provider.deleted'))
      .map((event) => [event.name, JSON.parse(event.details!).slug]);
    expect(names).toEqual([
      ['federation.provider.created', 'added'],
      ['federation.provider.updated', 'added'],
      ['federation.provider.updated', 'added'],
      ['federation.provider.deleted', 'added'],
    ]);
    expect(JSON.stringify(names)).not.toContain(secret);
  });

  it('signs in through a provider in the middle of an OAuth authorization, and back to the app', async () => {
    const admin = await signedInAccount(harness.app, 'oauth-admin', dialect);
    await harness.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
    const redirectUri = 'https://app.example.com/callback';
    const registered = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/admin/clients',
      headers: admin.headers,
      payload: {
        name: 'Example app',
        grants: ['authorization_code'],
        redirectUris: [redirectUri],
        firstParty: true,
      },
    });
    expect(registered.statusCode, registered.body).toBe(201);
    const { client, secret } = registered.json() as { client: { id: string }; secret: string };
    const config = await oidc.discovery(new URL(harness.baseUrl), client.id, secret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authorize = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      prompt: 'login',
    });
    const agent = new MultiOriginAgent();
    const signInPage = await agent.follow(authorize.toString());
    const button = /href="(\/login\/federated\/corp\?next=%2Foauth2%2Finteraction%2F[^"]+)"/.exec(
      signInPage.body,
    );
    expect(button, 'the interaction page offers the provider').not.toBeNull();
    upstream.signInAs('new-person');
    const back = await agent.follow(`${harness.baseUrl}${button![1]!.replaceAll('&amp;', '&')}`, {}, (url) =>
      url.toString().startsWith(redirectUri),
    );
    expect(back.stopped, JSON.stringify(back.visited)).toBe(true);
    // prompt=login was honoured by the sign-in through the provider, not by an older session.
    const callback = new URL(back.url);
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    const [newcomer] = await db()
      .selectFrom('users')
      .select('id')
      .where('email', '=', mail('newcomer'))
      .execute();
    expect(tokens.claims()).toMatchObject({ sub: newcomer!.id, amr: ['fed'] });
  });

  it('refuses a first sign-in without an e-mail address, with a clear message', async () => {
    upstream.signInAs('no-email');
    const page = await signInThrough(new MultiOriginAgent(), 'corp');
    expect(page.status).toBe(403);
    expect(page.body).toContain('did not share an e-mail address');
  });
});
