import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../../platform/db/tables.js';

export interface OrganizationsTable {
  id: string;
  name: string;
  slug: string;
  created_at: number;
  updated_at: number;
}

export interface OrganizationMembersTable {
  organization_id: string;
  user_id: string;
  created_at: number;
}

export interface OrganizationRolesTable {
  organization_id: string;
  user_id: string;
  role_id: string;
}

export interface OrganizationInvitationsTable {
  id: string;
  organization_id: string;
  email: string;
  token_hash: string;
  role_id: string | null;
  invited_by: string | null;
  expires_at: number;
  accepted_at: number | null;
  created_at: number;
}

declare module '../../platform/db/tables.js' {
  interface Tables {
    organizations: OrganizationsTable;
    organization_members: OrganizationMembersTable;
    organization_roles: OrganizationRolesTable;
    organization_invitations: OrganizationInvitationsTable;
  }
}

type Db = Kysely<Tables> | Transaction<Tables>;
export type OrganizationRow = OrganizationsTable;
export type InvitationRow = OrganizationInvitationsTable;

export async function listOrganizations(db: Db, page: { limit: number; offset: number }) {
  return db
    .selectFrom('organizations')
    .selectAll()
    .orderBy('slug')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
}

export async function findOrganization(db: Db, idOrSlug: string): Promise<OrganizationRow | undefined> {
  return db
    .selectFrom('organizations')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', idOrSlug), eb('slug', '=', idOrSlug)]))
    .executeTakeFirst();
}

export async function insertOrganization(db: Db, row: OrganizationRow): Promise<void> {
  await db.insertInto('organizations').values(row).execute();
}

export async function deleteOrganization(db: Db, id: string): Promise<void> {
  await db.deleteFrom('organization_invitations').where('organization_id', '=', id).execute();
  await db.deleteFrom('organization_roles').where('organization_id', '=', id).execute();
  await db.deleteFrom('organization_members').where('organization_id', '=', id).execute();
  await db.deleteFrom('organizations').where('id', '=', id).execute();
}

export async function organizationsOf(db: Db, userId: string) {
  return db
    .selectFrom('organization_members')
    .innerJoin('organizations', 'organizations.id', 'organization_members.organization_id')
    .select(['organizations.id', 'organizations.name', 'organizations.slug'])
    .where('organization_members.user_id', '=', userId)
    .orderBy('organizations.slug')
    .execute();
}

export async function members(db: Db, organizationId: string) {
  return db
    .selectFrom('organization_members')
    .innerJoin('users', 'users.id', 'organization_members.user_id')
    .select(['users.id', 'users.email', 'organization_members.created_at'])
    .where('organization_members.organization_id', '=', organizationId)
    .orderBy('users.email')
    .execute();
}

export async function memberRoles(db: Db, organizationId: string, userIds: readonly string[]) {
  if (userIds.length === 0) return [];
  return db
    .selectFrom('organization_roles')
    .innerJoin('authz_roles', 'authz_roles.id', 'organization_roles.role_id')
    .select(['organization_roles.user_id', 'authz_roles.name'])
    .where('organization_roles.organization_id', '=', organizationId)
    .where('organization_roles.user_id', 'in', userIds)
    .execute();
}

export async function isMember(db: Db, organizationId: string, userId: string): Promise<boolean> {
  const row = await db
    .selectFrom('organization_members')
    .select('user_id')
    .where('organization_id', '=', organizationId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row !== undefined;
}

export async function addMember(db: Db, organizationId: string, userId: string, now: number): Promise<void> {
  await db
    .insertInto('organization_members')
    .values({ organization_id: organizationId, user_id: userId, created_at: now })
    .onConflict((conflict) => conflict.columns(['organization_id', 'user_id']).doNothing())
    .execute();
}

export async function removeMember(db: Db, organizationId: string, userId: string): Promise<number> {
  await db
    .deleteFrom('organization_roles')
    .where('organization_id', '=', organizationId)
    .where('user_id', '=', userId)
    .execute();
  const result = await db
    .deleteFrom('organization_members')
    .where('organization_id', '=', organizationId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function grantOrganizationRole(db: Db, organizationId: string, userId: string, roleId: string) {
  await db
    .insertInto('organization_roles')
    .values({ organization_id: organizationId, user_id: userId, role_id: roleId })
    .onConflict((conflict) => conflict.columns(['organization_id', 'user_id', 'role_id']).doNothing())
    .execute();
}

export async function revokeOrganizationRole(db: Db, organizationId: string, userId: string, roleId: string) {
  const result = await db
    .deleteFrom('organization_roles')
    .where('organization_id', '=', organizationId)
    .where('user_id', '=', userId)
    .where('role_id', '=', roleId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function insertInvitation(db: Db, row: InvitationRow): Promise<void> {
  await db.insertInto('organization_invitations').values(row).execute();
}

export async function findInvitationByToken(db: Db, tokenHash: string): Promise<InvitationRow | undefined> {
  return db
    .selectFrom('organization_invitations')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/** Marks the invitation used; false when another request used it first. */
export async function acceptInvitation(db: Db, id: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('organization_invitations')
    .set({ accepted_at: now })
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function pendingInvitations(db: Db, organizationId: string, now: number) {
  return db
    .selectFrom('organization_invitations')
    .select(['id', 'email', 'role_id', 'expires_at', 'created_at'])
    .where('organization_id', '=', organizationId)
    .where('accepted_at', 'is', null)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .execute();
}
