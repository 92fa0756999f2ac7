/** Security events of authorization (logged now; stored by the audit log once it exists). */
export const AuthzEvents = {
  permissionCreated: 'permission.created',
  permissionDeleted: 'permission.deleted',
  roleCreated: 'role.created',
  roleChanged: 'role.changed',
  roleDeleted: 'role.deleted',
  roleAssigned: 'role.assigned',
  roleUnassigned: 'role.unassigned',
  groupCreated: 'group.created',
  groupDeleted: 'group.deleted',
  groupMemberAdded: 'group.member_added',
  groupMemberRemoved: 'group.member_removed',
  groupNested: 'group.nested',
  groupUnnested: 'group.unnested',
  permissionDenied: 'authz.denied',
} as const;
