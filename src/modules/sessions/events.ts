/** Security events this module records (the audit log stores them once it exists; until then they are logged). */
export const SessionEvents = {
  created: 'session.created',
  revoked: 'session.revoked',
  revokedAll: 'session.revoked_all',
  evicted: 'session.evicted',
  rotated: 'session.rotated',
  csrfRejected: 'security.csrf.rejected',
} as const;
