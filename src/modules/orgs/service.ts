import { randomBytes } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import { deriveKey, keyedHash, randomToken } from '../../platform/crypto/tokens.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import { GatehouseError } from '../../platform/errors.js';
import type { EventRecorder } from '../../platform/events.js';
import { AccountErrors } from '../accounts/errors.js';
import { type MailComposer, normalizeEmail, type OutgoingMail } from '../accounts/service.js';
import type { AuthzService } from '../authz/service.js';
import type { RequestContext } from '../sessions/service.js';
import { OrgErrors } from './errors.js';
import { OrgEvents } from './events.js';
import {
  acceptInvitation,
  addMember,
  deleteOrganization,
  findInvitationByToken,
  findOrganization,
  grantOrganizationRole,
  insertInvitation,
  insertOrganization,
  isMember,
  listOrganizations,
  memberRoles,
  members,
  type OrganizationRow,
  organizationsOf,
  pendingInvitations,
  removeMember,
  revokeOrganizationRole,
} from './queries.js';

type Actor = RequestContext & { actorUserId?: string | undefined };

export interface OrganizationView {
  readonly id: string;
  readonly name: string;
  readonly slug: string;
  readonly createdAt: string;
}

export interface MemberView {
  readonly id: string;
  readonly email: string;
  readonly roles: string[];
  readonly joinedAt: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const view = (row: OrganizationRow): OrganizationView => ({
  id: row.id,
  name: row.name,
  slug: row.slug,
  createdAt: iso(row.created_at),
});

/**
 * Organizations (tenants). A user may belong to several; roles given within an organization count only in
 * decisions made for it (`organization` in a check). Members see their own organizations and nothing of others.
 * Every change goes through the authorization service, so cached decisions drop on every node.
 */
export function createOrganizationService(deps: {
  database: DatabaseHandle;
  clock: Clock;
  events: EventRecorder;
  authz: AuthzService;
  secretKey: Buffer;
  publicUrl: string;
  invitationTtlSeconds: number;
  mail: { send(mail: OutgoingMail): void; compose: MailComposer };
}) {
  const { database, clock, authz } = deps;
  const invitationKey = deriveKey(deps.secretKey, 'organization-invitation');
  const hashInvitation = (token: string) => keyedHash(invitationKey, token);

  const record = (
    name: string,
    organization: OrganizationRow,
    context: Actor,
    details = {},
    targetUserId?: string,
  ) =>
    // Admin changes: the record is committed before the caller hears the change was made.
    deps.events.recordDurably({
      name,
      severity: 'medium',
      outcome: 'success',
      actorUserId: context.actorUserId,
      target: targetUserId
        ? { type: 'user', id: targetUserId }
        : { type: 'organization', id: organization.id },
      organizationId: organization.id,
      ip: context.ip,
      userAgent: context.userAgent,
      requestId: context.requestId,
      details: { organizationId: organization.id, organization: organization.slug, ...details },
    });

  async function requireOrganization(idOrSlug: string): Promise<OrganizationRow> {
    const row = await findOrganization(database.db, idOrSlug);
    if (!row) throw new GatehouseError(OrgErrors.organization_not_found);
    return row;
  }

  async function memberViews(organizationId: string): Promise<MemberView[]> {
    const rows = await members(database.db, organizationId);
    const roles = await memberRoles(
      database.db,
      organizationId,
      rows.map((row) => row.id),
    );
    return rows.map((row) => ({
      id: row.id,
      email: row.email,
      roles: roles
        .filter((role) => role.user_id === row.id)
        .map((role) => role.name)
        .sort(),
      joinedAt: iso(row.created_at),
    }));
  }

  return {
    async list(page: { limit: number; offset: number }): Promise<OrganizationView[]> {
      return (await listOrganizations(database.db, page)).map(view);
    },

    async get(idOrSlug: string) {
      const organization = await requireOrganization(idOrSlug);
      const invitations = await pendingInvitations(database.db, organization.id, clock.now());
      return {
        ...view(organization),
        members: await memberViews(organization.id),
        invitations: invitations.map((row) => ({
          id: row.id,
          email: row.email,
          expiresAt: iso(row.expires_at),
          createdAt: iso(row.created_at),
        })),
      };
    },

    async create(input: { name: string; slug: string }, context: Actor): Promise<OrganizationView> {
      if (await findOrganization(database.db, input.slug)) {
        throw new GatehouseError(OrgErrors.organization_slug_taken, `The slug ${input.slug} is taken`);
      }
      const now = clock.now();
      const row: OrganizationRow = {
        id: `org_${randomBytes(12).toString('base64url')}`,
        name: input.name,
        slug: input.slug,
        created_at: now,
        updated_at: now,
      };
      await insertOrganization(database.db, row);
      await record(OrgEvents.created, row, context, { name: row.name });
      return view(row);
    },

    async delete(idOrSlug: string, context: Actor): Promise<void> {
      const organization = await requireOrganization(idOrSlug);
      await authz.changed((trx) => deleteOrganization(trx, organization.id));
      await record(OrgEvents.deleted, organization, context);
    },

    async addMember(idOrSlug: string, userId: string, context: Actor): Promise<void> {
      const organization = await requireOrganization(idOrSlug);
      try {
        await authz.changed((trx) => addMember(trx, organization.id, userId, clock.now()));
      } catch (error) {
        // The foreign key: no such user.
        if (
          /foreign|FOREIGN|23503/.test(
            String((error as Error).message) + String((error as { code?: string }).code),
          )
        ) {
          throw new GatehouseError(AccountErrors.user_not_found);
        }
        throw error;
      }
      await record(OrgEvents.memberAdded, organization, context, {}, userId);
    },

    async removeMember(idOrSlug: string, userId: string, context: Actor): Promise<void> {
      const organization = await requireOrganization(idOrSlug);
      const removed = await authz.changed((trx) => removeMember(trx, organization.id, userId));
      if (removed === 0) throw new GatehouseError(OrgErrors.not_a_member);
      await record(OrgEvents.memberRemoved, organization, context, {}, userId);
    },

    async grantRole(idOrSlug: string, userId: string, roleName: string, context: Actor): Promise<void> {
      const organization = await requireOrganization(idOrSlug);
      if (!(await isMember(database.db, organization.id, userId)))
        throw new GatehouseError(OrgErrors.not_a_member);
      const role = await authz.roleTheActorMayGive(roleName, context);
      await authz.changed((trx) => grantOrganizationRole(trx, organization.id, userId, role.id));
      await record(OrgEvents.roleGranted, organization, context, { role: role.name }, userId);
    },

    async revokeRole(idOrSlug: string, userId: string, roleName: string, context: Actor): Promise<void> {
      const organization = await requireOrganization(idOrSlug);
      const role = await authz.roleTheActorMayGive(roleName, context);
      const removed = await authz.changed((trx) =>
        revokeOrganizationRole(trx, organization.id, userId, role.id),
      );
      if (removed === 0)
        throw new GatehouseError(OrgErrors.not_a_member, 'The member does not hold that role here');
      await record(OrgEvents.roleRevoked, organization, context, { role: role.name }, userId);
    },

    /** E-mails a single-use link; whoever signs in with that address may accept it. */
    async invite(idOrSlug: string, input: { email: string; role?: string | undefined }, context: Actor) {
      const organization = await requireOrganization(idOrSlug);
      const role = input.role ? await authz.roleTheActorMayGive(input.role, context) : undefined;
      const token = randomToken(32);
      const now = clock.now();
      const email = normalizeEmail(input.email);
      const row = {
        id: `inv_${randomBytes(12).toString('base64url')}`,
        organization_id: organization.id,
        email,
        token_hash: hashInvitation(token),
        role_id: role?.id ?? null,
        invited_by: context.actorUserId ?? null,
        expires_at: now + deps.invitationTtlSeconds * 1000,
        accepted_at: null,
        created_at: now,
      };
      await insertInvitation(database.db, row);
      const url = `${deps.publicUrl}/organizations/invitations/accept?token=${encodeURIComponent(token)}`;
      deps.mail.send({
        to: email,
        tag: 'organization-invitation',
        ...deps.mail.compose.organizationInvitation({
          organization: organization.name,
          url,
          expiresInMinutes: Math.round(deps.invitationTtlSeconds / 60),
        }),
      });
      await record(OrgEvents.invitationSent, organization, context, {
        invitationId: row.id,
        role: role?.name,
      });
      return { id: row.id, email, expiresAt: iso(row.expires_at) };
    },

    /** Joins the signed-in user to the organization, when the invitation is live and was sent to their address. */
    async accept(token: string, user: { id: string; email: string }, context: RequestContext) {
      const invitation = await findInvitationByToken(database.db, hashInvitation(token));
      const now = clock.now();
      if (!invitation || invitation.accepted_at !== null || invitation.expires_at <= now) {
        throw new GatehouseError(OrgErrors.invitation_invalid);
      }
      if (normalizeEmail(user.email) !== invitation.email) {
        throw new GatehouseError(
          OrgErrors.invitation_invalid,
          'This invitation was sent to another e-mail address: sign in with that one',
        );
      }
      const organization = await requireOrganization(invitation.organization_id);
      await authz.changed(async (trx) => {
        if (!(await acceptInvitation(trx, invitation.id, now)))
          throw new GatehouseError(OrgErrors.invitation_invalid);
        await addMember(trx, organization.id, user.id, now);
        if (invitation.role_id)
          await grantOrganizationRole(trx, organization.id, user.id, invitation.role_id);
      });
      await record(
        OrgEvents.invitationAccepted,
        organization,
        { ...context, actorUserId: user.id },
        { invitationId: invitation.id },
        user.id,
      );
      return view(organization);
    },

    /** An organization by id or slug and whether `userId` belongs to it (for tokens issued for one). */
    async membership(idOrSlug: string, userId: string | undefined) {
      const organization = await findOrganization(database.db, idOrSlug);
      if (!organization) return undefined;
      return {
        id: organization.id,
        member: userId !== undefined && (await isMember(database.db, organization.id, userId)),
      };
    },

    /** The caller's organizations, with the roles they hold in each. */
    async mine(userId: string) {
      const organizations = await organizationsOf(database.db, userId);
      return Promise.all(
        organizations.map(async (organization) => ({
          id: organization.id,
          name: organization.name,
          slug: organization.slug,
          roles: (await memberRoles(database.db, organization.id, [userId])).map((row) => row.name).sort(),
        })),
      );
    },

    /** Members of an organization, for one of its members; to anyone else it does not exist. */
    async membersFor(userId: string, idOrSlug: string): Promise<MemberView[]> {
      const organization = await findOrganization(database.db, idOrSlug);
      if (!organization || !(await isMember(database.db, organization.id, userId))) {
        throw new GatehouseError(OrgErrors.organization_not_found);
      }
      return memberViews(organization.id);
    },
  };
}

export type OrganizationService = ReturnType<typeof createOrganizationService>;
