import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isSamlError, type SamlError, samlFailure } from './errors.js';
import {
  createIdentityProvider,
  createSigningCertificate,
  type IdentityProviderSettings,
  type ServiceProviderApp,
} from './idp.js';
import {
  childElements,
  createServiceProvider,
  inflateSamlMessage,
  parseIdpMetadata,
  SAML_NAMESPACES,
  type ServiceProvider,
  type ServiceProviderSettings,
} from './sp.js';
import {
  decodeResponse,
  type MemorySamlStores,
  memorySamlStores,
  removeSignature,
  resignAssertion,
  signedRedirect,
  signResponseOnly,
  tamper,
  theAssertion,
  theChild,
  theSignature,
} from './test-support.js';

const P = SAML_NAMESPACES.protocol;
const A = SAML_NAMESPACES.assertion;
const DS = SAML_NAMESPACES.signature;

const T0 = Date.parse('2030-03-01T09:00:00Z');
const MINUTE = 60_000;
const IDP_ENTITY = 'https://idp.gatehouse.test/saml';
const SP_ENTITY = 'https://app.example.test/saml/metadata';
const ACS = 'https://app.example.test/saml/acs';
const SP_SLO = 'https://app.example.test/saml/slo';

const signing = createSigningCertificate({
  commonName: 'idp.gatehouse.test',
  validDays: 365,
  now: T0 - MINUTE,
});
const strangerSigning = createSigningCertificate({
  commonName: 'idp.gatehouse.test',
  validDays: 365,
  now: T0,
});

function gatehouseIdp(overrides: Partial<IdentityProviderSettings> = {}) {
  return createIdentityProvider({
    entityId: IDP_ENTITY,
    ssoUrl: `${IDP_ENTITY}/sso`,
    sloUrl: `${IDP_ENTITY}/slo`,
    signing,
    assertionLifetimeSeconds: 300,
    ...overrides,
  });
}

const idp = gatehouseIdp();
const app: ServiceProviderApp = { entityId: SP_ENTITY, acsUrl: ACS };
const user = {
  nameId: 'ada@example.test',
  sessionIndex: '_session-1',
  attributes: { email: 'ada@example.test', groups: ['admins', 'staff'] },
  authnInstant: T0 - 30_000,
};

function serviceProvider(
  overrides: Partial<ServiceProviderSettings> = {},
  metadataXml = idp.metadataXml(),
): { sp: ServiceProvider; stores: MemorySamlStores } {
  const stores = memorySamlStores();
  const sp = createServiceProvider(
    {
      spEntityId: SP_ENTITY,
      acsUrl: ACS,
      sloUrl: SP_SLO,
      idp: parseIdpMetadata(metadataXml),
      allowIdpInitiated: false,
      clockSkewMs: MINUTE,
      maxAssertionAgeMs: 5 * MINUTE,
      requestTtlMs: 10 * MINUTE,
      ...overrides,
    },
    stores,
  );
  return { sp, stores };
}

/** The SP asks, the Gatehouse IdP answers the AuthnRequest it parsed out of the redirect URL. */
async function solicitedResponse(
  sp: ServiceProvider,
  answer: Partial<Parameters<typeof idp.buildResponse>[0]> = {},
  answeringIdp = idp,
): Promise<string> {
  const { url } = await sp.authorizeUrl('relay-1');
  const request = answeringIdp.parseAuthnRequest(
    { SAMLRequest: new URL(url).searchParams.get('SAMLRequest')! },
    'redirect',
  );
  return answeringIdp.buildResponse({ app, inResponseTo: request.id, ...user, ...answer });
}

async function refusal(attempt: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof attempt === 'function' ? attempt() : attempt);
  } catch (error) {
    const code = samlFailure(error);
    if (code) return code;
    throw error;
  }
  throw new Error('the message was accepted');
}

function setText(element: Element, text: string): void {
  while (element.firstChild) element.removeChild(element.firstChild);
  element.appendChild(element.ownerDocument.createTextNode(text));
}

function nameIdOf(assertion: Element): Element {
  return theChild(theChild(assertion, A, 'Subject'), A, 'NameID');
}

function confirmationDataOf(assertion: Element): Element {
  return theChild(
    theChild(theChild(assertion, A, 'Subject'), A, 'SubjectConfirmation'),
    A,
    'SubjectConfirmationData',
  );
}

/** An Extensions element in its schema position (after the Issuer), to hide things in. */
function addExtensions(response: Element): Element {
  const extensions = response.ownerDocument.createElementNS(P, 'samlp:Extensions');
  response.insertBefore(extensions, theChild(response, P, 'Status'));
  return extensions;
}

const iso = (milliseconds: number) => new Date(milliseconds).toISOString();

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('IdP metadata', () => {
  it("reads the Gatehouse IdP's own metadata", () => {
    const descriptor = parseIdpMetadata(idp.metadataXml());
    expect(descriptor).toEqual({
      entityId: IDP_ENTITY,
      ssoUrl: `${IDP_ENTITY}/sso`,
      sloUrl: `${IDP_ENTITY}/slo`,
      certificates: [new X509Certificate(signing.certificatePem).toString()],
    });
  });

  const cert = (pem: string) => new X509Certificate(pem).raw.toString('base64');
  const keyDescriptor = (pem: string, use?: string) =>
    `<md:KeyDescriptor${use ? ` use="${use}"` : ''}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${cert(pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
  const entities = (idpDescriptor: string) =>
    `<md:EntitiesDescriptor xmlns:md="${SAML_NAMESPACES.metadata}" xmlns:ds="${DS}">` +
    `<md:EntityDescriptor entityID="https://sp.other.test"><md:SPSSODescriptor protocolSupportEnumeration="${P}"/></md:EntityDescriptor>` +
    `<md:EntityDescriptor entityID="https://idp.other.test">${idpDescriptor}</md:EntityDescriptor>` +
    '</md:EntitiesDescriptor>';

  it('takes the first IdP of an EntitiesDescriptor, its signing keys only, and falls back to HTTP-POST', () => {
    const descriptor = parseIdpMetadata(
      entities(
        `<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol ${P}">` +
          keyDescriptor(signing.certificatePem, 'signing') +
          keyDescriptor(strangerSigning.certificatePem, 'encryption') +
          `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.other.test/slo"/>` +
          `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.other.test/sso"/>` +
          '</md:IDPSSODescriptor>',
      ),
    );
    expect(descriptor).toEqual({
      entityId: 'https://idp.other.test',
      ssoUrl: 'https://idp.other.test/sso',
      sloUrl: undefined,
      certificates: [new X509Certificate(signing.certificatePem).toString()],
    });
  });

  it('counts a KeyDescriptor without use as a signing key', () => {
    const descriptor = parseIdpMetadata(
      entities(
        `<md:IDPSSODescriptor protocolSupportEnumeration="${P}">${keyDescriptor(strangerSigning.certificatePem)}` +
          `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.other.test/sso"/>` +
          '</md:IDPSSODescriptor>',
      ),
    );
    expect(descriptor.certificates).toEqual([new X509Certificate(strangerSigning.certificatePem).toString()]);
  });

  it.each([
    [
      'a DOCTYPE',
      `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${idp.metadataXml().replace(/^<\?xml[^>]*>/, '')}`,
    ],
    ['no XML at all', 'this is not metadata'],
    [
      'broken XML',
      '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"><md:IDPSSODescriptor>',
    ],
    [
      'only a service provider',
      entities('').replace(
        /<md:EntityDescriptor entityID="https:\/\/idp.other.test"><\/md:EntityDescriptor>/,
        '',
      ),
    ],
    ['no signing certificate', idp.metadataXml().replace(/<md:KeyDescriptor.*<\/md:KeyDescriptor>/, '')],
    [
      'an unreadable certificate',
      idp.metadataXml().replace(/<ds:X509Certificate>[^<]+/, '<ds:X509Certificate>bm90IGEgY2VydA=='),
    ],
    ['no single sign-on service', idp.metadataXml().replace(/<md:SingleSignOnService[^>]*>/g, '')],
    ['a javascript: SSO location', idp.metadataXml().replaceAll(`${IDP_ENTITY}/sso`, 'javascript:alert(1)')],
  ])('refuses metadata with %s', async (_, xml) => {
    expect(await refusal(() => parseIdpMetadata(xml))).toBe('saml_metadata_invalid');
  });

  it('publishes the service provider metadata for the IdP', () => {
    const { sp } = serviceProvider();
    const metadata = sp.metadataXml();
    expect(metadata).toContain(`entityID="${SP_ENTITY}"`);
    expect(metadata).toContain(`Location="${ACS}"`);
    expect(metadata).toContain(`Location="${SP_SLO}"`);
    expect(metadata).toContain('WantAssertionsSigned="true"');
  });
});

describe('round trip: Gatehouse IdP to Gatehouse SP', () => {
  it('signs in SP-initiated, with every attribute value', async () => {
    const { sp, stores } = serviceProvider();
    const { url, requestId } = await sp.authorizeUrl('relay-1');
    expect(stores.requests.get(requestId)).toBe(T0 + 10 * MINUTE);
    const redirect = new URL(url);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(`${IDP_ENTITY}/sso`);

    const request = idp.parseAuthnRequest(
      {
        SAMLRequest: redirect.searchParams.get('SAMLRequest')!,
        RelayState: redirect.searchParams.get('RelayState')!,
      },
      'redirect',
    );
    expect(request).toEqual({
      id: requestId,
      issuer: SP_ENTITY,
      acsUrl: ACS,
      forceAuthn: false,
      isPassive: false,
      relayState: 'relay-1',
    });

    const samlResponse = idp.buildResponse({ app, inResponseTo: request.id, ...user });
    const assertion = await sp.acceptResponse({ SAMLResponse: samlResponse, RelayState: 'relay-1' });
    expect(assertion).toEqual({
      issuer: IDP_ENTITY,
      nameId: 'ada@example.test',
      nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
      sessionIndex: '_session-1',
      assertionId: expect.stringMatching(/^_[0-9a-f]{40}$/),
      inResponseTo: requestId,
      notOnOrAfter: T0 + 5 * MINUTE,
      authnInstant: T0 - 30_000,
      authnContextClassRef: 'urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified',
      attributes: { email: ['ada@example.test'], groups: ['admins', 'staff'] },
    });
    expect(stores.requests.has(requestId)).toBe(false);
    expect(stores.assertions.get(assertion.assertionId)).toBe(T0 + 5 * MINUTE + MINUTE);
  });

  it('accepts a response whose Response is signed as well as its assertion', async () => {
    const { sp } = serviceProvider();
    const samlResponse = await solicitedResponse(sp, { app: { ...app, signResponse: true } });
    const response = decodeResponse(samlResponse).documentElement;
    expect(childElements(response, DS, 'Signature')).toHaveLength(1);
    await expect(sp.acceptResponse({ SAMLResponse: samlResponse })).resolves.toMatchObject({
      nameId: user.nameId,
    });
  });

  it('signs in IdP-initiated when the IdP is allowed to start sign-in', async () => {
    const { sp } = serviceProvider({ allowIdpInitiated: true });
    const assertion = await sp.acceptResponse({ SAMLResponse: idp.buildResponse({ app, ...user }) });
    expect(assertion.nameId).toBe('ada@example.test');
    expect(assertion.inResponseTo).toBeUndefined();
    expect(assertion.attributes.groups).toEqual(['admins', 'staff']);
  });

  it('carries markup in names and values through as text', async () => {
    const { sp } = serviceProvider({ allowIdpInitiated: true, nameIdFormat: undefined });
    const nameId = `o'neil&"co"<x>@example.test`;
    const hostile = '"><script>alert(1)</script>';
    const samlResponse = idp.buildResponse({
      app: { ...app, nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' },
      ...user,
      nameId,
      // XML turns CR LF into LF, so a value crosses with LF line ends.
      attributes: { displayName: hostile, 'line\nbreak': 'tab\there\nand newline' },
    });
    expect(Buffer.from(samlResponse, 'base64').toString('utf8')).not.toContain('<script>');
    const assertion = await sp.acceptResponse({ SAMLResponse: samlResponse });
    expect(assertion.nameId).toBe(nameId);
    expect(assertion.nameIdFormat).toBe('urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
    expect(assertion.attributes).toEqual({
      displayName: [hostile],
      'line\nbreak': ['tab\there\nand newline'],
    });
  });
});

describe('refused responses', () => {
  describe('signatures', () => {
    it('refuses an unsigned assertion', async () => {
      const { sp } = serviceProvider();
      const attack = tamper(await solicitedResponse(sp), (response) =>
        removeSignature(theAssertion(response)),
      );
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_signature_invalid');
    });

    it("refuses an assertion signed by a key that is not the IdP's", async () => {
      const { sp } = serviceProvider();
      const impostor = gatehouseIdp({ signing: strangerSigning });
      const samlResponse = await solicitedResponse(sp, {}, impostor);
      expect(await refusal(sp.acceptResponse({ SAMLResponse: samlResponse }))).toBe('saml_signature_invalid');
    });

    it('refuses a signed Response that wraps an unsigned assertion', async () => {
      const { sp } = serviceProvider();
      const attack = signResponseOnly(await solicitedResponse(sp), signing);
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_signature_invalid');
    });

    it('refuses an assertion changed after it was signed', async () => {
      const { sp } = serviceProvider();
      const attack = tamper(await solicitedResponse(sp), (response) =>
        setText(nameIdOf(theAssertion(response)), 'admin@example.test'),
      );
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_signature_invalid');
    });
  });

  describe('signature wrapping (XSW)', () => {
    function evilCopy(genuine: Element, keepSignature = false): Element {
      const evil = genuine.cloneNode(true) as Element;
      if (!keepSignature) removeSignature(evil);
      setText(nameIdOf(evil), 'admin@example.test');
      return evil;
    }

    it('(a) refuses an evil unsigned assertion placed before the signed one', async () => {
      const { sp } = serviceProvider();
      const attack = tamper(await solicitedResponse(sp), (response) => {
        const genuine = theAssertion(response);
        const evil = evilCopy(genuine);
        evil.setAttribute('ID', '_evil');
        response.insertBefore(evil, genuine);
      });
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_signature_invalid');
    });

    it('(a) refuses an evil unsigned assertion placed after the signed one', async () => {
      const { sp } = serviceProvider();
      const attack = tamper(await solicitedResponse(sp), (response) => {
        const evil = evilCopy(theAssertion(response));
        evil.setAttribute('ID', '_evil');
        response.appendChild(evil);
      });
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_signature_invalid');
    });

    it('(b) refuses the signed assertion moved into Extensions with an evil one in its place', async () => {
      const { sp } = serviceProvider();
      const attack = tamper(await solicitedResponse(sp), (response) => {
        const genuine = theAssertion(response);
        const extensions = addExtensions(response);
        response.replaceChild(evilCopy(genuine), genuine);
        extensions.appendChild(genuine);
      });
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_signature_invalid');
    });

    it('(b) refuses it when the evil assertion also carries a copy of the signature', async () => {
      const { sp } = serviceProvider();
      const attack = tamper(await solicitedResponse(sp), (response) => {
        const genuine = theAssertion(response);
        const extensions = addExtensions(response);
        response.replaceChild(evilCopy(genuine, true), genuine);
        extensions.appendChild(genuine);
      });
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_signature_invalid');
    });

    it('(c) refuses a duplicated assertion', async () => {
      const { sp } = serviceProvider();
      const attack = tamper(await solicitedResponse(sp), (response) => {
        response.appendChild(theAssertion(response).cloneNode(true));
      });
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_signature_invalid');
    });

    it('(d) reads a NameID split by a comment in full (CVE-2017-11428)', async () => {
      const { sp } = serviceProvider();
      const nameId = 'admin@evil.test.example.com';
      const attack = tamper(await solicitedResponse(sp, { nameId }), (response, document) => {
        const element = nameIdOf(theAssertion(response));
        while (element.firstChild) element.removeChild(element.firstChild);
        element.appendChild(document.createTextNode('admin@evil.test'));
        element.appendChild(document.createComment(''));
        element.appendChild(document.createTextNode('.example.com'));
      });
      expect(Buffer.from(attack, 'base64').toString('utf8')).toContain('admin@evil.test<!---->.example.com');
      const assertion = await sp.acceptResponse({ SAMLResponse: attack });
      expect(assertion.nameId).toBe(nameId);
    });

    it('(e) refuses a signature whose Reference points at another element than the assertion it sits in', async () => {
      const { sp } = serviceProvider();
      const attack = tamper(await solicitedResponse(sp), (response) => {
        const genuine = theAssertion(response);
        const signature = theSignature(genuine);
        const evil = evilCopy(genuine);
        evil.setAttribute('ID', '_evil');
        genuine.removeChild(signature);
        evil.insertBefore(signature, theChild(evil, A, 'Subject'));
        const extensions = addExtensions(response);
        response.replaceChild(evil, genuine);
        // Still signed as it was, the genuine assertion verifies where it now hides.
        extensions.appendChild(genuine);
      });
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_signature_invalid');
    });

    it("(e) refuses the Response's signature moved into an evil assertion", async () => {
      const { sp } = serviceProvider();
      const samlResponse = await solicitedResponse(sp, { app: { ...app, signResponse: true } });
      const attack = tamper(samlResponse, (response) => {
        const assertion = theAssertion(response);
        const responseSignature = theSignature(response);
        removeSignature(assertion);
        setText(nameIdOf(assertion), 'admin@example.test');
        response.removeChild(responseSignature);
        assertion.insertBefore(responseSignature, theChild(assertion, A, 'Subject'));
      });
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_signature_invalid');
    });
  });

  describe('issuer, audience and recipient', () => {
    it("refuses an assertion issued by another entity, even with the IdP's key", async () => {
      const { sp } = serviceProvider();
      const other = gatehouseIdp({ entityId: 'https://other-idp.test/saml' });
      // Without the envelope's Issuer only the signed assertion's Issuer is left to check.
      const attack = tamper(await solicitedResponse(sp, {}, other), (response) =>
        response.removeChild(theChild(response, A, 'Issuer')),
      );
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_issuer_mismatch');
    });

    it('refuses a response whose envelope names another issuer', async () => {
      const { sp } = serviceProvider();
      const attack = tamper(await solicitedResponse(sp), (response) =>
        setText(theChild(response, A, 'Issuer'), 'https://other-idp.test/saml'),
      );
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_issuer_mismatch');
    });

    it('refuses an assertion meant for another service provider', async () => {
      const { sp } = serviceProvider();
      const samlResponse = await solicitedResponse(sp, {
        app: { ...app, entityId: 'https://other-sp.test' },
      });
      expect(await refusal(sp.acceptResponse({ SAMLResponse: samlResponse }))).toBe('saml_audience_mismatch');
    });

    it('refuses an assertion with no audience restriction', async () => {
      const { sp } = serviceProvider();
      const samlResponse = resignAssertion(await solicitedResponse(sp), signing, (assertion) => {
        const conditions = theChild(assertion, A, 'Conditions');
        conditions.removeChild(theChild(conditions, A, 'AudienceRestriction'));
      });
      expect(await refusal(sp.acceptResponse({ SAMLResponse: samlResponse }))).toBe('saml_audience_mismatch');
    });

    it('refuses a response whose Destination is another address', async () => {
      const { sp } = serviceProvider();
      const attack = tamper(await solicitedResponse(sp), (response) =>
        response.setAttribute('Destination', 'https://evil.test/acs'),
      );
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_recipient_mismatch');
    });

    it("refuses an assertion whose confirmation's Recipient is another address", async () => {
      const { sp } = serviceProvider();
      const samlResponse = await solicitedResponse(sp, { app: { ...app, acsUrl: 'https://evil.test/acs' } });
      // Destination is optional; without it only the signed Recipient is left to check.
      const attack = tamper(samlResponse, (response) => response.removeAttribute('Destination'));
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_recipient_mismatch');
    });
  });

  describe('time', () => {
    it('refuses an assertion after its NotOnOrAfter and the clock skew', async () => {
      const { sp } = serviceProvider();
      const samlResponse = await solicitedResponse(sp);
      vi.setSystemTime(T0 + 5 * MINUTE + MINUTE);
      expect(await refusal(sp.acceptResponse({ SAMLResponse: samlResponse }))).toBe('saml_expired');
    });

    it('accepts it within the clock skew', async () => {
      const { sp } = serviceProvider();
      const samlResponse = await solicitedResponse(sp);
      vi.setSystemTime(T0 + 5 * MINUTE + MINUTE - 1);
      await expect(sp.acceptResponse({ SAMLResponse: samlResponse })).resolves.toMatchObject({
        nameId: user.nameId,
      });
    });

    it('refuses an assertion before its NotBefore', async () => {
      const { sp } = serviceProvider();
      const samlResponse = await solicitedResponse(sp);
      vi.setSystemTime(T0 - 3 * MINUTE);
      expect(await refusal(sp.acceptResponse({ SAMLResponse: samlResponse }))).toBe('saml_expired');
    });

    it('refuses a subject confirmation past its NotOnOrAfter while the Conditions still hold', async () => {
      const { sp } = serviceProvider();
      const samlResponse = resignAssertion(await solicitedResponse(sp), signing, (assertion) =>
        confirmationDataOf(assertion).setAttribute('NotOnOrAfter', iso(T0 + 30_000)),
      );
      vi.setSystemTime(T0 + 2 * MINUTE);
      expect(await refusal(sp.acceptResponse({ SAMLResponse: samlResponse }))).toBe('saml_expired');
    });

    it('refuses an assertion older than the maximum assertion age', async () => {
      const longLived = gatehouseIdp({ assertionLifetimeSeconds: 3600 });
      const { sp } = serviceProvider({ allowIdpInitiated: true });
      const samlResponse = longLived.buildResponse({ app, ...user });
      vi.setSystemTime(T0 + 10 * MINUTE);
      expect(await refusal(sp.acceptResponse({ SAMLResponse: samlResponse }))).toBe('saml_expired');
    });

    it('refuses an old IssueInstant even when the Conditions carry no time window', async () => {
      const longLived = gatehouseIdp({ assertionLifetimeSeconds: 3600 });
      const { sp } = serviceProvider({ allowIdpInitiated: true });
      const samlResponse = resignAssertion(
        longLived.buildResponse({ app, ...user }),
        signing,
        (assertion) => {
          const conditions = theChild(assertion, A, 'Conditions');
          conditions.removeAttribute('NotBefore');
          conditions.removeAttribute('NotOnOrAfter');
        },
      );
      vi.setSystemTime(T0 + 2 * MINUTE);
      await expect(sp.acceptResponse({ SAMLResponse: samlResponse })).resolves.toMatchObject({
        nameId: user.nameId,
      });
      vi.setSystemTime(T0 + 10 * MINUTE);
      expect(
        await refusal(
          serviceProvider({ allowIdpInitiated: true }).sp.acceptResponse({ SAMLResponse: samlResponse }),
        ),
      ).toBe('saml_expired');
    });
  });

  describe('solicited, unsolicited and replayed', () => {
    it('refuses a response to a request it never sent', async () => {
      const { sp } = serviceProvider();
      const samlResponse = idp.buildResponse({ app, inResponseTo: '_never-sent', ...user });
      expect(await refusal(sp.acceptResponse({ SAMLResponse: samlResponse }))).toBe('saml_replay');
    });

    it('refuses the same response twice', async () => {
      const { sp } = serviceProvider();
      const samlResponse = await solicitedResponse(sp);
      await sp.acceptResponse({ SAMLResponse: samlResponse });
      expect(await refusal(sp.acceptResponse({ SAMLResponse: samlResponse }))).toBe('saml_replay');
    });

    it('refuses a response to a request that has expired', async () => {
      const { sp } = serviceProvider({ requestTtlMs: MINUTE });
      const { url } = await sp.authorizeUrl('relay-1');
      const request = idp.parseAuthnRequest(
        { SAMLRequest: new URL(url).searchParams.get('SAMLRequest')! },
        'redirect',
      );
      vi.setSystemTime(T0 + 2 * MINUTE);
      const samlResponse = idp.buildResponse({ app, inResponseTo: request.id, ...user });
      expect(await refusal(sp.acceptResponse({ SAMLResponse: samlResponse }))).toBe('saml_replay');
    });

    it('refuses an IdP-initiated response when the IdP may not start sign-in', async () => {
      const { sp } = serviceProvider({ allowIdpInitiated: false });
      const samlResponse = idp.buildResponse({ app, ...user });
      expect(await refusal(sp.acceptResponse({ SAMLResponse: samlResponse }))).toBe('saml_unsolicited');
    });

    it('refuses an IdP-initiated assertion replayed', async () => {
      const { sp } = serviceProvider({ allowIdpInitiated: true });
      const samlResponse = idp.buildResponse({ app, ...user });
      await sp.acceptResponse({ SAMLResponse: samlResponse });
      expect(await refusal(sp.acceptResponse({ SAMLResponse: samlResponse }))).toBe('saml_replay');
    });

    it('refuses an unsolicited assertion dressed up with an unsigned InResponseTo', async () => {
      const { sp, stores } = serviceProvider({ allowIdpInitiated: false });
      const { requestId } = await sp.authorizeUrl('relay-1');
      const attack = tamper(idp.buildResponse({ app, ...user }), (response) =>
        response.setAttribute('InResponseTo', requestId),
      );
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_response_invalid');
      expect(stores.requests.has(requestId)).toBe(true);
    });
  });

  describe('malformed', () => {
    it.each([
      ['no SAMLResponse', undefined],
      ['something that is not base64', 'not base64!'],
      ['something that is not XML', Buffer.from('hello').toString('base64')],
      [
        'a DOCTYPE',
        Buffer.from(
          '<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&e;</samlp:Response>',
        ).toString('base64'),
      ],
      [
        'a message that is not a Response',
        Buffer.from(`<samlp:LogoutRequest xmlns:samlp="${P}"/>`).toString('base64'),
      ],
    ])('refuses %s', async (_, SAMLResponse) => {
      const { sp } = serviceProvider();
      expect(await refusal(sp.acceptResponse({ SAMLResponse }))).toBe('saml_response_invalid');
    });

    it('refuses a response whose status is not Success', async () => {
      const { sp } = serviceProvider();
      const attack = tamper(await solicitedResponse(sp), (response) =>
        theChild(theChild(response, P, 'Status'), P, 'StatusCode').setAttribute(
          'Value',
          'urn:oasis:names:tc:SAML:2.0:status:Responder',
        ),
      );
      expect(await refusal(sp.acceptResponse({ SAMLResponse: attack }))).toBe('saml_idp_refused');
    });

    it('shows clients only the safe title, and keeps the detail for the logs', async () => {
      const { sp } = serviceProvider();
      const samlResponse = await solicitedResponse(sp, {
        app: { ...app, entityId: 'https://other-sp.test' },
      });
      const error = await sp
        .acceptResponse({ SAMLResponse: samlResponse })
        .catch((caught: unknown) => caught);
      expect(isSamlError(error)).toBe(true);
      const samlError = error as SamlError;
      expect(samlError.status).toBe(401);
      expect(samlError.publicDetail).toBe('The SAML assertion is meant for another service');
      expect(samlError.message).toContain('https://other-sp.test');
    });
  });
});

describe('single logout', () => {
  const logoutRequestXml = (
    input: { id?: string; issuer?: string; destination?: string; issueInstant?: number } = {},
  ) =>
    `<samlp:LogoutRequest xmlns:samlp="${P}" xmlns:saml="${A}" ID="${input.id ?? '_logout-1'}" Version="2.0" IssueInstant="${iso(input.issueInstant ?? T0)}" Destination="${input.destination ?? SP_SLO}">` +
    `<saml:Issuer>${input.issuer ?? IDP_ENTITY}</saml:Issuer>` +
    '<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">ada@example.test</saml:NameID>' +
    '<samlp:SessionIndex>_session-1</samlp:SessionIndex>' +
    '</samlp:LogoutRequest>';
  const idpSigned = (xml: string, extra: Partial<Parameters<typeof signedRedirect>[0]> = {}) =>
    signedRedirect({
      messageKey: 'SAMLRequest',
      xml,
      relayState: 'idp-relay',
      privateKeyPem: signing.privateKeyPem,
      ...extra,
    });

  it('sends a LogoutRequest to the IdP and accepts its signed LogoutResponse once', async () => {
    const { sp, stores } = serviceProvider();
    const url = await sp.logoutUrl({
      nameId: 'ada@example.test',
      sessionIndex: '_session-1',
      relayState: 'bye',
    });
    const redirect = new URL(url!);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(`${IDP_ENTITY}/slo`);
    expect(redirect.searchParams.get('RelayState')).toBe('bye');
    const xml = inflateSamlMessage(redirect.searchParams.get('SAMLRequest')!, 'saml_request_invalid', 'test');
    const request = new DOMParser().parseFromString(xml, 'text/xml').documentElement;
    expect(request.localName).toBe('LogoutRequest');
    expect(theChild(request, A, 'NameID').textContent).toBe('ada@example.test');
    expect(theChild(request, P, 'SessionIndex').textContent).toBe('_session-1');
    const requestId = request.getAttribute('ID')!;
    expect(stores.requests.get(requestId)).toBe(T0 + 10 * MINUTE);

    const logoutResponse =
      `<samlp:LogoutResponse xmlns:samlp="${P}" xmlns:saml="${A}" ID="_logout-response" Version="2.0" IssueInstant="${iso(T0)}" Destination="${SP_SLO}" InResponseTo="${requestId}">` +
      `<saml:Issuer>${IDP_ENTITY}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
      '</samlp:LogoutResponse>';
    const { query } = signedRedirect({
      messageKey: 'SAMLResponse',
      xml: logoutResponse,
      relayState: 'bye',
      privateKeyPem: signing.privateKeyPem,
    });
    expect(await sp.acceptLogout(query)).toEqual({ kind: 'response', relayState: 'bye' });
    expect(await refusal(sp.acceptLogout(query))).toBe('saml_replay');
  });

  it('has no logout URL when the IdP publishes no single logout endpoint', async () => {
    const { sp } = serviceProvider({}, gatehouseIdp({ sloUrl: undefined }).metadataXml());
    expect(await sp.logoutUrl({ nameId: 'ada@example.test', relayState: 'bye' })).toBeUndefined();
  });

  it("accepts the IdP's signed LogoutRequest once and answers it", async () => {
    const { sp } = serviceProvider();
    const { query } = idpSigned(logoutRequestXml());
    const result = await sp.acceptLogout(query);
    expect(result).toMatchObject({ kind: 'request', nameId: 'ada@example.test', sessionIndex: '_session-1' });
    const answer = new URL((result as { responseUrl: string }).responseUrl);
    expect(`${answer.origin}${answer.pathname}`).toBe(`${IDP_ENTITY}/slo`);
    expect(answer.searchParams.get('RelayState')).toBe('idp-relay');
    const response = inflateSamlMessage(
      answer.searchParams.get('SAMLResponse')!,
      'saml_response_invalid',
      'test',
    );
    expect(response).toContain('InResponseTo="_logout-1"');
    expect(response).toContain('urn:oasis:names:tc:SAML:2.0:status:Success');
    expect(await refusal(sp.acceptLogout(query))).toBe('saml_replay');
  });

  it('verifies the signature over the encoding the IdP used when given the raw query', async () => {
    const { query, rawQuery } = idpSigned(logoutRequestXml(), { lowercaseHex: true });
    expect(rawQuery).toMatch(/%2b|%2f|%3d/);
    expect(await refusal(serviceProvider().sp.acceptLogout(query))).toBe('saml_signature_invalid');
    await expect(serviceProvider().sp.acceptLogout(query, rawQuery)).resolves.toMatchObject({
      kind: 'request',
    });
  });

  it('refuses a raw query that disagrees with the parsed one', async () => {
    const { query, rawQuery } = idpSigned(logoutRequestXml());
    const other = idpSigned(logoutRequestXml({ id: '_logout-2' }));
    expect(await refusal(serviceProvider().sp.acceptLogout(other.query, rawQuery))).toBe(
      'saml_signature_invalid',
    );
    expect(await refusal(serviceProvider().sp.acceptLogout(query, `${rawQuery}&RelayState=again`))).toBe(
      'saml_signature_invalid',
    );
  });

  it.each([
    [
      'unsigned',
      () => {
        const { query } = idpSigned(logoutRequestXml());
        const { Signature: _signature, SigAlg: _sigAlg, ...unsigned } = query;
        return unsigned;
      },
      'saml_signature_invalid',
    ],
    [
      'that names a SigAlg but carries no Signature',
      () => {
        const { Signature: _signature, ...unsigned } = idpSigned(logoutRequestXml()).query;
        return unsigned;
      },
      'saml_signature_invalid',
    ],
    [
      'signed by another key',
      () => idpSigned(logoutRequestXml(), { privateKeyPem: strangerSigning.privateKeyPem }).query,
      'saml_signature_invalid',
    ],
    [
      'changed after signing',
      () => ({ ...idpSigned(logoutRequestXml()).query, RelayState: 'changed' }),
      'saml_signature_invalid',
    ],
    [
      'signed with RSA-SHA1',
      () => idpSigned(logoutRequestXml(), { sigAlg: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1' }).query,
      'saml_signature_invalid',
    ],
    [
      'from another issuer',
      () => idpSigned(logoutRequestXml({ issuer: 'https://other-idp.test' })).query,
      'saml_issuer_mismatch',
    ],
    [
      'addressed elsewhere',
      () => idpSigned(logoutRequestXml({ destination: 'https://evil.test/slo' })).query,
      'saml_recipient_mismatch',
    ],
    [
      'issued too long ago',
      () => idpSigned(logoutRequestXml({ issueInstant: T0 - 10 * MINUTE })).query,
      'saml_expired',
    ],
  ])('refuses a LogoutRequest %s', async (_, query, code) => {
    expect(await refusal(serviceProvider().sp.acceptLogout(query()))).toBe(code);
  });
});

describe('Gatehouse as an identity provider', () => {
  it('creates an RSA 2048 key with a self-signed SHA-256 certificate', () => {
    const certificate = new X509Certificate(signing.certificatePem);
    expect(certificate.subject).toBe('CN=idp.gatehouse.test');
    expect(certificate.issuer).toBe('CN=idp.gatehouse.test');
    expect(Date.parse(certificate.validFrom)).toBe(Math.floor((T0 - MINUTE) / 1000) * 1000);
    expect(Date.parse(certificate.validTo)).toBe(Math.floor((T0 - MINUTE + 365 * 86_400_000) / 1000) * 1000);
    expect(certificate.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(certificate.toLegacyObject().serialNumber).toMatch(/^[0-9A-F]+$/);
    expect(signing.privateKeyPem).toContain('BEGIN PRIVATE KEY');
    expect(certificate.checkPrivateKey(createPrivateKey(signing.privateKeyPem))).toBe(true);
    // A fresh key pair each time, never a shared one.
    expect(
      new X509Certificate(strangerSigning.certificatePem).checkPrivateKey(
        createPrivateKey(signing.privateKeyPem),
      ),
    ).toBe(false);
  });

  it('signs the assertion (enveloped, RSA-SHA256, exclusive c14n) right after its Issuer', () => {
    const response = decodeResponse(idp.buildResponse({ app, ...user })).documentElement;
    const assertion = theAssertion(response);
    const children = childElements(assertion, DS, 'Signature');
    expect(children).toHaveLength(1);
    const signature = children[0]!;
    const previous = signature.previousSibling as Element;
    expect(previous.localName).toBe('Issuer');
    const algorithm = (localName: string) =>
      Array.from(signature.getElementsByTagNameNS(DS, localName)).map((element) =>
        element.getAttribute('Algorithm'),
      );
    expect(algorithm('SignatureMethod')).toEqual(['http://www.w3.org/2001/04/xmldsig-more#rsa-sha256']);
    expect(algorithm('CanonicalizationMethod')).toEqual(['http://www.w3.org/2001/10/xml-exc-c14n#']);
    expect(algorithm('Transform')).toEqual([
      'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
      'http://www.w3.org/2001/10/xml-exc-c14n#',
    ]);
    expect(algorithm('DigestMethod')).toEqual(['http://www.w3.org/2001/04/xmlenc#sha256']);
    const references = signature.getElementsByTagNameNS(DS, 'Reference');
    expect(references.length).toBe(1);
    expect(references.item(0)!.getAttribute('URI')).toBe(`#${assertion.getAttribute('ID')}`);
    expect(childElements(response, DS, 'Signature')).toHaveLength(0);
  });

  it('parses an AuthnRequest sent with the HTTP-POST binding', () => {
    const xml =
      `<samlp:AuthnRequest xmlns:samlp="${P}" xmlns:saml="${A}" ID="_req-1" Version="2.0" IssueInstant="${iso(T0)}" ` +
      `Destination="${IDP_ENTITY}/sso" AssertionConsumerServiceURL="${ACS}" ForceAuthn="true" IsPassive="1" ` +
      'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">' +
      `<saml:Issuer> ${SP_ENTITY} </saml:Issuer></samlp:AuthnRequest>`;
    expect(
      idp.parseAuthnRequest({ SAMLRequest: Buffer.from(xml).toString('base64'), RelayState: 'r' }, 'post'),
    ).toEqual({
      id: '_req-1',
      issuer: SP_ENTITY,
      acsUrl: ACS,
      forceAuthn: true,
      isPassive: true,
      relayState: 'r',
    });
  });

  const authnRequest = (attributes: string, issuer = `<saml:Issuer>${SP_ENTITY}</saml:Issuer>`) =>
    `<samlp:AuthnRequest xmlns:samlp="${P}" xmlns:saml="${A}" Version="2.0" ${attributes}>${issuer}</samlp:AuthnRequest>`;

  it.each([
    ['a DOCTYPE', `<!DOCTYPE r [<!ENTITY e "x">]>${authnRequest('ID="_r"')}`, 'saml_request_invalid'],
    [
      'not an AuthnRequest',
      `<samlp:LogoutRequest xmlns:samlp="${P}" ID="_r" Version="2.0"/>`,
      'saml_request_invalid',
    ],
    ['no ID', authnRequest(''), 'saml_request_invalid'],
    ['an ID that is not an XML name', authnRequest('ID="1 or 1=1"'), 'saml_request_invalid'],
    ['no Issuer', authnRequest('ID="_r"', ''), 'saml_request_invalid'],
    [
      'a javascript: ACS URL',
      authnRequest('ID="_r" AssertionConsumerServiceURL="javascript:alert(1)"'),
      'saml_request_invalid',
    ],
    [
      'the artifact binding',
      authnRequest('ID="_r" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"'),
      'saml_request_invalid',
    ],
    [
      'another Destination',
      authnRequest('ID="_r" Destination="https://other-idp.test/sso"'),
      'saml_recipient_mismatch',
    ],
  ])('refuses an AuthnRequest with %s', async (_, xml, code) => {
    const SAMLRequest = deflateRawSync(Buffer.from(xml)).toString('base64');
    expect(await refusal(() => idp.parseAuthnRequest({ SAMLRequest }, 'redirect'))).toBe(code);
  });

  it('refuses a redirect AuthnRequest that inflates beyond the size limit', async () => {
    const bomb = deflateRawSync(
      Buffer.from(authnRequest(`ID="_r" Extra="${'a'.repeat(2_000_000)}"`)),
    ).toString('base64');
    expect(bomb.length).toBeLessThan(10_000);
    expect(await refusal(() => idp.parseAuthnRequest({ SAMLRequest: bomb }, 'redirect'))).toBe(
      'saml_request_invalid',
    );
  });

  it('refuses a SAMLRequest that is not base64 or not DEFLATE', async () => {
    expect(await refusal(() => idp.parseAuthnRequest({ SAMLRequest: '%%%' }, 'post'))).toBe(
      'saml_request_invalid',
    );
    const plain = Buffer.from(authnRequest('ID="_r"')).toString('base64');
    expect(await refusal(() => idp.parseAuthnRequest({ SAMLRequest: plain }, 'redirect'))).toBe(
      'saml_request_invalid',
    );
  });

  it('builds an auto-submitting form with everything escaped and the nonce on the script', () => {
    const html = idp.postForm({
      acsUrl: `${ACS}?a=1&b="2"`,
      samlResponse: 'PHNhbWw+',
      relayState: '"><script>alert(1)</script>',
      nonce: 'n0nce"x',
    });
    expect(html).toContain(`<form method="post" action="${ACS}?a=1&#38;b=&#34;2&#34;">`);
    expect(html).toContain('<input type="hidden" name="SAMLResponse" value="PHNhbWw+">');
    expect(html).toContain(
      '<input type="hidden" name="RelayState" value="&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;">',
    );
    expect(html).toContain('<script nonce="n0nce&#34;x">document.forms[0].submit();</script>');
    expect(html).toContain('<button type="submit">Continue</button>');
    expect(html.match(/<script/g)).toHaveLength(1);
    const withoutExtras = idp.postForm({ acsUrl: ACS, samlResponse: 'PHNhbWw+' });
    expect(withoutExtras).toContain('<script>document.forms[0].submit();</script>');
    expect(withoutExtras).not.toContain('RelayState');
    expect(() => idp.postForm({ acsUrl: 'javascript:alert(1)', samlResponse: 'x' })).toThrow(TypeError);
  });
});

describe('a real-world signed response (OneLogin, from the node-saml test suite)', () => {
  const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
  const responseXml = fixture('onelogin-response.xml');
  const onelogin = () =>
    serviceProvider({
      spEntityId: '{audience}',
      acsUrl: '{recipient}',
      idp: {
        entityId: 'https://app.onelogin.com/saml/metadata/371755',
        ssoUrl: 'https://app.onelogin.com/trust/saml2/http-post/sso/371755',
        certificates: [fixture('onelogin-idp-certificate.pem')],
      },
    });
  const encoded = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');

  it('validates inside its validity window, answering a request we saved', async () => {
    vi.setSystemTime(Date.parse('2014-05-28T00:16:30Z'));
    const { sp, stores } = onelogin();
    await stores.saveRequest('_a6fc46be84e1e3cf3c50', Date.now() + 10 * MINUTE);
    expect(await sp.acceptResponse({ SAMLResponse: encoded(responseXml) })).toEqual({
      issuer: 'https://app.onelogin.com/saml/metadata/371755',
      nameId: 'ploer@subspacesw.com',
      nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
      sessionIndex: '_30a4af50-c82b-0131-f8b5-782bcb56fcaa',
      assertionId: 'pfx3b63c7be-fe86-62fd-8cb5-16ab6273efaa',
      inResponseTo: '_a6fc46be84e1e3cf3c50',
      notOnOrAfter: Date.parse('2014-05-28T00:19:08Z'),
      authnInstant: Date.parse('2014-05-28T00:16:07Z'),
      authnContextClassRef: 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
      attributes: {},
    });
  });

  it('refuses it without the saved request', async () => {
    vi.setSystemTime(Date.parse('2014-05-28T00:16:30Z'));
    expect(await refusal(onelogin().sp.acceptResponse({ SAMLResponse: encoded(responseXml) }))).toBe(
      'saml_replay',
    );
  });

  it('refuses it as expired once its window has passed', async () => {
    vi.setSystemTime(Date.parse('2014-05-28T00:25:00Z'));
    const { sp, stores } = onelogin();
    await stores.saveRequest('_a6fc46be84e1e3cf3c50', Date.now() + 10 * MINUTE);
    expect(await refusal(sp.acceptResponse({ SAMLResponse: encoded(responseXml) }))).toBe('saml_expired');
  });

  it.each([
    [
      'an attribute value',
      'SessionIndex="_30a4af50-c82b-0131-f8b5-782bcb56fcaa"',
      'SessionIndex="_30a4af50-c82b-0131-f8b5-782bcb56fcab"',
    ],
    ['the NameID', '>ploer@subspacesw.com<', '>ben@subspacesw.com<'],
  ])('refuses a copy with %s changed', async (_, original, changed) => {
    vi.setSystemTime(Date.parse('2014-05-28T00:16:30Z'));
    const { sp, stores } = onelogin();
    await stores.saveRequest('_a6fc46be84e1e3cf3c50', Date.now() + 10 * MINUTE);
    expect(responseXml).toContain(original);
    const tampered = encoded(responseXml.replace(original, changed));
    expect(await refusal(sp.acceptResponse({ SAMLResponse: tampered }))).toBe('saml_signature_invalid');
  });
});
