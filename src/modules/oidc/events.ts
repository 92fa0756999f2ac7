/** Security events of the OpenID Connect provider (logged now; stored by the audit log once it exists). */
export const OidcEvents = {
  clientCreated: 'client.created',
  clientEnabled: 'client.enabled',
  clientDisabled: 'client.disabled',
  clientSecretRotated: 'client.secret_rotated',
  clientDeleted: 'client.deleted',
  consentRevoked: 'oauth.consent.revoked',
  resourceCreated: 'resource.created',
  resourceDeleted: 'resource.deleted',
} as const;
