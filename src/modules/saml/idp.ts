import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { SignedXml } from 'xml-crypto';
import { SamlError } from './errors.js';
import {
  childElements,
  decodeSamlBase64,
  elementText,
  inflateSamlMessage,
  isSamlElement,
  NAME_ID_FORMAT_UNSPECIFIED,
  newSamlId,
  parseSamlXml,
  SAML_BINDINGS,
  SAML_NAMESPACES,
} from './sp.js';

export interface IdpSigningKey {
  privateKeyPem: string;
  certificatePem: string;
}

export interface ServiceProviderApp {
  entityId: string;
  /** Where the response is posted: always the registered address, never one named by the AuthnRequest. */
  acsUrl: string;
  nameIdFormat?: string;
  signResponse?: boolean;
}

export interface IdentityProviderSettings {
  entityId: string;
  ssoUrl: string;
  sloUrl?: string;
  signing: IdpSigningKey;
  assertionLifetimeSeconds: number;
}

export interface ParsedAuthnRequest {
  id: string;
  issuer: string;
  acsUrl?: string;
  forceAuthn: boolean;
  /** The SP asked that the user not be prompted: answer at once, signed in or with an error. */
  isPassive: boolean;
  relayState?: string;
}

export interface ResponseInput {
  app: ServiceProviderApp;
  inResponseTo?: string;
  nameId: string;
  sessionIndex: string;
  attributes: Record<string, string | string[]>;
  authnContextClassRef?: string;
  /** When the user authenticated (ms). */
  authnInstant: number;
}

export interface IdentityProvider {
  metadataXml(): string;
  parseAuthnRequest(
    input: { SAMLRequest: string; RelayState?: string },
    binding: 'redirect' | 'post',
  ): ParsedAuthnRequest;
  /** A signed Response, base64-encoded for the HTTP-POST binding. */
  buildResponse(input: ResponseInput): string;
  /** The auto-submitting page that carries the response to the SP's ACS. */
  postForm(input: { acsUrl: string; samlResponse: string; relayState?: string; nonce?: string }): string;
}

const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const EXCLUSIVE_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED_SIGNATURE = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const AUTHN_CONTEXT_UNSPECIFIED = 'urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified';
const NAME_ID_FORMATS = [
  'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  NAME_ID_FORMAT_UNSPECIFIED,
];
/** Backdating NotBefore lets SPs whose clocks run a little behind ours accept the assertion. */
const NOT_BEFORE_ALLOWANCE_MS = 60_000;
const DAY_MS = 86_400_000;
const XML_NAME_ID = /^[A-Za-z_][\w.-]*$/;

// Characters XML 1.0 cannot carry even as references become U+FFFD rather than breaking the document.
const NOT_XML_CHARACTERS = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/**
 * Escapes text for XML (and HTML) content and quoted attribute values. Tab, CR and LF become character
 * references so attribute-value normalization cannot turn them into spaces after signing.
 */
export function escapeXml(value: string): string {
  return value
    .replace(NOT_XML_CHARACTERS, '\uFFFD')
    .replace(/[&<>"'\t\n\r]/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** SAML instants: UTC, whole seconds, as most SPs expect. */
function samlInstant(milliseconds: number): string {
  return new Date(Math.floor(milliseconds / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function assertHttpUrl(value: string, what: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${what} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new TypeError(`${what} must be an http(s) URL`);
}

/** A fresh RSA 2048 signing key and a self-signed SHA-256 certificate for it. */
export function createSigningCertificate(input: {
  commonName: string;
  validDays: number;
  now?: number;
}): IdpSigningKey {
  if (input.commonName.trim() === '') throw new TypeError('commonName must not be empty');
  if (!Number.isInteger(input.validDays) || input.validDays < 1) {
    throw new TypeError('validDays must be a positive whole number');
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(privateKeyPem) as forge.pki.rsa.PrivateKey;

  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  const serial = randomBytes(16);
  // Clearing the top bit keeps the DER INTEGER positive; setting the next keeps its encoding minimal.
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  certificate.serialNumber = serial.toString('hex');
  const issuedAt = input.now ?? Date.now();
  certificate.validity.notBefore = new Date(issuedAt);
  certificate.validity.notAfter = new Date(issuedAt + input.validDays * DAY_MS);
  const name = [{ name: 'commonName', value: input.commonName }];
  certificate.setSubject(name);
  certificate.setIssuer(name);
  certificate.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', critical: true, digitalSignature: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  certificate.sign(forgeKey, forge.md.sha256.create());
  return { privateKeyPem, certificatePem: forge.pki.certificateToPem(certificate).replace(/\r\n/g, '\n') };
}

/** Signs the element with this ID: enveloped, RSA-SHA256, exclusive c14n, the Signature after its Issuer. */
function signElement(xml: string, elementId: string, signing: IdpSigningKey): string {
  const signer = new SignedXml({
    privateKey: signing.privateKeyPem,
    publicCert: signing.certificatePem,
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXCLUSIVE_C14N,
  });
  const element = `//*[@ID='${elementId}']`;
  signer.addReference({
    xpath: element,
    transforms: [ENVELOPED_SIGNATURE, EXCLUSIVE_C14N],
    digestAlgorithm: SHA256,
  });
  // The schemas place the Signature directly after the Issuer.
  signer.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: `${element}/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return signer.getSignedXml();
}

/**
 * Gatehouse as a SAML identity provider for apps that only speak SAML. node-saml is SP-only, so the
 * Response is built here from escaped templates and signed with xml-crypto.
 */
export function createIdentityProvider(
  settings: IdentityProviderSettings,
  now: () => number = () => Date.now(),
): IdentityProvider {
  assertHttpUrl(settings.ssoUrl, 'ssoUrl');
  if (settings.sloUrl !== undefined) assertHttpUrl(settings.sloUrl, 'sloUrl');
  if (!Number.isInteger(settings.assertionLifetimeSeconds) || settings.assertionLifetimeSeconds < 1) {
    throw new TypeError('assertionLifetimeSeconds must be a positive whole number');
  }
  const certificate = new X509Certificate(settings.signing.certificatePem);
  if (!certificate.checkPrivateKey(createPrivateKey(settings.signing.privateKeyPem))) {
    throw new TypeError('The signing certificate does not belong to the signing key');
  }
  const certificateBase64 = certificate.raw.toString('base64');

  function metadataXml(): string {
    const md = (binding: string, service: string, location: string) =>
      `<md:${service} Binding="${binding}" Location="${escapeXml(location)}"/>`;
    const logout = settings.sloUrl
      ? md(SAML_BINDINGS.redirect, 'SingleLogoutService', settings.sloUrl) +
        md(SAML_BINDINGS.post, 'SingleLogoutService', settings.sloUrl)
      : '';
    return (
      '<?xml version="1.0" encoding="UTF-8"?>' +
      `<md:EntityDescriptor xmlns:md="${SAML_NAMESPACES.metadata}" xmlns:ds="${SAML_NAMESPACES.signature}" entityID="${escapeXml(settings.entityId)}">` +
      `<md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="${SAML_NAMESPACES.protocol}">` +
      '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>' +
      `<ds:X509Certificate>${certificateBase64}</ds:X509Certificate>` +
      '</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>' +
      logout +
      NAME_ID_FORMATS.map((format) => `<md:NameIDFormat>${format}</md:NameIDFormat>`).join('') +
      md(SAML_BINDINGS.redirect, 'SingleSignOnService', settings.ssoUrl) +
      md(SAML_BINDINGS.post, 'SingleSignOnService', settings.ssoUrl) +
      '</md:IDPSSODescriptor></md:EntityDescriptor>'
    );
  }

  function parseAuthnRequest(
    input: { SAMLRequest: string; RelayState?: string },
    binding: 'redirect' | 'post',
  ): ParsedAuthnRequest {
    const invalid = (reason: string) => new SamlError('saml_request_invalid', reason);
    if (typeof input.SAMLRequest !== 'string' || input.SAMLRequest === '')
      throw invalid('There is no SAMLRequest');
    const xml =
      binding === 'redirect'
        ? inflateSamlMessage(input.SAMLRequest, 'saml_request_invalid', 'The SAMLRequest')
        : decodeSamlBase64(input.SAMLRequest, 'saml_request_invalid', 'The SAMLRequest').toString('utf8');
    const request = parseSamlXml(xml, 'saml_request_invalid', 'The SAMLRequest').documentElement;
    if (!isSamlElement(request, SAML_NAMESPACES.protocol, 'AuthnRequest')) {
      throw invalid('The SAMLRequest is not an AuthnRequest');
    }
    if (request.getAttribute('Version') !== '2.0') throw invalid('The AuthnRequest is not SAML 2.0');
    const id = request.getAttribute('ID') ?? '';
    if (id.length > 256 || !XML_NAME_ID.test(id)) throw invalid('The AuthnRequest has no valid ID');
    const issuers = childElements(request, SAML_NAMESPACES.assertion, 'Issuer');
    const issuer = issuers.length === 1 ? elementText(issuers[0]!) : '';
    if (issuer === '') throw invalid('The AuthnRequest has no Issuer');
    if (request.hasAttribute('Destination') && request.getAttribute('Destination') !== settings.ssoUrl) {
      throw new SamlError(
        'saml_recipient_mismatch',
        'The AuthnRequest is addressed to another identity provider',
      );
    }
    const protocolBinding = request.getAttribute('ProtocolBinding');
    if (protocolBinding && protocolBinding !== SAML_BINDINGS.post) {
      throw invalid('Only the HTTP-POST binding is supported for the response');
    }
    const parsed: ParsedAuthnRequest = {
      id,
      issuer,
      forceAuthn: isTrue(request.getAttribute('ForceAuthn')),
      isPassive: isTrue(request.getAttribute('IsPassive')),
    };
    if (request.hasAttribute('AssertionConsumerServiceURL')) {
      const acsUrl = request.getAttribute('AssertionConsumerServiceURL')!;
      try {
        assertHttpUrl(acsUrl, 'AssertionConsumerServiceURL');
      } catch {
        throw invalid('The AuthnRequest names an AssertionConsumerServiceURL that is not an http(s) URL');
      }
      parsed.acsUrl = acsUrl;
    }
    if (input.RelayState !== undefined) parsed.relayState = input.RelayState;
    return parsed;
  }

  function buildResponse(input: ResponseInput): string {
    const { app } = input;
    assertHttpUrl(app.acsUrl, 'The app ACS URL');
    if (input.nameId === '') throw new TypeError('nameId must not be empty');
    const issuedAt = now();
    const responseId = newSamlId();
    const assertionId = newSamlId();
    const issueInstant = samlInstant(issuedAt);
    const notOnOrAfter = samlInstant(issuedAt + settings.assertionLifetimeSeconds * 1000);
    const notBefore = samlInstant(issuedAt - NOT_BEFORE_ALLOWANCE_MS);
    const inResponseTo =
      input.inResponseTo === undefined ? '' : ` InResponseTo="${escapeXml(input.inResponseTo)}"`;
    const issuer = `<saml:Issuer>${escapeXml(settings.entityId)}</saml:Issuer>`;

    const attributes = Object.entries(input.attributes)
      .map(([name, value]) => [name, Array.isArray(value) ? value : [value]] as const)
      .filter(([, values]) => values.length > 0)
      .map(
        ([name, values]) =>
          `<saml:Attribute Name="${escapeXml(name)}" NameFormat="${attributeNameFormat(name)}">` +
          values.map((value) => `<saml:AttributeValue>${escapeXml(value)}</saml:AttributeValue>`).join('') +
          '</saml:Attribute>',
      )
      .join('');

    const assertion =
      `<saml:Assertion xmlns:saml="${SAML_NAMESPACES.assertion}" ID="${assertionId}" Version="2.0" IssueInstant="${issueInstant}">` +
      issuer +
      '<saml:Subject>' +
      `<saml:NameID Format="${escapeXml(app.nameIdFormat ?? NAME_ID_FORMAT_UNSPECIFIED)}">${escapeXml(input.nameId)}</saml:NameID>` +
      '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">' +
      `<saml:SubjectConfirmationData NotOnOrAfter="${notOnOrAfter}" Recipient="${escapeXml(app.acsUrl)}"${inResponseTo}/>` +
      '</saml:SubjectConfirmation>' +
      '</saml:Subject>' +
      `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}">` +
      `<saml:AudienceRestriction><saml:Audience>${escapeXml(app.entityId)}</saml:Audience></saml:AudienceRestriction>` +
      '</saml:Conditions>' +
      `<saml:AuthnStatement AuthnInstant="${samlInstant(input.authnInstant)}" SessionIndex="${escapeXml(input.sessionIndex)}">` +
      '<saml:AuthnContext>' +
      `<saml:AuthnContextClassRef>${escapeXml(input.authnContextClassRef ?? AUTHN_CONTEXT_UNSPECIFIED)}</saml:AuthnContextClassRef>` +
      '</saml:AuthnContext>' +
      '</saml:AuthnStatement>' +
      (attributes === '' ? '' : `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>`) +
      '</saml:Assertion>';

    const response =
      `<samlp:Response xmlns:samlp="${SAML_NAMESPACES.protocol}" xmlns:saml="${SAML_NAMESPACES.assertion}" ID="${responseId}" Version="2.0" IssueInstant="${issueInstant}" Destination="${escapeXml(app.acsUrl)}"${inResponseTo}>` +
      issuer +
      '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>' +
      assertion +
      '</samlp:Response>';

    let signed = signElement(response, assertionId, settings.signing);
    // The Response is signed after the Assertion, so its signature covers the assertion's as well.
    if (app.signResponse) signed = signElement(signed, responseId, settings.signing);
    return Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>${signed}`, 'utf8').toString('base64');
  }

  function postForm(input: {
    acsUrl: string;
    samlResponse: string;
    relayState?: string;
    nonce?: string;
  }): string {
    // An http(s) check keeps a javascript: or data: action out of the form.
    assertHttpUrl(input.acsUrl, 'acsUrl');
    const nonce = input.nonce === undefined ? '' : ` nonce="${escapeXml(input.nonce)}"`;
    const relayState =
      input.relayState === undefined
        ? ''
        : `<input type="hidden" name="RelayState" value="${escapeXml(input.relayState)}">\n`;
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Signing you in</title>
</head>
<body>
<form method="post" action="${escapeXml(input.acsUrl)}">
<input type="hidden" name="SAMLResponse" value="${escapeXml(input.samlResponse)}">
${relayState}<noscript><p>JavaScript is off in this browser. Select Continue to finish signing in.</p></noscript>
<button type="submit">Continue</button>
</form>
<script${nonce}>document.forms[0].submit();</script>
</body>
</html>
`;
  }

  return { metadataXml, parseAuthnRequest, buildResponse, postForm };
}

function isTrue(value: string | null): boolean {
  return value === 'true' || value === '1';
}

function attributeNameFormat(name: string): string {
  return /^(urn|https?):/i.test(name)
    ? 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri'
    : 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic';
}
