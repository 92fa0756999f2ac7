/** Audit events of federation (sign-in through upstream identity providers). */
export const FederationEvents = {
  providerCreated: 'federation.provider.created',
  providerUpdated: 'federation.provider.updated',
  providerDeleted: 'federation.provider.deleted',
  identityLinked: 'federation.identity.linked',
  identityUnlinked: 'federation.identity.unlinked',
  /** A callback that failed before anyone was identified: state, nonce or code refused, provider down. */
  signInFailed: 'federation.signin.failed',
  rolesSynced: 'federation.roles.synced',
} as const;
