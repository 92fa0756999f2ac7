/** Events of the audit log about itself. */
export const AuditEvents = {
  exported: 'audit.exported',
  pruned: 'audit.retention.pruned',
  verified: 'audit.verified',
} as const;
