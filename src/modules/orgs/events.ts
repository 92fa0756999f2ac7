/** Security events of organizations (stored in the audit log). */
export const OrgEvents = {
  created: 'org.created',
  deleted: 'org.deleted',
  memberAdded: 'org.member_added',
  memberRemoved: 'org.member_removed',
  roleGranted: 'org.role_granted',
  roleRevoked: 'org.role_revoked',
  invitationSent: 'org.invitation_sent',
  invitationAccepted: 'org.invitation_accepted',
} as const;
