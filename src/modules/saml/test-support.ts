/**
 * TEST ONLY: in-memory single-use stores and XML surgery for the SAML tests. Nothing outside tests may
 * import this; the real stores live in the database / Redis so every node sees them.
 */
import { createSign } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import type { IdpSigningKey } from './idp.js';
import { childElements, SAML_NAMESPACES, type SamlStores } from './sp.js';

export interface MemorySamlStores extends SamlStores {
  readonly requests: Map<string, number>;
  readonly assertions: Map<string, number>;
}

export function memorySamlStores(now: () => number = () => Date.now()): MemorySamlStores {
  const requests = new Map<string, number>();
  const assertions = new Map<string, number>();
  return {
    requests,
    assertions,
    async saveRequest(id, expiresAt) {
      requests.set(id, expiresAt);
    },
    async takeRequest(id) {
      const expiresAt = requests.get(id);
      requests.delete(id);
      return expiresAt !== undefined && expiresAt > now();
    },
    async claimAssertion(id, expiresAt) {
      const held = assertions.get(id);
      if (held !== undefined && held > now()) return false;
      assertions.set(id, expiresAt);
      return true;
    },
  };
}

export function decodeResponse(samlResponse: string): Document {
  return new DOMParser().parseFromString(Buffer.from(samlResponse, 'base64').toString('utf8'), 'text/xml');
}

export function encodeResponse(document: Document): string {
  return Buffer.from(new XMLSerializer().serializeToString(document), 'utf8').toString('base64');
}

/** Decodes a response, lets the test rearrange it, and encodes it again without re-signing anything. */
export function tamper(
  samlResponse: string,
  change: (response: Element, document: Document) => void,
): string {
  const document = decodeResponse(samlResponse);
  change(document.documentElement, document);
  return encodeResponse(document);
}

export function theAssertion(response: Element): Element {
  const assertion = childElements(response, SAML_NAMESPACES.assertion, 'Assertion')[0];
  if (!assertion) throw new Error('the response has no assertion');
  return assertion;
}

export function theSignature(element: Element): Element {
  const signature = childElements(element, SAML_NAMESPACES.signature, 'Signature')[0];
  if (!signature) throw new Error('the element is not signed');
  return signature;
}

export function removeSignature(element: Element): void {
  for (const signature of childElements(element, SAML_NAMESPACES.signature, 'Signature')) {
    element.removeChild(signature);
  }
}

export function theChild(parent: Element, namespace: string, localName: string): Element {
  const child = childElements(parent, namespace, localName)[0];
  if (!child) throw new Error(`no ${localName} under ${parent.localName}`);
  return child;
}

/** Signs the element with this ID the way a conforming IdP would (after its Issuer). */
export function signForTest(xml: string, elementId: string, signing: IdpSigningKey): string {
  const signer = new SignedXml({
    privateKey: signing.privateKeyPem,
    publicCert: signing.certificatePem,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  signer.addReference({
    xpath: `//*[@ID='${elementId}']`,
    transforms: [
      'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
      'http://www.w3.org/2001/10/xml-exc-c14n#',
    ],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  signer.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: `//*[@ID='${elementId}']/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return signer.getSignedXml();
}

/**
 * Changes a genuine response's assertion and signs it again with the IdP's key: what an IdP that emits
 * the changed shape would send, for the checks node-saml leaves to us.
 */
export function resignAssertion(
  samlResponse: string,
  signing: IdpSigningKey,
  change: (assertion: Element, response: Element) => void,
): string {
  const document = decodeResponse(samlResponse);
  const assertion = theAssertion(document.documentElement);
  removeSignature(assertion);
  change(assertion, document.documentElement);
  const xml = new XMLSerializer().serializeToString(document);
  return Buffer.from(signForTest(xml, assertion.getAttribute('ID')!, signing), 'utf8').toString('base64');
}

/** Removes the assertion's signature and signs the Response instead. */
export function signResponseOnly(samlResponse: string, signing: IdpSigningKey): string {
  const document = decodeResponse(samlResponse);
  removeSignature(document.documentElement);
  removeSignature(theAssertion(document.documentElement));
  const xml = new XMLSerializer().serializeToString(document);
  return Buffer.from(
    signForTest(xml, document.documentElement.getAttribute('ID')!, signing),
    'utf8',
  ).toString('base64');
}

const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

/**
 * An HTTP-Redirect binding message signed as an IdP signs it. `lowercaseHex` encodes the query the way
 * some IdPs (ADFS among them) do, which only the raw query string preserves.
 */
export function signedRedirect(input: {
  messageKey: 'SAMLRequest' | 'SAMLResponse';
  xml: string;
  relayState?: string;
  privateKeyPem: string;
  sigAlg?: string;
  lowercaseHex?: boolean;
}): { query: Record<string, string>; rawQuery: string } {
  const encode = (value: string) => {
    const encoded = encodeURIComponent(value);
    return input.lowercaseHex
      ? encoded.replace(/%[0-9A-F]{2}/g, (percentEscape) => percentEscape.toLowerCase())
      : encoded;
  };
  const query: Record<string, string> = {
    [input.messageKey]: deflateRawSync(Buffer.from(input.xml, 'utf8')).toString('base64'),
  };
  if (input.relayState !== undefined) query.RelayState = input.relayState;
  query.SigAlg = input.sigAlg ?? RSA_SHA256;
  const signed = [input.messageKey, 'RelayState', 'SigAlg']
    .filter((key) => query[key] !== undefined)
    .map((key) => `${key}=${encode(query[key]!)}`)
    .join('&');
  const signer = createSign(`RSA-${query.SigAlg.replace(/^.*#rsa-/, '').toUpperCase()}`);
  signer.update(signed);
  query.Signature = signer.sign(input.privateKeyPem, 'base64');
  return { query, rawQuery: `${signed}&Signature=${encode(query.Signature)}` };
}
