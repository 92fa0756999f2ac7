/** Security events this module records (stored in the audit log). */
export const SessionEvents = {
  created: 'session.created',
  revoked: 'session.revoked',
  revokedAll: 'session.revoked_all',
  evicted: 'session.evicted',
  rotated: 'session.rotated',
  csrfRejected: 'security.csrf.rejected',
} as const;
