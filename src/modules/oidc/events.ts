/** Security events of the OpenID Connect provider (stored in the audit log). */
export const OidcEvents = {
  clientCreated: 'client.created',
  clientUpdated: 'client.updated',
  clientEnabled: 'client.enabled',
  clientDisabled: 'client.disabled',
  clientSecretRotated: 'client.secret_rotated',
  clientDeleted: 'client.deleted',
  consentRevoked: 'oauth.consent.revoked',
  resourceCreated: 'resource.created',
  resourceDeleted: 'resource.deleted',
  tokenIssued: 'oauth.token.issued',
  tokenRefused: 'oauth.token.refused',
  tokenReused: 'oauth.token.reused',
  grantRevoked: 'oauth.grant.revoked',
  signingKeysRotated: 'key.rotated',
} as const;
