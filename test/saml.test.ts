import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSigningCertificate } from '../src/modules/saml/idp.js';
import { signedRedirect } from '../src/modules/saml/test-support.js';
import type { Dialect } from '../src/platform/db/connection.js';
import { signedInAccount } from './helpers/accounts.js';
import { MultiOriginAgent } from './helpers/agent.js';
import { closeTestApp, listenTestApp, type TestApp } from './helpers/app.js';
import { createTestDatabase, describeEachDialect, type TestDatabase } from './helpers/dialects.js';

const PASSWORD = 'violet-harbor-lantern-42';

/** A response whose body has been read, so its connection goes back to the pool rather than staying busy. */
async function drained(pending: Promise<Response>) {
  const response = await pending;
  await response.arrayBuffer();
  return response;
}

/** The hidden fields and action of the self-submitting form an identity provider answers with. */
function postedForm(html: string) {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const field = (name: string) =>
    new RegExp(`name="${name}" value="([^"]*)"`)
      .exec(html)?.[1]
      ?.replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code)));
  if (!action) throw new Error(`no form in ${html.slice(0, 300)}`);
  const form: Record<string, string> = { SAMLResponse: field('SAMLResponse')! };
  const relayState = field('RelayState');
  if (relayState !== undefined) form.RelayState = relayState;
  return { action: action.replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code))), form };
}

/**
 * SAML end to end between two Gatehouse instances: "idp" is the identity provider for an app, "sp" has an
 * enterprise connection to it (from its metadata URL). Each on its own database, one of each dialect.
 */
describeEachDialect('SAML single sign-on between two Gatehouse instances', (testDatabase, dialect) => {
  let sp: TestApp & { baseUrl: string };
  let idp: TestApp & { baseUrl: string };
  let idpDatabase: TestDatabase;
  let spAdmin: Awaited<ReturnType<typeof signedInAccount>>;
  let connectionId: string;
  let appId: string;
  let organizationId: string;
  const mail = (name: string, domain = 'example.com') => `${name}-${dialect}@${domain}`;

  beforeAll(async () => {
    idpDatabase = await createTestDatabase((dialect === 'sqlite' ? 'postgres' : 'sqlite') as Dialect);
    sp = await listenTestApp(testDatabase().url);
    idp = await listenTestApp(idpDatabase.url);
    spAdmin = await signedInAccount(sp.app, 'sp-admin', dialect);
    await sp.app.services.authz.assign({ type: 'user', id: spAdmin.id }, 'admin', {});
    const idpAdmin = await signedInAccount(idp.app, 'idp-admin', dialect);
    await idp.app.services.authz.assign({ type: 'user', id: idpAdmin.id }, 'admin', {});

    const organization = await sp.app.inject({
      method: 'POST',
      url: '/api/v1/admin/organizations',
      headers: spAdmin.headers,
      payload: { name: 'Acme', slug: 'acme' },
    });
    expect(organization.statusCode, organization.body).toBe(201);
    organizationId = organization.json().organization.id;

    const registered = await idp.app.inject({
      method: 'POST',
      url: '/api/v1/admin/saml/apps',
      headers: idpAdmin.headers,
      payload: {
        name: 'Acme at the SP',
        entityId: `${sp.baseUrl}/saml/acme/metadata`,
        acsUrl: `${sp.baseUrl}/saml/acme/acs`,
        attributes: { email: 'email', displayName: 'name', memberOf: 'roles' },
      },
    });
    expect(registered.statusCode, registered.body).toBe(201);
    appId = registered.json().app.id;

    const connected = await sp.app.inject({
      method: 'POST',
      url: '/api/v1/admin/saml/connections',
      headers: spAdmin.headers,
      payload: {
        slug: 'acme',
        name: 'Acme SSO',
        organizationId: 'acme',
        metadataUrl: `${idp.baseUrl}/saml/idp/metadata`,
        domains: ['example.com'],
        autoLink: true,
        mapping: { name: 'displayName', groups: 'memberOf', roles: { admin: 'auditor' } },
      },
    });
    expect(connected.statusCode, connected.body).toBe(201);
    connectionId = connected.json().connection.id;
    expect(connected.json().connection).toMatchObject({
      acsUrl: `${sp.baseUrl}/saml/acme/acs`,
      idp: { entityId: `${idp.baseUrl}/saml/idp/metadata`, ssoUrl: `${idp.baseUrl}/saml/idp/sso` },
    });
  });
  afterAll(async () => {
    await closeTestApp(sp);
    await closeTestApp(idp);
    await idpDatabase?.drop();
  });

  const idpPerson = async (name: string, domain?: string) => {
    const email = mail(name, domain);
    const created = await idp.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email, password: PASSWORD, name: `${name} person` },
    });
    expect(created.statusCode, created.body).toBe(201);
    return email;
  };
  const spEvents = async (name: string) => {
    await sp.app.services.auditWriter.flush();
    return sp.app.gatehouse.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('name', '=', name)
      .orderBy('seq')
      .execute();
  };
  /** SP-initiated: from the SP's sign-in link to the IdP's answer (a form the browser would post back). */
  const signInAtIdp = async (agent: MultiOriginAgent, email: string, next = '/account') => {
    const login = await agent.follow(`${sp.baseUrl}/login/saml/acme?next=${encodeURIComponent(next)}`);
    expect(login.url).toBe(`${idp.baseUrl}/login?next=%2Fsaml%2Fidp%2Fcontinue`);
    const answered = await agent.follow(`${idp.baseUrl}/login`, {
      form: { email, password: PASSWORD, next: '/saml/idp/continue' },
    });
    expect(answered.status, answered.body.slice(0, 500)).toBe(200);
    return postedForm(answered.body);
  };
  const me = async (agent: MultiOriginAgent) => {
    const response = await agent.request(`${sp.baseUrl}/api/v1/me`);
    return response.status === 200 ? JSON.parse(response.body) : undefined;
  };

  it('publishes metadata on both sides', async () => {
    const spMetadata = await fetch(`${sp.baseUrl}/saml/acme/metadata`).then((response) => response.text());
    expect(spMetadata).toContain(`entityID="${sp.baseUrl}/saml/acme/metadata"`);
    expect(spMetadata).toContain(`Location="${sp.baseUrl}/saml/acme/acs"`);
    const idpMetadata = await fetch(`${idp.baseUrl}/saml/idp/metadata`).then((response) => response.text());
    expect(idpMetadata).toContain('<ds:X509Certificate>');
    expect(idpMetadata).toContain(`Location="${idp.baseUrl}/saml/idp/sso"`);
  });

  it('signs a person in from the app (SP-initiated), links by domain, and makes them a member', async () => {
    const email = await idpPerson('alice');
    const agent = new MultiOriginAgent();
    const { action, form } = await signInAtIdp(agent, email, '/account/security');
    expect(action).toBe(`${sp.baseUrl}/saml/acme/acs`);
    expect(form.RelayState).toBe('/account/security');
    const posted = await agent.request(action, { form, headers: { origin: idp.baseUrl } });
    expect(posted.status, posted.body.slice(0, 500)).toBe(303);
    expect(posted.location).toBe('/account/security');
    const signedIn = await me(agent);
    expect(signedIn.user).toMatchObject({ email, emailVerified: true, name: 'alice person' });
    expect(signedIn.session.amr).toEqual(['fed']);
    const membership = await sp.app.services.organizations.membership(organizationId, signedIn.user.id);
    expect(membership?.member).toBe(true);
    const [linked] = await spEvents('federation.identity.linked');
    expect(JSON.parse(linked!.details!)).toMatchObject({ provider: 'acme', method: 'signup' });

    // The same response again is a replay, whoever posts it.
    const replayed = await new MultiOriginAgent().request(action, { form });
    expect(replayed.status).toBe(401);
    const failures = (await spEvents('federation.signin.failed')).map(
      (event) => JSON.parse(event.details!).reason,
    );
    expect(failures).toContain('saml_replay');
  });

  it('refuses unsolicited responses unless the connection allows them, then accepts them', async () => {
    const email = await idpPerson('bob');
    const agent = new MultiOriginAgent();
    await agent.follow(`${idp.baseUrl}/login`, { form: { email, password: PASSWORD, next: '/account' } });
    const first = postedForm((await agent.request(`${idp.baseUrl}/saml/idp/apps/${appId}/start`)).body);
    const refused = await agent.request(first.action, { form: first.form });
    expect(refused.status).toBe(401);
    expect(
      (await spEvents('federation.signin.failed')).map((event) => JSON.parse(event.details!).reason),
    ).toContain('saml_unsolicited');

    const allowed = await sp.app.inject({
      method: 'PATCH',
      url: `/api/v1/admin/saml/connections/${connectionId}`,
      headers: spAdmin.headers,
      payload: { allowIdpInitiated: true },
    });
    expect(allowed.statusCode, allowed.body).toBe(200);
    const second = postedForm((await agent.request(`${idp.baseUrl}/saml/idp/apps/${appId}/start`)).body);
    expect((await agent.request(second.action, { form: second.form })).status).toBe(303);
    expect((await me(agent)).user.email).toBe(email);
  });

  it('refuses addresses outside the connection’s domains', async () => {
    const email = await idpPerson('mallory', 'elsewhere.test');
    const agent = new MultiOriginAgent();
    const { action, form } = await signInAtIdp(agent, email);
    const refused = await agent.request(action, { form });
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('does not belong to the connection');
  });

  it('refuses a response whose signed content was changed on the way', async () => {
    const email = await idpPerson('carol');
    const agent = new MultiOriginAgent();
    const { action, form } = await signInAtIdp(agent, email);
    const xml = Buffer.from(form.SAMLResponse!, 'base64').toString('utf8');
    const tampered = xml.replace(email, mail('ceo'));
    expect(tampered).not.toBe(xml);
    const refused = await agent.request(action, {
      form: { ...form, SAMLResponse: Buffer.from(tampered).toString('base64') },
    });
    expect(refused.status).toBe(401);
    expect(await me(agent)).toBeUndefined();
    expect(
      (await spEvents('federation.signin.failed')).map((event) => JSON.parse(event.details!).reason),
    ).toContain('saml_signature_invalid');
  });

  it('ends the person’s sessions when their identity provider sends a signed LogoutRequest', async () => {
    // A second connection to an IdP whose key the test holds, so it can sign the LogoutRequest itself.
    const signing = createSigningCertificate({ commonName: 'slo-idp.example', validDays: 30 });
    const idpEntity = 'https://slo-idp.example/metadata';
    const created = await sp.app.inject({
      method: 'POST',
      url: '/api/v1/admin/saml/connections',
      headers: spAdmin.headers,
      payload: {
        slug: 'slo',
        name: 'SLO IdP',
        idp: {
          entityId: idpEntity,
          ssoUrl: 'https://slo-idp.example/sso',
          sloUrl: 'https://slo-idp.example/slo',
          certificates: [signing.certificatePem],
        },
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const person = await signedInAccount(sp.app, 'slo-person', dialect);
    await sp.app.gatehouse.database.db
      .insertInto('federated_identities')
      .values({
        id: `fi-${dialect}`,
        user_id: person.id,
        provider_id: created.json().connection.id,
        subject: 'slo-person@slo-idp.example',
        email: null,
        email_verified: 0,
        display_name: null,
        tokens: null,
        granted_roles: '[]',
        created_at: Date.now(),
        last_used_at: null,
      })
      .execute();
    const before = await sp.app.inject({ method: 'GET', url: '/api/v1/me', headers: person.headers });
    expect(before.statusCode).toBe(200);

    const xml =
      `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_slo-${dialect}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${sp.baseUrl}/saml/slo/slo">` +
      `<saml:Issuer>${idpEntity}</saml:Issuer><saml:NameID>slo-person@slo-idp.example</saml:NameID></samlp:LogoutRequest>`;
    const { rawQuery } = signedRedirect({
      messageKey: 'SAMLRequest',
      xml,
      relayState: 'from-idp',
      privateKeyPem: signing.privateKeyPem,
    });
    const answered = await drained(fetch(`${sp.baseUrl}/saml/slo/slo?${rawQuery}`, { redirect: 'manual' }));
    expect(answered.status).toBe(303);
    const location = new URL(answered.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe('https://slo-idp.example/slo');
    expect(location.searchParams.get('SAMLResponse')).toBeTruthy();
    const after = await sp.app.inject({ method: 'GET', url: '/api/v1/me', headers: person.headers });
    expect(after.statusCode).toBe(401);
    const [loggedOut] = await spEvents('saml.logout');
    expect(JSON.parse(loggedOut!.details!)).toMatchObject({ connection: 'slo', sessionsEnded: 1 });

    // The same request again is refused (single use), and an unsigned one too.
    expect(
      (await drained(fetch(`${sp.baseUrl}/saml/slo/slo?${rawQuery}`, { redirect: 'manual' }))).status,
    ).toBe(401);
    const unsigned = rawQuery.replace(/&SigAlg=[^&]*&Signature=[^&]*$/, '');
    expect(
      (await drained(fetch(`${sp.baseUrl}/saml/slo/slo?${unsigned}`, { redirect: 'manual' }))).status,
    ).toBe(401);
  });

  it('keeps the idp slug for its own endpoints, and lets a connection leave its organization', async () => {
    const taken = await sp.app.inject({
      method: 'POST',
      url: '/api/v1/admin/saml/connections',
      headers: spAdmin.headers,
      payload: { slug: 'idp', name: 'Clash', metadataUrl: `${idp.baseUrl}/saml/idp/metadata` },
    });
    expect(taken.statusCode).toBe(400);
    const detached = await sp.app.inject({
      method: 'PATCH',
      url: `/api/v1/admin/saml/connections/${connectionId}`,
      headers: spAdmin.headers,
      payload: { organizationId: null },
    });
    expect(detached.statusCode, detached.body).toBe(200);
    expect(detached.json().connection.organizationId).toBeUndefined();
    expect(detached.json().connection.domains).toEqual(['example.com']);
  });

  it('answers an unknown app, or one asking for another ACS, with a clear error at the IdP', async () => {
    const unknown = await drained(
      fetch(`${idp.baseUrl}/saml/idp/sso?SAMLRequest=${encodeURIComponent('not-a-request')}`, {
        redirect: 'manual',
      }),
    );
    expect(unknown.status).toBe(400);
  });
});
