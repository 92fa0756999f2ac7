import { randomBytes, X509Certificate } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import {
  type CacheProvider,
  type Profile,
  SAML,
  type SamlConfig,
  SamlStatusError,
  ValidateInResponseTo,
} from '@node-saml/node-saml';
import { DOMParser } from '@xmldom/xmldom';
import { SamlError, type SamlErrorCode } from './errors.js';

export const SAML_NAMESPACES = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
  signature: 'http://www.w3.org/2000/09/xmldsig#',
} as const;

export const SAML_BINDINGS = {
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
} as const;

export const NAME_ID_FORMAT_UNSPECIFIED = 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified';
const BEARER_CONFIRMATION = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const XSI_NAMESPACE = 'http://www.w3.org/2001/XMLSchema-instance';

/** Real messages are a few KiB; anything far larger is refused before it is parsed or inflated. */
export const MAX_SAML_MESSAGE_BYTES = 256 * 1024;

/** RSA-SHA1 is refused for the redirect binding: nothing we talk to needs it, and it is the weaker hash. */
const REDIRECT_SIGNATURE_ALGORITHMS = new Set([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
]);

// ---------------------------------------------------------------------------------------------------------
// XML helpers shared with idp.ts

/**
 * Parses a whole SAML message strictly. xmldom neither fetches external entities nor expands declared
 * ones, but refusing any DTD outright leaves no entity trick (XXE, billion laughs) to reason about, and
 * every parser warning is fatal because xmldom "recovers" from broken markup by guessing.
 */
export function parseSamlXml(xml: string, code: SamlErrorCode, what: string): Document {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml))
    throw new SamlError(code, `${what} contains a document type declaration`);
  const problems: string[] = [];
  const record = (message: string) => {
    problems.push(message);
  };
  let document: Document | undefined;
  try {
    document = new DOMParser({
      locator: {},
      errorHandler: { warning: record, error: record, fatalError: record },
    }).parseFromString(xml, 'text/xml');
  } catch (error) {
    throw new SamlError(code, `${what} is not well-formed XML`, { cause: error });
  }
  if (problems.length > 0 || !document?.documentElement) {
    throw new SamlError(code, `${what} is not well-formed XML`);
  }
  return document;
}

export function isSamlElement(node: Node | null | undefined, namespace: string, localName: string): boolean {
  return (
    node?.nodeType === 1 &&
    (node as Element).namespaceURI === namespace &&
    (node as Element).localName === localName
  );
}

export function childElements(parent: Element, namespace: string, localName: string): Element[] {
  const found: Element[] = [];
  for (let node = parent.firstChild; node; node = node.nextSibling) {
    if (isSamlElement(node, namespace, localName)) found.push(node as Element);
  }
  return found;
}

/**
 * The element's whole text. textContent joins every text node and skips comments, so a NameID such as
 * `admin@evil.test<!---->.example.com` reads in full rather than as its first text node (CVE-2017-11428).
 */
export function elementText(element: Element): string {
  return (element.textContent ?? '').trim();
}

function optionalAttribute(element: Element, name: string): string | undefined {
  return element.hasAttribute(name) ? element.getAttribute(name)! : undefined;
}

/** Decodes base64 strictly: Buffer.from would silently skip characters that do not belong. */
export function decodeSamlBase64(encoded: string, code: SamlErrorCode, what: string): Buffer {
  const compact = encoded.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    throw new SamlError(code, `${what} is not base64`);
  }
  if ((compact.length / 4) * 3 > MAX_SAML_MESSAGE_BYTES) throw new SamlError(code, `${what} is too large`);
  return Buffer.from(compact, 'base64');
}

/** The HTTP-Redirect binding's DEFLATE, bounded so a small message cannot inflate into gigabytes. */
export function inflateSamlMessage(encoded: string, code: SamlErrorCode, what: string): string {
  const compressed = decodeSamlBase64(encoded, code, what);
  try {
    return inflateRawSync(compressed, { maxOutputLength: MAX_SAML_MESSAGE_BYTES }).toString('utf8');
  } catch (error) {
    throw new SamlError(code, `${what} is not DEFLATE-compressed or is too large`, { cause: error });
  }
}

/** xs:dateTime as SAML uses it (always with a zone); Date.parse alone would accept far looser text. */
function parseInstant(value: string | undefined, code: SamlErrorCode, what: string): number | undefined {
  if (value === undefined) return undefined;
  const milliseconds = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value)
    ? Date.parse(value)
    : Number.NaN;
  if (Number.isNaN(milliseconds)) throw new SamlError(code, `${what} is not a valid date and time`);
  return milliseconds;
}

export function newSamlId(): string {
  // IDs are xs:ID (an NCName), so they may not start with a digit.
  return `_${randomBytes(20).toString('hex')}`;
}

/** Normalizes a certificate given as PEM or as bare base64 DER into PEM; undefined if it is not one. */
export function certificateToPem(certificate: string): string | undefined {
  const body = certificate.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  if (body.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return undefined;
  try {
    return new X509Certificate(Buffer.from(body, 'base64')).toString();
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// IdP metadata

export interface IdpDescriptor {
  entityId: string;
  ssoUrl: string;
  sloUrl?: string | undefined;
  /** PEM, or bare base64 DER. */
  certificates: string[];
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

function endpoint(descriptor: Element, service: string, binding: string): string | undefined {
  return childElements(descriptor, SAML_NAMESPACES.metadata, service)
    .find((element) => element.getAttribute('Binding') === binding)
    ?.getAttribute('Location')
    ?.trim();
}

/**
 * Reads an IdP's metadata: its entity ID, where to send AuthnRequests (HTTP-Redirect preferred, as that is
 * the binding `authorizeUrl` uses), where to send LogoutRequests (HTTP-Redirect only, for the same reason),
 * and the certificates it signs with.
 */
export function parseIdpMetadata(xml: string): IdpDescriptor {
  const invalid = (reason: string) => new SamlError('saml_metadata_invalid', reason);
  const root = parseSamlXml(xml, 'saml_metadata_invalid', 'The metadata').documentElement;
  const isIdp = (entity: Element) =>
    childElements(entity, SAML_NAMESPACES.metadata, 'IDPSSODescriptor').some(supportsSaml2);
  let entity: Element | undefined;
  if (isSamlElement(root, SAML_NAMESPACES.metadata, 'EntityDescriptor')) {
    entity = root;
  } else if (isSamlElement(root, SAML_NAMESPACES.metadata, 'EntitiesDescriptor')) {
    entity = Array.from(root.getElementsByTagNameNS(SAML_NAMESPACES.metadata, 'EntityDescriptor')).find(
      isIdp,
    );
    if (!entity) throw invalid('The metadata describes no SAML 2.0 identity provider');
  } else {
    throw invalid('The metadata is neither an EntityDescriptor nor an EntitiesDescriptor');
  }

  const entityId = entity.getAttribute('entityID')?.trim() ?? '';
  if (entityId === '' || entityId.length > 1024) throw invalid('The metadata has no valid entityID');
  const descriptor = childElements(entity, SAML_NAMESPACES.metadata, 'IDPSSODescriptor').find(supportsSaml2);
  if (!descriptor) throw invalid('The metadata has no SAML 2.0 IDPSSODescriptor');

  const ssoUrl =
    endpoint(descriptor, 'SingleSignOnService', SAML_BINDINGS.redirect) ??
    endpoint(descriptor, 'SingleSignOnService', SAML_BINDINGS.post);
  if (!ssoUrl || !isHttpUrl(ssoUrl)) {
    throw invalid('The metadata has no HTTP-Redirect or HTTP-POST SingleSignOnService with a valid URL');
  }
  const sloUrl = endpoint(descriptor, 'SingleLogoutService', SAML_BINDINGS.redirect);
  if (sloUrl !== undefined && !isHttpUrl(sloUrl))
    throw invalid('The SingleLogoutService location is not a URL');

  const certificates: string[] = [];
  for (const keyDescriptor of childElements(descriptor, SAML_NAMESPACES.metadata, 'KeyDescriptor')) {
    const use = keyDescriptor.getAttribute('use');
    if (use && use !== 'signing') continue;
    for (const element of Array.from(
      keyDescriptor.getElementsByTagNameNS(SAML_NAMESPACES.signature, 'X509Certificate'),
    )) {
      const pem = certificateToPem(element.textContent ?? '');
      if (!pem) throw invalid('A signing certificate in the metadata cannot be read');
      if (!certificates.includes(pem)) certificates.push(pem);
    }
  }
  if (certificates.length === 0) throw invalid('The metadata has no signing certificate');

  return { entityId, ssoUrl, sloUrl, certificates };
}

function supportsSaml2(descriptor: Element): boolean {
  return (descriptor.getAttribute('protocolSupportEnumeration') ?? '')
    .split(/\s+/)
    .includes(SAML_NAMESPACES.protocol);
}

// ---------------------------------------------------------------------------------------------------------
// The service provider

export interface ServiceProviderSettings {
  spEntityId: string;
  acsUrl: string;
  sloUrl: string;
  idp: IdpDescriptor;
  allowIdpInitiated: boolean;
  clockSkewMs: number;
  /** How long after its IssueInstant an assertion (or a LogoutRequest) is still accepted. */
  maxAssertionAgeMs: number;
  /** How long an AuthnRequest (or LogoutRequest) id stays valid. */
  requestTtlMs: number;
  nameIdFormat?: string;
}

/** Single-use stores; the real ones live in the database / Redis so every node sees them. */
export interface SamlStores {
  /** Remember an AuthnRequest id we sent, until expiresAt (ms). */
  saveRequest(id: string, expiresAt: number): Promise<void>;
  /** Take (delete and return whether it existed and was unexpired) a request id: true once. */
  takeRequest(id: string): Promise<boolean>;
  /** Record an assertion id until expiresAt; false if it was already recorded (a replay). */
  claimAssertion(id: string, expiresAt: number): Promise<boolean>;
}

export interface SamlAssertion {
  issuer: string;
  nameId: string;
  nameIdFormat?: string;
  sessionIndex?: string;
  assertionId: string;
  inResponseTo?: string;
  /** The earliest NotOnOrAfter of the assertion's Conditions and its subject confirmation (ms). */
  notOnOrAfter?: number;
  /** When the user authenticated at the IdP (ms); may be long ago when the IdP reused its own session. */
  authnInstant?: number;
  authnContextClassRef?: string;
  attributes: Record<string, string[]>;
}

export type LogoutMessage =
  | { kind: 'request'; nameId: string; sessionIndex?: string; responseUrl: string }
  | { kind: 'response'; relayState?: string };

export interface ServiceProvider {
  /** An HTTP-Redirect binding AuthnRequest; the request id is saved before the URL is returned. */
  authorizeUrl(relayState: string): Promise<{ url: string; requestId: string }>;
  /** Validates an HTTP-POST binding response at the ACS; throws a SamlError naming the failed check. */
  acceptResponse(form: { SAMLResponse?: string; RelayState?: string }): Promise<SamlAssertion>;
  /** SP-initiated single logout to the IdP's sloUrl; undefined if the IdP has none. */
  logoutUrl(input: {
    nameId: string;
    nameIdFormat?: string;
    sessionIndex?: string;
    relayState: string;
  }): Promise<string | undefined>;
  /**
   * An IdP's LogoutRequest, or its LogoutResponse to ours (HTTP-Redirect binding). Pass the raw query
   * string when you have it: the signature covers the IdP's own URL encoding, which re-encoding the
   * parsed values reproduces only for IdPs that encode the way encodeURIComponent does.
   */
  acceptLogout(query: Record<string, string>, rawQuery?: string): Promise<LogoutMessage>;
  metadataXml(): string;
}

// node-saml's own InResponseTo bookkeeping is off (validateInResponseTo: never); SamlStores does it instead,
// shared by every node and single-use. This stands in for the per-process cache node-saml would create.
const unusedCache: CacheProvider = {
  saveAsync: async () => null,
  getAsync: async () => null,
  removeAsync: async () => null,
};

const NODE_SAML_FAILURES: ReadonlyArray<readonly [RegExp, SamlErrorCode]> = [
  [/signature|signed|reference|transforms|ID cannot refer|multiple assertions/i, 'saml_signature_invalid'],
  [/expired|not yet valid/i, 'saml_expired'],
  [/audience/i, 'saml_audience_mismatch'],
  [/issuer/i, 'saml_issuer_mismatch'],
];

/** node-saml throws plain Errors; their messages are all it offers to tell its checks apart. */
function fromNodeSaml(error: unknown, fallback: SamlErrorCode): SamlError {
  if (error instanceof SamlError) return error;
  if (error instanceof SamlStatusError)
    return new SamlError('saml_idp_refused', error.message, { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  const code = NODE_SAML_FAILURES.find(([pattern]) => pattern.test(message))?.[1] ?? fallback;
  return new SamlError(code, message, { cause: error });
}

/**
 * Gatehouse as a SAML service provider. node-saml verifies the signature (the assertion itself must be
 * signed by one of the IdP's certificates; a signed Response around an unsigned assertion is refused),
 * the Conditions' time window, the audience and the shape that defeats signature wrapping. Everything it
 * leaves out is checked here against the bytes it verified, never against the unsigned envelope: the
 * assertion's issuer, the bearer confirmation's Recipient and time window, the IssueInstant's age,
 * InResponseTo against the single-use request store, the unsolicited-response policy and replays.
 *
 * node-saml reads the real Date; `now` exists so the checks here can share a test's clock, and must agree
 * with Date in production.
 */
export function createServiceProvider(
  settings: ServiceProviderSettings,
  stores: SamlStores,
  now: () => number = () => Date.now(),
): ServiceProvider {
  const idpCertificates = settings.idp.certificates.map((certificate) => {
    const pem = certificateToPem(certificate);
    if (!pem) throw new SamlError('saml_metadata_invalid', 'An identity provider certificate cannot be read');
    return pem;
  });
  if (idpCertificates.length === 0) {
    throw new SamlError('saml_metadata_invalid', 'The identity provider has no signing certificate');
  }

  const nodeSaml = (messageId: string = newSamlId()) => {
    const config: SamlConfig = {
      issuer: settings.spEntityId,
      callbackUrl: settings.acsUrl,
      entryPoint: settings.idp.ssoUrl,
      // node-saml falls back to the SSO URL when this is empty; logoutUrl() never calls it then.
      logoutUrl: settings.idp.sloUrl ?? '',
      logoutCallbackUrl: settings.sloUrl,
      idpCert: idpCertificates,
      idpIssuer: settings.idp.entityId,
      audience: settings.spEntityId,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      acceptedClockSkewMs: settings.clockSkewMs,
      maxAssertionAgeMs: settings.maxAssertionAgeMs,
      validateInResponseTo: ValidateInResponseTo.never,
      requestIdExpirationPeriodMs: settings.requestTtlMs,
      cacheProvider: unusedCache,
      identifierFormat: settings.nameIdFormat ?? null,
      // A requested PasswordProtectedTransport makes IdPs refuse users who signed in with MFA or a passkey.
      disableRequestedAuthnContext: true,
      generateUniqueId: () => messageId,
    };
    return new SAML(config);
  };

  async function authorizeUrl(relayState: string): Promise<{ url: string; requestId: string }> {
    const requestId = newSamlId();
    const url = await nodeSaml(requestId).getAuthorizeUrlAsync(relayState, undefined, {});
    await stores.saveRequest(requestId, now() + settings.requestTtlMs);
    return { url, requestId };
  }

  async function acceptResponse(form: {
    SAMLResponse?: string;
    RelayState?: string;
  }): Promise<SamlAssertion> {
    const encoded = form.SAMLResponse;
    if (typeof encoded !== 'string' || encoded === '') {
      throw new SamlError('saml_response_invalid', 'The form carries no SAMLResponse');
    }
    const xml = decodeSamlBase64(encoded, 'saml_response_invalid', 'The SAMLResponse').toString('utf8');
    const response = parseSamlXml(xml, 'saml_response_invalid', 'The SAML response').documentElement;
    if (!isSamlElement(response, SAML_NAMESPACES.protocol, 'Response')) {
      throw new SamlError('saml_response_invalid', 'The SAML message is not a Response');
    }

    let profile: Profile | null;
    try {
      ({ profile } = await nodeSaml().validatePostResponseAsync({ SAMLResponse: encoded }));
    } catch (error) {
      throw fromNodeSaml(error, 'saml_response_invalid');
    }
    const signedAssertionXml = profile?.getAssertionXml?.();
    if (!signedAssertionXml)
      throw new SamlError('saml_response_invalid', 'The SAML response has no assertion');

    checkEnvelope(response);
    const signed = parseSamlXml(signedAssertionXml, 'saml_response_invalid', 'The signed assertion');
    const assertion = signed.documentElement;
    const envelopeAssertions = childElements(response, SAML_NAMESPACES.assertion, 'Assertion');
    const assertionId = assertion.getAttribute('ID') ?? '';
    // node-saml returns only the bytes the signature covers; they must be the assertion the response carries.
    if (
      !isSamlElement(assertion, SAML_NAMESPACES.assertion, 'Assertion') ||
      envelopeAssertions.length !== 1 ||
      assertionId === '' ||
      envelopeAssertions[0]!.getAttribute('ID') !== assertionId
    ) {
      throw new SamlError(
        'saml_signature_invalid',
        'The signed assertion is not the one the response carries',
      );
    }
    return readAssertion(response, assertion, assertionId);
  }

  function checkEnvelope(response: Element): void {
    const status = childElements(response, SAML_NAMESPACES.protocol, 'Status')[0];
    const statusCode = status && childElements(status, SAML_NAMESPACES.protocol, 'StatusCode')[0];
    if (statusCode?.getAttribute('Value') !== STATUS_SUCCESS) {
      throw new SamlError(
        'saml_idp_refused',
        `The response status is ${statusCode?.getAttribute('Value') ?? 'missing'}`,
      );
    }
    const destination = optionalAttribute(response, 'Destination');
    if (destination !== undefined && destination !== settings.acsUrl) {
      throw new SamlError('saml_recipient_mismatch', `The response is addressed to ${destination}`);
    }
    const issuer = childElements(response, SAML_NAMESPACES.assertion, 'Issuer')[0];
    if (issuer && elementText(issuer) !== settings.idp.entityId) {
      throw new SamlError('saml_issuer_mismatch', `The response was issued by ${elementText(issuer)}`);
    }
  }

  async function readAssertion(
    response: Element,
    assertion: Element,
    assertionId: string,
  ): Promise<SamlAssertion> {
    const single = (parent: Element, localName: string): Element => {
      const found = childElements(parent, SAML_NAMESPACES.assertion, localName);
      if (found.length !== 1) {
        throw new SamlError('saml_response_invalid', `The assertion must have exactly one ${localName}`);
      }
      return found[0]!;
    };
    const at = now();
    const skew = settings.clockSkewMs;

    const issuerElement = single(assertion, 'Issuer');
    const issuer = elementText(issuerElement);
    if (issuer !== settings.idp.entityId) {
      throw new SamlError('saml_issuer_mismatch', `The assertion was issued by ${issuer}`);
    }

    const issueInstant = parseInstant(
      optionalAttribute(assertion, 'IssueInstant'),
      'saml_response_invalid',
      'The IssueInstant',
    );
    if (issueInstant === undefined)
      throw new SamlError('saml_response_invalid', 'The assertion has no IssueInstant');
    if (issueInstant - skew > at)
      throw new SamlError('saml_expired', 'The assertion was issued in the future');
    if (at - skew >= issueInstant + settings.maxAssertionAgeMs) {
      throw new SamlError('saml_expired', 'The assertion is older than the maximum assertion age');
    }

    const conditionsList = childElements(assertion, SAML_NAMESPACES.assertion, 'Conditions');
    if (conditionsList.length > 1)
      throw new SamlError('saml_response_invalid', 'The assertion has several Conditions');
    const conditions = conditionsList[0];
    if (!conditions)
      throw new SamlError('saml_audience_mismatch', 'The assertion has no audience restriction');
    const conditionsNotOnOrAfter = checkWindow(conditions, 'Conditions', at);
    const restrictions = childElements(conditions, SAML_NAMESPACES.assertion, 'AudienceRestriction');
    const admitsUs = (restriction: Element) =>
      childElements(restriction, SAML_NAMESPACES.assertion, 'Audience').some(
        (audience) => elementText(audience) === settings.spEntityId,
      );
    // Every AudienceRestriction must name us; within one, any of its Audiences may (SAML core 2.5.1.4).
    if (restrictions.length === 0 || !restrictions.every(admitsUs)) {
      throw new SamlError('saml_audience_mismatch', `The assertion is not meant for ${settings.spEntityId}`);
    }

    const subject = single(assertion, 'Subject');
    if (childElements(subject, SAML_NAMESPACES.assertion, 'EncryptedID').length > 0) {
      throw new SamlError('saml_response_invalid', 'Encrypted NameIDs are not supported');
    }
    const nameIdElement = single(subject, 'NameID');
    const nameId = elementText(nameIdElement);
    if (nameId === '') throw new SamlError('saml_response_invalid', 'The NameID is empty');
    const confirmation = bearerConfirmation(subject, at);

    const envelopeInResponseTo = optionalAttribute(response, 'InResponseTo');
    const inResponseTo = confirmation.inResponseTo;
    // Only the confirmation's InResponseTo is signed when the Response is not; an unsigned one that
    // disagrees with it (or stands alone) would let an unsolicited assertion pose as a solicited one.
    if (envelopeInResponseTo !== undefined && envelopeInResponseTo !== inResponseTo) {
      throw new SamlError(
        'saml_response_invalid',
        "The response's InResponseTo disagrees with the assertion's",
      );
    }

    const notOnOrAfter = Math.min(
      conditionsNotOnOrAfter ?? Number.POSITIVE_INFINITY,
      confirmation.notOnOrAfter,
    );
    if (inResponseTo !== undefined) {
      if (!(await stores.takeRequest(inResponseTo))) {
        throw new SamlError(
          'saml_replay',
          'The response answers no outstanding request (unknown, expired or used)',
        );
      }
    } else if (!settings.allowIdpInitiated) {
      throw new SamlError(
        'saml_unsolicited',
        'IdP-initiated sign-in is not allowed for this identity provider',
      );
    }
    // Kept until the assertion could no longer be accepted anyway, clock skew included.
    const acceptableUntil = Math.min(notOnOrAfter, issueInstant + settings.maxAssertionAgeMs) + skew;
    if (!(await stores.claimAssertion(assertionId, acceptableUntil))) {
      throw new SamlError('saml_replay', 'The assertion has already been used');
    }

    const authnStatement = childElements(assertion, SAML_NAMESPACES.assertion, 'AuthnStatement')[0];
    const classRef = authnStatement
      ?.getElementsByTagNameNS(SAML_NAMESPACES.assertion, 'AuthnContextClassRef')
      .item(0);
    const result: SamlAssertion = {
      issuer,
      nameId,
      assertionId,
      notOnOrAfter,
      attributes: readAttributes(assertion),
    };
    const nameIdFormat = optionalAttribute(nameIdElement, 'Format');
    if (nameIdFormat) result.nameIdFormat = nameIdFormat;
    const sessionIndex = authnStatement && optionalAttribute(authnStatement, 'SessionIndex');
    if (sessionIndex) result.sessionIndex = sessionIndex;
    if (inResponseTo !== undefined) result.inResponseTo = inResponseTo;
    const authnInstant =
      authnStatement &&
      parseInstant(
        optionalAttribute(authnStatement, 'AuthnInstant'),
        'saml_response_invalid',
        'The AuthnInstant',
      );
    if (authnInstant !== undefined) {
      if (authnInstant - skew > at)
        throw new SamlError('saml_expired', 'The user authenticated in the future');
      result.authnInstant = authnInstant;
    }
    if (classRef && elementText(classRef)) result.authnContextClassRef = elementText(classRef);
    return result;
  }

  /** NotBefore / NotOnOrAfter of an element, with the clock skew; returns its NotOnOrAfter. */
  function checkWindow(element: Element, what: string, at: number): number | undefined {
    const notBefore = parseInstant(
      optionalAttribute(element, 'NotBefore'),
      'saml_response_invalid',
      `${what} NotBefore`,
    );
    const notOnOrAfter = parseInstant(
      optionalAttribute(element, 'NotOnOrAfter'),
      'saml_response_invalid',
      `${what} NotOnOrAfter`,
    );
    if (notBefore !== undefined && at + settings.clockSkewMs < notBefore) {
      throw new SamlError('saml_expired', `${what}: not yet valid`);
    }
    if (notOnOrAfter !== undefined && at - settings.clockSkewMs >= notOnOrAfter) {
      throw new SamlError('saml_expired', `${what}: expired`);
    }
    return notOnOrAfter;
  }

  /**
   * The first bearer SubjectConfirmation that passes every check (an IdP may list several, e.g. one per
   * ACS URL); if none does, the first one's failure explains why.
   */
  function bearerConfirmation(subject: Element, at: number): { inResponseTo?: string; notOnOrAfter: number } {
    const bearers = childElements(subject, SAML_NAMESPACES.assertion, 'SubjectConfirmation').filter(
      (confirmation) => confirmation.getAttribute('Method') === BEARER_CONFIRMATION,
    );
    if (bearers.length === 0)
      throw new SamlError('saml_response_invalid', 'The assertion has no bearer confirmation');
    let firstFailure: unknown;
    for (const bearer of bearers) {
      try {
        const data = childElements(bearer, SAML_NAMESPACES.assertion, 'SubjectConfirmationData');
        if (data.length !== 1) {
          throw new SamlError(
            'saml_response_invalid',
            'A bearer confirmation needs one SubjectConfirmationData',
          );
        }
        const confirmationData = data[0]!;
        const recipient = optionalAttribute(confirmationData, 'Recipient');
        if (recipient !== settings.acsUrl) {
          throw new SamlError(
            'saml_recipient_mismatch',
            `The assertion is addressed to ${recipient ?? 'nobody'}`,
          );
        }
        const notOnOrAfter = checkWindow(confirmationData, 'The subject confirmation', at);
        // SAML profiles 4.1.4.2: a bearer confirmation must say when it stops being usable.
        if (notOnOrAfter === undefined) {
          throw new SamlError('saml_response_invalid', 'The subject confirmation has no NotOnOrAfter');
        }
        const inResponseTo = optionalAttribute(confirmationData, 'InResponseTo');
        return inResponseTo === undefined ? { notOnOrAfter } : { inResponseTo, notOnOrAfter };
      } catch (error) {
        firstFailure ??= error;
      }
    }
    throw firstFailure;
  }

  async function logoutUrl(input: {
    nameId: string;
    nameIdFormat?: string;
    sessionIndex?: string;
    relayState: string;
  }): Promise<string | undefined> {
    if (!settings.idp.sloUrl) return undefined;
    const requestId = newSamlId();
    const user: Profile = {
      issuer: settings.spEntityId,
      nameID: input.nameId,
      nameIDFormat: input.nameIdFormat ?? settings.nameIdFormat ?? NAME_ID_FORMAT_UNSPECIFIED,
    };
    if (input.sessionIndex) user.sessionIndex = input.sessionIndex;
    const url = await nodeSaml(requestId).getLogoutUrlAsync(user, input.relayState, {});
    await stores.saveRequest(requestId, now() + settings.requestTtlMs);
    return url;
  }

  async function acceptLogout(query: Record<string, string>, rawQuery?: string): Promise<LogoutMessage> {
    const isRequest = typeof query.SAMLRequest === 'string';
    const isResponse = typeof query.SAMLResponse === 'string';
    if (isRequest === isResponse) {
      throw new SamlError('saml_request_invalid', 'Expected exactly one of SAMLRequest and SAMLResponse');
    }
    const invalidCode: SamlErrorCode = isRequest ? 'saml_request_invalid' : 'saml_response_invalid';
    const messageKey = isRequest ? 'SAMLRequest' : 'SAMLResponse';
    // node-saml accepts an unsigned redirect message; an unsigned LogoutRequest would let anyone sign users out.
    if (!query.Signature || !query.SigAlg) {
      throw new SamlError('saml_signature_invalid', 'The logout message is not signed');
    }
    if (!REDIRECT_SIGNATURE_ALGORITHMS.has(query.SigAlg)) {
      throw new SamlError(
        'saml_signature_invalid',
        `The signature algorithm ${query.SigAlg} is not accepted`,
      );
    }
    const xml = inflateSamlMessage(query[messageKey]!, invalidCode, `The ${messageKey}`);
    const message = parseSamlXml(xml, invalidCode, `The ${messageKey}`).documentElement;
    const expectedName = isRequest ? 'LogoutRequest' : 'LogoutResponse';
    if (!isSamlElement(message, SAML_NAMESPACES.protocol, expectedName)) {
      throw new SamlError(invalidCode, `The ${messageKey} is not a ${expectedName}`);
    }
    const destination = optionalAttribute(message, 'Destination');
    if (destination !== undefined && destination !== settings.sloUrl) {
      throw new SamlError('saml_recipient_mismatch', `The logout message is addressed to ${destination}`);
    }

    let result: Awaited<ReturnType<SAML['validateRedirectAsync']>>;
    try {
      result = await nodeSaml().validateRedirectAsync(
        query,
        signedRedirectContent(query, messageKey, rawQuery),
      );
    } catch (error) {
      throw fromNodeSaml(error, invalidCode);
    }

    if (!isRequest) {
      const inResponseTo = optionalAttribute(message, 'InResponseTo');
      if (inResponseTo === undefined) {
        throw new SamlError('saml_unsolicited', 'The LogoutResponse answers no request');
      }
      if (!(await stores.takeRequest(inResponseTo))) {
        throw new SamlError('saml_replay', 'The LogoutResponse answers no outstanding request');
      }
      return query.RelayState === undefined
        ? { kind: 'response' }
        : { kind: 'response', relayState: query.RelayState };
    }

    const profile = result.profile;
    if (!profile?.ID || !profile.nameID)
      throw new SamlError('saml_request_invalid', 'The LogoutRequest is incomplete');
    const at = now();
    const issueInstant = parseInstant(
      optionalAttribute(message, 'IssueInstant'),
      'saml_request_invalid',
      'The IssueInstant',
    );
    if (issueInstant === undefined)
      throw new SamlError('saml_request_invalid', 'The LogoutRequest has no IssueInstant');
    if (
      issueInstant - settings.clockSkewMs > at ||
      at - settings.clockSkewMs >= issueInstant + settings.maxAssertionAgeMs
    ) {
      throw new SamlError('saml_expired', 'The LogoutRequest is too old or from the future');
    }
    // A captured LogoutRequest replayed later would sign the user out of their next session.
    const claimed = await stores.claimAssertion(
      profile.ID,
      issueInstant + settings.maxAssertionAgeMs + settings.clockSkewMs,
    );
    if (!claimed) throw new SamlError('saml_replay', 'The LogoutRequest has already been used');
    if (!settings.idp.sloUrl) {
      throw new SamlError(
        'saml_request_invalid',
        'The identity provider has no single logout endpoint to answer',
      );
    }
    const responseUrl = await nodeSaml().getLogoutResponseUrlAsync(profile, query.RelayState ?? '', {}, true);
    const sessionIndex = typeof profile.sessionIndex === 'string' ? profile.sessionIndex : undefined;
    return sessionIndex === undefined
      ? { kind: 'request', nameId: profile.nameID.trim(), responseUrl }
      : { kind: 'request', nameId: profile.nameID.trim(), sessionIndex, responseUrl };
  }

  return {
    authorizeUrl,
    acceptResponse,
    logoutUrl,
    acceptLogout,
    metadataXml: () => nodeSaml().generateServiceProviderMetadata(null, null),
  };
}

/**
 * The octets the redirect binding signs: `SAMLRequest|SAMLResponse=…[&RelayState=…]&SigAlg=…`, each as
 * the IdP encoded it when the raw query is known, else as encodeURIComponent encodes it.
 */
function signedRedirectContent(query: Record<string, string>, messageKey: string, rawQuery?: string): string {
  const order = [messageKey, 'RelayState', 'SigAlg'];
  if (rawQuery === undefined) {
    return order
      .filter((key) => query[key] !== undefined)
      .map((key) => `${key}=${encodeURIComponent(query[key]!)}`)
      .join('&');
  }
  const tokens = new Map<string, string>();
  for (const token of rawQuery.replace(/^\?/, '').split('&')) {
    const separator = token.indexOf('=');
    const key = decodeQueryComponent(separator < 0 ? token : token.slice(0, separator));
    if (!order.includes(key) && key !== 'Signature') continue;
    // With a parameter repeated, the value verified and the value used could differ.
    if (tokens.has(key)) throw new SamlError('saml_signature_invalid', `The query repeats ${key}`);
    if (decodeQueryComponent(separator < 0 ? '' : token.slice(separator + 1)) !== query[key]) {
      throw new SamlError('saml_signature_invalid', `The raw query's ${key} differs from the parsed one`);
    }
    tokens.set(key, token);
  }
  return order
    .filter((key) => tokens.has(key))
    .map((key) => tokens.get(key)!)
    .join('&');
}

function decodeQueryComponent(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new SamlError('saml_signature_invalid', 'The query is not correctly URL-encoded');
  }
}

function readAttributes(assertion: Element): Record<string, string[]> {
  // A Map, so an attribute named __proto__ cannot reach the prototype of the object handed out.
  const attributes = new Map<string, string[]>();
  for (const statement of childElements(assertion, SAML_NAMESPACES.assertion, 'AttributeStatement')) {
    for (const attribute of childElements(statement, SAML_NAMESPACES.assertion, 'Attribute')) {
      const name = attribute.getAttribute('Name')?.trim();
      if (!name) continue;
      const values = childElements(attribute, SAML_NAMESPACES.assertion, 'AttributeValue')
        .filter((value) => value.getAttributeNS(XSI_NAMESPACE, 'nil') !== 'true')
        .map(elementText);
      attributes.set(name, [...(attributes.get(name) ?? []), ...values]);
    }
  }
  return Object.fromEntries(attributes);
}
