import { defineErrorCodes, GatehouseError, type GatehouseErrorOptions } from '../../platform/errors.js';

/**
 * Each code names the check that refused a message, so the caller can audit which one failed. The messages
 * given at the throw sites carry details for the logs (expected and received values); for the checks a
 * stranger could probe, only the title reaches the client.
 */
export const SamlErrors = defineErrorCodes({
  saml_metadata_invalid: {
    status: 400,
    title: 'The SAML identity provider metadata is not valid',
    expose: true,
  },
  saml_request_invalid: { status: 400, title: 'The SAML request is not valid', expose: true },
  saml_response_invalid: { status: 400, title: 'The SAML response is not valid', expose: false },
  saml_signature_invalid: {
    status: 401,
    title: 'The SAML message is not signed by the identity provider',
    expose: false,
  },
  saml_issuer_mismatch: {
    status: 401,
    title: 'The SAML message comes from an unexpected identity provider',
    expose: false,
  },
  saml_audience_mismatch: {
    status: 401,
    title: 'The SAML assertion is meant for another service',
    expose: false,
  },
  saml_recipient_mismatch: {
    status: 401,
    title: 'The SAML message was sent to another address',
    expose: false,
  },
  saml_expired: { status: 401, title: 'The SAML assertion is expired or not yet valid', expose: false },
  saml_replay: { status: 401, title: 'The SAML message has already been used', expose: false },
  saml_unsolicited: { status: 401, title: 'Sign-in must start at this site', expose: false },
  saml_idp_refused: { status: 401, title: 'The identity provider did not sign you in', expose: false },
  saml_connection_not_found: { status: 404, title: 'No such SAML connection', expose: true },
  saml_connection_invalid: {
    status: 400,
    title: 'The SAML connection settings are incomplete',
    expose: true,
  },
  saml_email_domain: {
    status: 403,
    title: 'This e-mail address does not belong to the connection’s domains',
    expose: true,
  },
  saml_app_not_found: { status: 404, title: 'No such SAML application', expose: true },
  saml_app_exists: { status: 409, title: 'A SAML application with that entity ID exists', expose: true },
  saml_unknown_app: {
    status: 400,
    title: 'This application is not registered for single sign-on, or its address does not match',
    expose: true,
  },
});

export type SamlErrorCode = keyof typeof SamlErrors;

export class SamlError extends GatehouseError {
  declare readonly code: SamlErrorCode;

  constructor(code: SamlErrorCode, message?: string, options?: GatehouseErrorOptions) {
    super(code, message, options);
    this.name = 'SamlError';
  }
}

export function isSamlError(error: unknown): error is SamlError {
  return error instanceof SamlError;
}

/** The check that refused a SAML message, for the audit trail; undefined for anything else. */
export function samlFailure(error: unknown): SamlErrorCode | undefined {
  return isSamlError(error) ? error.code : undefined;
}
