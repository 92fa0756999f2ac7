import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../../platform/db/tables.js';

export interface AuthzPermissionsTable {
  /** `resource:action`, `resource:*` or `*`. */
  name: string;
  description: string;
  builtin: number;
  created_at: number;
}

export interface AuthzRolesTable {
  id: string;
  name: string;
  description: string;
  builtin: number;
  created_at: number;
  updated_at: number;
}

export interface AuthzRolePermissionsTable {
  role_id: string;
  permission: string;
}

export interface AuthzRoleIncludesTable {
  role_id: string;
  included_role_id: string;
}

export interface AuthzGroupsTable {
  id: string;
  name: string;
  description: string;
  created_at: number;
  updated_at: number;
}

export interface AuthzGroupMembersTable {
  group_id: string;
  user_id: string;
  created_at: number;
}

export interface AuthzGroupParentsTable {
  group_id: string;
  parent_id: string;
}

export type PrincipalType = 'user' | 'group' | 'service_account';
export type KeyPrincipalType = 'user' | 'service_account';

export interface AuthzRoleAssignmentsTable {
  role_id: string;
  principal_type: PrincipalType;
  principal_id: string;
  created_at: number;
}

export interface ServiceAccountsTable {
  id: string;
  name: string;
  description: string;
  disabled: number;
  created_at: number;
  updated_at: number;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  principal_type: KeyPrincipalType;
  principal_id: string;
  secret_hash: string;
  previous_secret_hash: string | null;
  previous_valid_until: number | null;
  /** JSON array of permissions; empty: whatever the principal holds. */
  scopes: string;
  expires_at: number | null;
  last_used_at: number | null;
  last_used_ip: string | null;
  created_at: number;
  revoked_at: number | null;
}

export interface AuthzPoliciesTable {
  id: string;
  name: string;
  description: string;
  /** One Cedar statement. */
  text: string;
  version: number;
  enabled: number;
  created_at: number;
  updated_at: number;
}

export interface AuthzPolicyVersionsTable {
  policy_id: string;
  version: number;
  text: string;
  enabled: number;
  changed_by: string | null;
  created_at: number;
}

declare module '../../platform/db/tables.js' {
  interface Tables {
    authz_policies: AuthzPoliciesTable;
    authz_policy_versions: AuthzPolicyVersionsTable;
    service_accounts: ServiceAccountsTable;
    api_keys: ApiKeysTable;
    authz_permissions: AuthzPermissionsTable;
    authz_roles: AuthzRolesTable;
    authz_role_permissions: AuthzRolePermissionsTable;
    authz_role_includes: AuthzRoleIncludesTable;
    authz_groups: AuthzGroupsTable;
    authz_group_members: AuthzGroupMembersTable;
    authz_group_parents: AuthzGroupParentsTable;
    authz_role_assignments: AuthzRoleAssignmentsTable;
  }
}

type Db = Kysely<Tables> | Transaction<Tables>;
export type RoleRow = AuthzRolesTable;
export type GroupRow = AuthzGroupsTable;
export type PermissionRow = AuthzPermissionsTable;

export interface Page {
  readonly limit: number;
  readonly offset: number;
}

// The whole graph, for the in-memory model ------------------------------------------------------------------

export async function loadGraphRows(db: Db) {
  const [roles, rolePermissions, roleIncludes, groupParents] = await Promise.all([
    db.selectFrom('authz_roles').select(['id', 'name']).execute(),
    db.selectFrom('authz_role_permissions').selectAll().execute(),
    db.selectFrom('authz_role_includes').selectAll().execute(),
    db.selectFrom('authz_group_parents').selectAll().execute(),
  ]);
  return { roles, rolePermissions, roleIncludes, groupParents };
}

// A user's place in it ----------------------------------------------------------------------------------------

export async function userPrincipals(db: Db, userId: string) {
  const [user, groups, roles] = await Promise.all([
    db.selectFrom('users').select(['id', 'status']).where('id', '=', userId).executeTakeFirst(),
    db.selectFrom('authz_group_members').select('group_id').where('user_id', '=', userId).execute(),
    db
      .selectFrom('authz_role_assignments')
      .select('role_id')
      .where('principal_type', '=', 'user')
      .where('principal_id', '=', userId)
      .execute(),
  ]);
  return { user, groupIds: groups.map((row) => row.group_id), roleIds: roles.map((row) => row.role_id) };
}

export async function groupRoleAssignments(db: Db, groupIds: readonly string[]) {
  if (groupIds.length === 0) return [];
  return db
    .selectFrom('authz_role_assignments')
    .select(['role_id', 'principal_id'])
    .where('principal_type', '=', 'group')
    .where('principal_id', 'in', groupIds)
    .execute();
}

export async function groupNames(db: Db, groupIds: readonly string[]) {
  if (groupIds.length === 0) return [];
  return db.selectFrom('authz_groups').select(['id', 'name']).where('id', 'in', groupIds).execute();
}

// Permissions -------------------------------------------------------------------------------------------------

export async function listPermissions(db: Db, page?: Page): Promise<PermissionRow[]> {
  const query = db.selectFrom('authz_permissions').selectAll().orderBy('name');
  return (page ? query.limit(page.limit).offset(page.offset) : query).execute();
}

export async function findPermission(db: Db, name: string): Promise<PermissionRow | undefined> {
  return db.selectFrom('authz_permissions').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function insertPermission(db: Db, row: PermissionRow): Promise<void> {
  await db.insertInto('authz_permissions').values(row).execute();
}

export async function deletePermission(db: Db, name: string): Promise<number> {
  const result = await db
    .deleteFrom('authz_permissions')
    .where('name', '=', name)
    .where('builtin', '=', 0)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function missingPermissions(db: Db, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const found = await db.selectFrom('authz_permissions').select('name').where('name', 'in', names).execute();
  const known = new Set(found.map((row) => row.name));
  return names.filter((name) => !known.has(name));
}

// Roles -------------------------------------------------------------------------------------------------------

export async function listRoles(db: Db, page: Page): Promise<RoleRow[]> {
  return db
    .selectFrom('authz_roles')
    .selectAll()
    .orderBy('name')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
}

export async function findRole(db: Db, idOrName: string): Promise<RoleRow | undefined> {
  return db
    .selectFrom('authz_roles')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
    .executeTakeFirst();
}

export async function roleDetails(db: Db, roleIds: readonly string[]) {
  if (roleIds.length === 0) return { permissions: [], includes: [] };
  const [permissions, includes] = await Promise.all([
    db.selectFrom('authz_role_permissions').selectAll().where('role_id', 'in', roleIds).execute(),
    db.selectFrom('authz_role_includes').selectAll().where('role_id', 'in', roleIds).execute(),
  ]);
  return { permissions, includes };
}

export async function insertRole(db: Db, row: RoleRow): Promise<void> {
  await db.insertInto('authz_roles').values(row).execute();
}

export async function updateRole(db: Db, id: string, values: { description?: string; updated_at: number }) {
  await db.updateTable('authz_roles').set(values).where('id', '=', id).execute();
}

export async function deleteRole(db: Db, id: string): Promise<void> {
  await db.deleteFrom('authz_role_assignments').where('role_id', '=', id).execute();
  await db.deleteFrom('authz_role_includes').where('included_role_id', '=', id).execute();
  await db.deleteFrom('authz_role_includes').where('role_id', '=', id).execute();
  await db.deleteFrom('authz_role_permissions').where('role_id', '=', id).execute();
  await db.deleteFrom('authz_roles').where('id', '=', id).execute();
}

export async function replaceRolePermissions(db: Db, roleId: string, permissions: readonly string[]) {
  await db.deleteFrom('authz_role_permissions').where('role_id', '=', roleId).execute();
  if (permissions.length > 0) {
    await db
      .insertInto('authz_role_permissions')
      .values(permissions.map((permission) => ({ role_id: roleId, permission })))
      .execute();
  }
}

export async function replaceRoleIncludes(db: Db, roleId: string, included: readonly string[]) {
  await db.deleteFrom('authz_role_includes').where('role_id', '=', roleId).execute();
  if (included.length > 0) {
    await db
      .insertInto('authz_role_includes')
      .values(included.map((includedRoleId) => ({ role_id: roleId, included_role_id: includedRoleId })))
      .execute();
  }
}

// Groups ------------------------------------------------------------------------------------------------------

export async function listGroups(db: Db, page: Page): Promise<GroupRow[]> {
  return db
    .selectFrom('authz_groups')
    .selectAll()
    .orderBy('name')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
}

export async function findGroup(db: Db, idOrName: string): Promise<GroupRow | undefined> {
  return db
    .selectFrom('authz_groups')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
    .executeTakeFirst();
}

export async function insertGroup(db: Db, row: GroupRow): Promise<void> {
  await db.insertInto('authz_groups').values(row).execute();
}

export async function deleteGroup(db: Db, id: string): Promise<void> {
  await db
    .deleteFrom('authz_role_assignments')
    .where('principal_type', '=', 'group')
    .where('principal_id', '=', id)
    .execute();
  await db.deleteFrom('authz_group_parents').where('group_id', '=', id).execute();
  await db.deleteFrom('authz_group_parents').where('parent_id', '=', id).execute();
  await db.deleteFrom('authz_group_members').where('group_id', '=', id).execute();
  await db.deleteFrom('authz_groups').where('id', '=', id).execute();
}

export async function groupDetails(db: Db, groupId: string) {
  const [members, parents, children, roles] = await Promise.all([
    db
      .selectFrom('authz_group_members')
      .innerJoin('users', 'users.id', 'authz_group_members.user_id')
      .select(['users.id', 'users.email'])
      .where('group_id', '=', groupId)
      .orderBy('users.email')
      .execute(),
    db.selectFrom('authz_group_parents').select('parent_id').where('group_id', '=', groupId).execute(),
    db.selectFrom('authz_group_parents').select('group_id').where('parent_id', '=', groupId).execute(),
    db
      .selectFrom('authz_role_assignments')
      .select('role_id')
      .where('principal_type', '=', 'group')
      .where('principal_id', '=', groupId)
      .execute(),
  ]);
  return {
    members,
    parentIds: parents.map((row) => row.parent_id),
    childIds: children.map((row) => row.group_id),
    roleIds: roles.map((row) => row.role_id),
  };
}

export async function addGroupMember(db: Db, groupId: string, userId: string, now: number): Promise<void> {
  await db
    .insertInto('authz_group_members')
    .values({ group_id: groupId, user_id: userId, created_at: now })
    .onConflict((conflict) => conflict.columns(['group_id', 'user_id']).doNothing())
    .execute();
}

export async function removeGroupMember(db: Db, groupId: string, userId: string): Promise<number> {
  const result = await db
    .deleteFrom('authz_group_members')
    .where('group_id', '=', groupId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function addGroupParent(db: Db, groupId: string, parentId: string): Promise<void> {
  await db
    .insertInto('authz_group_parents')
    .values({ group_id: groupId, parent_id: parentId })
    .onConflict((conflict) => conflict.columns(['group_id', 'parent_id']).doNothing())
    .execute();
}

export async function removeGroupParent(db: Db, groupId: string, parentId: string): Promise<number> {
  const result = await db
    .deleteFrom('authz_group_parents')
    .where('group_id', '=', groupId)
    .where('parent_id', '=', parentId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

// Assignments -------------------------------------------------------------------------------------------------

export async function assignRole(
  db: Db,
  row: { role_id: string; principal_type: PrincipalType; principal_id: string; created_at: number },
): Promise<void> {
  await db
    .insertInto('authz_role_assignments')
    .values(row)
    .onConflict((conflict) => conflict.columns(['principal_type', 'principal_id', 'role_id']).doNothing())
    .execute();
}

export async function unassignRole(
  db: Db,
  principalType: PrincipalType,
  principalId: string,
  roleId: string,
): Promise<number> {
  const result = await db
    .deleteFrom('authz_role_assignments')
    .where('principal_type', '=', principalType)
    .where('principal_id', '=', principalId)
    .where('role_id', '=', roleId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Users holding any of `roleIds` directly or through a group in `groupIds`. */
export async function usersHolding(db: Db, roleIds: readonly string[], groupIds: readonly string[]) {
  if (roleIds.length === 0) return [];
  const direct = await db
    .selectFrom('authz_role_assignments')
    .select('principal_id')
    .where('principal_type', '=', 'user')
    .where('role_id', 'in', roleIds)
    .execute();
  const viaGroups =
    groupIds.length === 0
      ? []
      : await db
          .selectFrom('authz_group_members')
          .select('user_id')
          .where('group_id', 'in', groupIds)
          .execute();
  return [...new Set([...direct.map((row) => row.principal_id), ...viaGroups.map((row) => row.user_id)])];
}

export async function groupsAssigned(db: Db, roleIds: readonly string[]): Promise<string[]> {
  if (roleIds.length === 0) return [];
  const rows = await db
    .selectFrom('authz_role_assignments')
    .select('principal_id')
    .where('principal_type', '=', 'group')
    .where('role_id', 'in', roleIds)
    .execute();
  return rows.map((row) => row.principal_id);
}

/**
 * `users.is_admin` now only mirrors "holds admin or owner by some path" (it decides, for instance, whether
 * `mfa.enforce: admins` applies). Authorization itself never reads it.
 */
export async function mirrorAdminFlag(db: Db, adminUserIds: readonly string[]): Promise<void> {
  let clear = db.updateTable('users').set({ is_admin: 0 }).where('is_admin', '=', 1);
  if (adminUserIds.length > 0) clear = clear.where('id', 'not in', adminUserIds);
  await clear.execute();
  if (adminUserIds.length > 0) {
    await db.updateTable('users').set({ is_admin: 1 }).where('id', 'in', adminUserIds).execute();
  }
}

export async function userExists(db: Db, userId: string): Promise<boolean> {
  return (
    (await db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst()) !== undefined
  );
}

// Service accounts ------------------------------------------------------------------------------------------

export type ServiceAccountRow = ServiceAccountsTable;

export async function listServiceAccounts(db: Db, page: Page): Promise<ServiceAccountRow[]> {
  return db
    .selectFrom('service_accounts')
    .selectAll()
    .orderBy('name')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
}

export async function findServiceAccount(db: Db, idOrName: string): Promise<ServiceAccountRow | undefined> {
  return db
    .selectFrom('service_accounts')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
    .executeTakeFirst();
}

export async function insertServiceAccount(db: Db, row: ServiceAccountRow): Promise<void> {
  await db.insertInto('service_accounts').values(row).execute();
}

export async function deleteServiceAccount(db: Db, id: string): Promise<void> {
  await db
    .deleteFrom('authz_role_assignments')
    .where('principal_type', '=', 'service_account')
    .where('principal_id', '=', id)
    .execute();
  await db
    .deleteFrom('api_keys')
    .where('principal_type', '=', 'service_account')
    .where('principal_id', '=', id)
    .execute();
  await db.deleteFrom('service_accounts').where('id', '=', id).execute();
}

export async function servicePrincipal(db: Db, id: string) {
  const [account, roles] = await Promise.all([
    db.selectFrom('service_accounts').select(['id', 'disabled']).where('id', '=', id).executeTakeFirst(),
    db
      .selectFrom('authz_role_assignments')
      .select('role_id')
      .where('principal_type', '=', 'service_account')
      .where('principal_id', '=', id)
      .execute(),
  ]);
  return { account, roleIds: roles.map((row) => row.role_id) };
}

// API keys ----------------------------------------------------------------------------------------------------

export type ApiKeyRow = ApiKeysTable;

export async function insertApiKey(db: Db, row: ApiKeyRow): Promise<void> {
  await db.insertInto('api_keys').values(row).execute();
}

export async function findApiKey(db: Db, id: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listApiKeys(
  db: Db,
  principalType: KeyPrincipalType,
  principalId: string,
  page: Page = { limit: 500, offset: 0 },
): Promise<ApiKeyRow[]> {
  return db
    .selectFrom('api_keys')
    .selectAll()
    .where('principal_type', '=', principalType)
    .where('principal_id', '=', principalId)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
}

export async function revokeApiKey(db: Db, id: string, now: number): Promise<number> {
  const result = await db
    .updateTable('api_keys')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function rotateApiKeySecret(
  db: Db,
  id: string,
  values: { secret_hash: string; previous_secret_hash: string; previous_valid_until: number },
): Promise<void> {
  await db.updateTable('api_keys').set(values).where('id', '=', id).execute();
}

export async function touchApiKey(db: Db, id: string, now: number, ip: string | null): Promise<void> {
  await db
    .updateTable('api_keys')
    .set({ last_used_at: now, last_used_ip: ip })
    .where('id', '=', id)
    .execute();
}

/** Roles a user holds within one organization, and whether they belong to it at all. */
export async function organizationPrincipal(db: Db, organizationId: string, userId: string) {
  const [member, roles] = await Promise.all([
    db
      .selectFrom('organization_members')
      .select('user_id')
      .where('organization_id', '=', organizationId)
      .where('user_id', '=', userId)
      .executeTakeFirst(),
    db
      .selectFrom('organization_roles')
      .select('role_id')
      .where('organization_id', '=', organizationId)
      .where('user_id', '=', userId)
      .execute(),
  ]);
  return { member: member !== undefined, roleIds: roles.map((row) => row.role_id) };
}

// Attribute policies ------------------------------------------------------------------------------------------

export type PolicyRow = AuthzPoliciesTable;

/** Every policy (the engine needs them all), or one page of them for a listing. */
export async function listPolicies(db: Db, page?: Page): Promise<PolicyRow[]> {
  const query = db.selectFrom('authz_policies').selectAll().orderBy('name');
  return (page ? query.limit(page.limit).offset(page.offset) : query).execute();
}

export async function findPolicy(db: Db, idOrName: string): Promise<PolicyRow | undefined> {
  return db
    .selectFrom('authz_policies')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
    .executeTakeFirst();
}

/** Saves a policy and its new version together. */
export async function savePolicy(
  db: Db,
  row: PolicyRow,
  changedBy: string | null,
  isNew: boolean,
): Promise<void> {
  if (isNew) await db.insertInto('authz_policies').values(row).execute();
  else {
    await db
      .updateTable('authz_policies')
      .set({
        description: row.description,
        text: row.text,
        version: row.version,
        enabled: row.enabled,
        updated_at: row.updated_at,
      })
      .where('id', '=', row.id)
      .execute();
  }
  await db
    .insertInto('authz_policy_versions')
    .values({
      policy_id: row.id,
      version: row.version,
      text: row.text,
      enabled: row.enabled,
      changed_by: changedBy,
      created_at: row.updated_at,
    })
    .execute();
}

export async function policyVersions(db: Db, policyId: string) {
  return db
    .selectFrom('authz_policy_versions')
    .selectAll()
    .where('policy_id', '=', policyId)
    .orderBy('version', 'desc')
    .execute();
}

export async function deletePolicy(db: Db, id: string): Promise<void> {
  await db.deleteFrom('authz_policy_versions').where('policy_id', '=', id).execute();
  await db.deleteFrom('authz_policies').where('id', '=', id).execute();
}
