/** Audit events of SAML (connections are identity providers: their changes are `federation.provider.*`). */
export const SamlEvents = {
  appCreated: 'saml.app.created',
  appUpdated: 'saml.app.updated',
  appDeleted: 'saml.app.deleted',
  /** Gatehouse, as identity provider, sent a signed assertion to an app. */
  assertionIssued: 'saml.assertion.issued',
  /** An identity provider's LogoutRequest ended the person's sessions. */
  loggedOut: 'saml.logout',
} as const;
