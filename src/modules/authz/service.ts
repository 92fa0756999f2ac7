import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../../platform/clock.js';
import type { DatabaseHandle, Transaction } from '../../platform/db/connection.js';
import type { Tables } from '../../platform/db/tables.js';
import { GatehouseError } from '../../platform/errors.js';
import type { CommittedEvent, EventRecorder, SecurityEvent } from '../../platform/events.js';
import type { Logger } from '../../platform/logger.js';
import type { PubSub } from '../../platform/pubsub.js';
import { AccountErrors } from '../accounts/errors.js';
import type { RequestContext } from '../sessions/service.js';
import {
  type CedarDecision,
  type CedarRequest,
  type CompiledPolicies,
  checkPolicyAgainst,
  compilePolicies,
  ipAttributes,
  policySchema,
} from './cedar.js';
import { AuthzErrors } from './errors.js';
import { AuthzEvents } from './events.js';
import {
  type AuthzGraph,
  covers,
  expandGroups,
  expandRoles,
  type Grant,
  permissionsOf,
  type RoleNode,
  reachable,
  wouldCycle,
} from './graph.js';
import {
  addGroupMember,
  addGroupParent,
  assignRole,
  deleteGroup,
  deletePermission,
  deletePolicy,
  deleteRole,
  deleteServiceAccount,
  findGroup,
  findPermission,
  findPolicy,
  findRole,
  findServiceAccount,
  type GroupRow,
  groupDetails,
  groupNames,
  groupRoleAssignments,
  groupsAssigned,
  insertGroup,
  insertPermission,
  insertRole,
  insertServiceAccount,
  listGroups,
  listPermissions,
  listPolicies,
  listRoles,
  listServiceAccounts,
  loadGraphRows,
  mirrorAdminFlag,
  missingPermissions,
  organizationPrincipal,
  type Page,
  type PermissionRow,
  type PolicyRow,
  type PrincipalType,
  policyVersions,
  type RoleRow,
  removeGroupMember,
  removeGroupParent,
  replaceRoleIncludes,
  replaceRolePermissions,
  roleDetails,
  type ServiceAccountRow,
  savePolicy,
  servicePrincipal,
  unassignRole,
  updateRole,
  userExists,
  userPrincipals,
  usersHolding,
} from './queries.js';
import type { AuthzSettings } from './settings.js';

/** The role every account holds without an assignment, and the two whose holders count as administrators. */
export const USER_ROLE_ID = 'role_user';
export const ADMIN_ROLE_ID = 'role_admin';
export const OWNER_ROLE_ID = 'role_owner';
const CHANGED_CHANNEL = 'authz.changed';

export interface EffectiveAccess {
  readonly userId: string;
  /** False for unknown and disabled accounts: they hold nothing. */
  readonly active: boolean;
  readonly roles: readonly string[];
  readonly groups: readonly string[];
  readonly permissions: ReadonlyMap<string, Grant>;
}

export interface CheckRequest {
  readonly subject: { readonly type: 'user' | 'service_account'; readonly id: string };
  /** Decide within this organization (its roles count for its members). */
  readonly organization?: string | undefined;
  readonly action: string;
  readonly resource?: Record<string, unknown> | undefined;
  readonly context?: Record<string, unknown> | undefined;
}

export interface Decision {
  readonly allowed: boolean;
  readonly reasons: string[];
  readonly matchedPolicies: string[];
  readonly explanation?: { roles: string[]; groups: string[]; permissions: string[] };
}

export interface RoleView {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly builtin: boolean;
  readonly permissions: string[];
  /** Names of the roles this one includes. */
  readonly includes: string[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface GroupView {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly createdAt: string;
}

export interface GroupDetailView extends GroupView {
  readonly members: { id: string; email: string }[];
  readonly parents: string[];
  readonly children: string[];
  readonly roles: string[];
}

export interface PermissionView {
  readonly name: string;
  readonly description: string;
  readonly builtin: boolean;
}

type Actor = RequestContext & { actorUserId?: string | undefined };

const iso = (ms: number) => new Date(ms).toISOString();
const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url')}`;

function isUniqueViolation(error: unknown): boolean {
  const text =
    String((error as { code?: unknown; message?: unknown })?.code ?? '') + String((error as Error)?.message);
  return /23505|UNIQUE|unique/.test(text);
}

/**
 * Roles, groups and permissions, and the decisions they lead to. The graph (roles, inclusions, group nesting)
 * is small and read on every decision, so it lives in memory; each user's effective access is cached too. Any
 * change drops both here and, through the pub/sub channel, on every other node: the next check sees it.
 */
export function createAuthzService(deps: {
  database: DatabaseHandle;
  clock: Clock;
  events: EventRecorder;
  pubsub: PubSub;
  logger: Logger;
  settings: AuthzSettings;
  cacheSize?: number;
}) {
  const { database, clock } = deps;
  const ipNames = ipAttributes(deps.settings);
  let graph: Promise<AuthzGraph> | undefined;
  // Bumped by every invalidation: a result computed across one is not cached.
  let generation = 0;
  const access = new LRUCache<string, EffectiveAccess>({ max: deps.cacheSize ?? 50_000 });

  const forget = () => {
    graph = undefined;
    policies = undefined;
    livePolicies = undefined;
    policyAnswers.clear();
    generation += 1;
    access.clear();
  };

  async function buildGraph(db: DatabaseHandle['db'] | Transaction<Tables>): Promise<AuthzGraph> {
    const rows = await loadGraphRows(db);
    const roles = new Map<string, RoleNode>();
    for (const role of rows.roles)
      roles.set(role.id, { id: role.id, name: role.name, permissions: [], includes: [] });
    for (const row of rows.rolePermissions)
      (roles.get(row.role_id)?.permissions as string[] | undefined)?.push(row.permission);
    for (const row of rows.roleIncludes)
      (roles.get(row.role_id)?.includes as string[] | undefined)?.push(row.included_role_id);
    const groupParents = new Map<string, string[]>();
    for (const row of rows.groupParents)
      groupParents.set(row.group_id, [...(groupParents.get(row.group_id) ?? []), row.parent_id]);
    return { roles, groupParents };
  }

  const currentGraph = () => {
    if (!graph) {
      const loading = buildGraph(database.db);
      graph = loading;
      loading.catch(() => {
        if (graph === loading) graph = undefined;
      });
    }
    return graph;
  };

  async function effectiveAccess(userId: string): Promise<EffectiveAccess> {
    const cached = access.get(userId);
    if (cached) return cached;
    const startedAt = generation;
    const model = await currentGraph();
    const principals = await userPrincipals(database.db, userId);
    const active = principals.user?.status === 'active';
    let result: EffectiveAccess;
    if (!active) {
      result = { userId, active: false, roles: [], groups: [], permissions: new Map() };
    } else {
      const groups = expandGroups(model, principals.groupIds);
      const viaGroups = await groupRoleAssignments(database.db, [...groups]);
      const roles = expandRoles(model, [
        USER_ROLE_ID,
        ...principals.roleIds,
        ...viaGroups.map((row) => row.role_id),
      ]);
      result = {
        userId,
        active: true,
        roles: [...roles].map((id) => model.roles.get(id)?.name ?? id).sort(),
        groups: (await groupNames(database.db, [...groups])).map((row) => row.name).sort(),
        permissions: permissionsOf(model, roles),
      };
    }
    if (startedAt === generation) access.set(userId, result);
    return result;
  }

  /** A service account's access: the roles assigned to it (service accounts are in no group). */
  async function serviceAccess(serviceAccountId: string): Promise<EffectiveAccess> {
    const key = `service_account:${serviceAccountId}`;
    const cached = access.get(key);
    if (cached) return cached;
    const startedAt = generation;
    const model = await currentGraph();
    const { account, roleIds } = await servicePrincipal(database.db, serviceAccountId);
    let result: EffectiveAccess;
    if (!account || account.disabled === 1) {
      result = { userId: serviceAccountId, active: false, roles: [], groups: [], permissions: new Map() };
    } else {
      const roles = expandRoles(model, roleIds);
      result = {
        userId: serviceAccountId,
        active: true,
        roles: [...roles].map((id) => model.roles.get(id)?.name ?? id).sort(),
        groups: [],
        permissions: permissionsOf(model, roles),
      };
    }
    if (startedAt === generation) access.set(key, result);
    return result;
  }

  /**
   * A user's access within one organization: their own roles everywhere, plus the roles they hold in that
   * organization when they are a member of it (none otherwise: organizations never see into each other).
   */
  async function organizationAccess(userId: string, organizationId: string): Promise<EffectiveAccess> {
    const key = `org:${organizationId}:${userId}`;
    const cached = access.get(key);
    if (cached) return cached;
    const startedAt = generation;
    const base = await effectiveAccess(userId);
    const model = await currentGraph();
    const { member, roleIds } = await organizationPrincipal(database.db, organizationId, userId);
    let result = base;
    if (base.active && member && roleIds.length > 0) {
      const roles = expandRoles(model, roleIds);
      const permissions = new Map(base.permissions);
      for (const [permission, grant] of permissionsOf(model, roles)) {
        if (!permissions.has(permission)) permissions.set(permission, grant);
      }
      result = {
        ...base,
        roles: [
          ...new Set([...base.roles, ...[...roles].map((id) => model.roles.get(id)?.name ?? id)]),
        ].sort(),
        permissions,
      };
    }
    if (startedAt === generation) access.set(key, result);
    return result;
  }

  const accessOf = (principal: { type: 'user' | 'service_account'; id: string }, organizationId?: string) =>
    principal.type === 'service_account'
      ? serviceAccess(principal.id)
      : organizationId
        ? organizationAccess(principal.id, organizationId)
        : effectiveAccess(principal.id);

  let policies: Promise<CompiledPolicies> | undefined;
  let livePolicies: CompiledPolicies | undefined;
  const policyAnswers = new LRUCache<string, CedarDecision>({ max: deps.cacheSize ?? 50_000 });
  const currentPolicies = () => {
    if (!policies) {
      const loading = listPolicies(database.db).then((rows) => {
        livePolicies = compilePolicies(
          'live',
          rows.filter((row) => row.enabled === 1),
          ipNames,
        );
        return livePolicies;
      });
      policies = loading;
      loading.catch(() => {
        if (policies === loading) policies = undefined;
      });
    }
    return policies;
  };

  const currentSchema = async () =>
    policySchema(
      deps.settings,
      (await listPermissions(database.db)).map((permission) => permission.name),
    );

  async function assertValidPolicy(text: string): Promise<void> {
    const problems = checkPolicyAgainst(text, await currentSchema());
    if (problems.length > 0) {
      throw new GatehouseError(
        AuthzErrors.policy_invalid,
        problems
          .map((problem) =>
            problem.line
              ? `line ${problem.line}, column ${problem.column}: ${problem.message}`
              : problem.message,
          )
          .join('; '),
      );
    }
  }

  async function decide(
    request: CheckRequest,
    options: { explain?: boolean },
    compiled: CompiledPolicies,
  ): Promise<Decision> {
    const startedAt = generation;
    const held = await accessOf(request.subject, request.organization);
    const grant = held.active ? grantFor(held, request.action) : undefined;
    const explanation = options.explain
      ? {
          explanation: {
            roles: [...held.roles],
            groups: [...held.groups],
            permissions: [...held.permissions.keys()].sort(),
          },
        }
      : {};
    if (!held.active) {
      return {
        allowed: false,
        reasons: ['the subject is not an active account'],
        matchedPolicies: [],
        ...explanation,
      };
    }
    const byRoles = grant
      ? `role ${grant.role} grants ${grant.permission}`
      : `no role of the subject grants ${request.action}`;
    // Without policies the roles decide alone (and Cedar is not called at all).
    if (compiled.size === 0)
      return { allowed: grant !== undefined, reasons: [byRoles], matchedPolicies: [], ...explanation };
    const now = new Date(clock.now());
    const cedarRequest: CedarRequest = {
      principal: {
        type: request.subject.type === 'user' ? 'User' : 'ServiceAccount',
        id: request.subject.id,
        attributes: { id: request.subject.id, roles: [...held.roles], groups: [...held.groups] },
      },
      action: request.action,
      resource: request.resource,
      // Time comes from Gatehouse unless the caller says when; the caller's context wins otherwise.
      context: { hour: now.getUTCHours(), weekday: now.getUTCDay(), ...(request.context ?? {}) },
      rolesAllow: grant !== undefined,
    };
    // Cedar takes ~0.2 ms a call (the request crosses into WebAssembly as JSON); the same question gets the
    // same answer until anything changes, so answers are cached like roles (and dropped with them).
    const key = compiled === livePolicies ? JSON.stringify(cedarRequest) : undefined;
    let outcome = key === undefined ? undefined : policyAnswers.get(key);
    if (!outcome) {
      outcome = compiled.evaluate(cedarRequest);
      if (key !== undefined && startedAt === generation) policyAnswers.set(key, outcome);
    }
    const reasons = [byRoles];
    if (outcome.allowed && !grant) reasons.push(`policy ${outcome.matched.join(', ')} permits it`);
    if (!outcome.allowed && grant) {
      reasons.push(
        outcome.matched.length > 0
          ? `policy ${outcome.matched.join(', ')} forbids it`
          : 'the policies could not be evaluated',
      );
    }
    for (const error of outcome.errors) reasons.push(`policy error: ${error}`);
    return { allowed: outcome.allowed, reasons, matchedPolicies: outcome.matched, ...explanation };
  }

  function grantFor(held: EffectiveAccess, action: string): Grant | undefined {
    const exact = held.permissions.get(action);
    if (exact) return exact;
    for (const grant of held.permissions.values()) if (covers(grant.permission, action)) return grant;
    return undefined;
  }

  /**
   * Runs a change in one transaction, keeps `users.is_admin` mirroring who holds admin or owner, then drops the
   * caches here and on every node.
   */
  async function change<T>(
    work: (trx: Transaction<Tables>) => Promise<T>,
    audited?: (value: T) => SecurityEvent | undefined,
  ): Promise<T> {
    let recorded: CommittedEvent | undefined;
    const result = await database.transaction(async (trx) => {
      const value = await work(trx);
      // The change and its audit record commit together, or neither does.
      const event = audited?.(value);
      if (event) recorded = await deps.events.recordWithin(trx, event);
      const model = await buildGraph(trx);
      const adminRoles = [...model.roles.keys()].filter((id) => expandRoles(model, [id]).has(ADMIN_ROLE_ID));
      const groupsWithAdmin = await groupsAssigned(trx, adminRoles);
      // Members of a group nested inside an admin group are admins too: walk down from each such group.
      const children = new Map<string, string[]>();
      for (const [child, parents] of model.groupParents) {
        for (const parent of parents) children.set(parent, [...(children.get(parent) ?? []), child]);
      }
      const adminGroups = reachable(groupsWithAdmin, (id) => children.get(id));
      await mirrorAdminFlag(trx, await usersHolding(trx, adminRoles, [...adminGroups]));
      return value;
    });
    recorded?.afterCommit();
    forget();
    await deps.pubsub.publish(CHANGED_CHANNEL, String(clock.now())).catch((error: unknown) => {
      deps.logger.warn({ err: error }, 'could not broadcast an authorization change; other nodes may lag');
    });
    return result;
  }

  const eventOf = (
    name: string,
    context: Actor,
    details: Record<string, unknown>,
    targetUserId?: string,
  ): SecurityEvent => ({
    name,
    severity: 'medium',
    outcome: 'success',
    actorUserId: context.actorUserId,
    targetUserId,
    ip: context.ip,
    userAgent: context.userAgent,
    requestId: context.requestId,
    details,
  });

  async function requireRole(idOrName: string): Promise<RoleRow> {
    const role = await findRole(database.db, idOrName);
    if (!role) throw new GatehouseError(AuthzErrors.role_not_found, `No role ${idOrName}`);
    return role;
  }

  async function requireGroup(idOrName: string): Promise<GroupRow> {
    const group = await findGroup(database.db, idOrName);
    if (!group) throw new GatehouseError(AuthzErrors.group_not_found, `No group ${idOrName}`);
    return group;
  }

  async function requirePolicy(idOrName: string): Promise<PolicyRow> {
    const row = await findPolicy(database.db, idOrName);
    if (!row) throw new GatehouseError(AuthzErrors.policy_not_found, `No policy ${idOrName}`);
    return row;
  }

  async function requireServiceAccount(idOrName: string): Promise<ServiceAccountRow> {
    const account = await findServiceAccount(database.db, idOrName);
    if (!account)
      throw new GatehouseError(AuthzErrors.service_account_not_found, `No service account ${idOrName}`);
    return account;
  }

  async function requireUser(userId: string): Promise<void> {
    if (!(await userExists(database.db, userId))) throw new GatehouseError(AccountErrors.user_not_found);
  }

  async function roleViews(rows: RoleRow[]): Promise<RoleView[]> {
    const { permissions, includes } = await roleDetails(
      database.db,
      rows.map((row) => row.id),
    );
    const names = new Map((await currentGraph()).roles);
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      description: row.description,
      builtin: row.builtin === 1,
      permissions: permissions
        .filter((p) => p.role_id === row.id)
        .map((p) => p.permission)
        .sort(),
      includes: includes
        .filter((i) => i.role_id === row.id)
        .map((i) => names.get(i.included_role_id)?.name ?? i.included_role_id)
        .sort(),
      createdAt: iso(row.created_at),
      updatedAt: iso(row.updated_at),
    }));
  }

  const permissionView = (row: PermissionRow): PermissionView => ({
    name: row.name,
    description: row.description,
    builtin: row.builtin === 1,
  });
  const groupView = (row: GroupRow): GroupView => ({
    id: row.id,
    name: row.name,
    description: row.description,
    createdAt: iso(row.created_at),
  });

  /**
   * No one hands out more than they hold: giving, taking or shaping a role needs every permission that role
   * amounts to (its included roles counted). Without it an admin could make themselves owner. Calls without
   * an actor (the CLI, the system) are trusted.
   */
  async function assertActorHolds(context: Actor, ...roles: RoleRow[]): Promise<void> {
    const model = await currentGraph();
    const needed = permissionsOf(
      model,
      expandRoles(
        model,
        roles.map((role) => role.id),
      ),
    );
    await assertActorHoldsPermissions(context, [...needed.keys()]);
  }

  /** The same rule for permissions given to a role directly. */
  async function assertActorHoldsPermissions(context: Actor, permissions: readonly string[]): Promise<void> {
    if (!context.actorUserId || permissions.length === 0) return;
    const held = await effectiveAccess(context.actorUserId);
    const missing = permissions.filter((permission) => !(held.active && grantFor(held, permission)));
    if (missing.length > 0) {
      throw new GatehouseError(
        AuthzErrors.permission_denied,
        `You cannot give or change what you do not hold yourself: ${missing.join(', ')}`,
      );
    }
  }

  /** Resolves role names to ids (outside any transaction: the SQLite connection is single). */
  async function roleIds(names: readonly string[]): Promise<RoleRow[]> {
    const roles: RoleRow[] = [];
    for (const name of new Set(names)) roles.push(await requireRole(name));
    return roles;
  }

  /**
   * Inside the change's transaction, so two concurrent edits cannot close a cycle between them: each new edge
   * roleId → included closes one when roleId is already reachable from the included role.
   */
  async function assertNoRoleCycle(trx: Transaction<Tables>, roleId: string, included: readonly RoleRow[]) {
    const model = await buildGraph(trx);
    const without = new Map(model.roles);
    const current = without.get(roleId);
    if (current) without.set(roleId, { ...current, includes: [] });
    for (const role of included) {
      if (wouldCycle(roleId, role.id, (id) => without.get(id)?.includes)) {
        throw new GatehouseError(
          AuthzErrors.role_cycle,
          `Role ${role.name} already includes this role (directly or through others)`,
        );
      }
    }
  }

  async function validatedPermissions(permissions: readonly string[]): Promise<string[]> {
    const unique = [...new Set(permissions)];
    const missing = await missingPermissions(database.db, unique);
    if (missing.length > 0) {
      throw new GatehouseError(
        AuthzErrors.permission_unknown,
        `Register these permissions first: ${missing.join(', ')}`,
      );
    }
    return unique;
  }

  return {
    /** The role, once the actor is known to hold all it grants (for modules that hand roles out, like organizations). */
    async roleTheActorMayGive(roleIdOrName: string, context: Actor): Promise<RoleRow> {
      const role = await requireRole(roleIdOrName);
      await assertActorHolds(context, role);
      return role;
    },

    /** Runs a change another module makes to what decisions depend on (organizations), with the same effects. */
    changed: <T>(work: (trx: Transaction<Tables>) => Promise<T>) => change(work),

    /** Subscribes this node to changes made on others. Returns the unsubscribe function. */
    listen: () => deps.pubsub.subscribe(CHANGED_CHANNEL, () => forget()),

    /** Drops this node's cached graph, policies and decisions (read again on the next check). */
    clearCache: () => forget(),

    effectiveAccess,
    organizationAccess,

    accessOf,

    /**
     * For route guards: throws `permission_denied` (and records it) unless the principal holds `permission`,
     * and, for an API key limited to some scopes, one of them covers it.
     */
    async require(
      principal: string | { type: 'user' | 'service_account'; id: string },
      permission: string,
      context: RequestContext & { route?: string; keyScopes?: readonly string[] },
    ) {
      const who = typeof principal === 'string' ? { type: 'user' as const, id: principal } : principal;
      const held = await accessOf(who);
      const scoped =
        !context.keyScopes?.length || context.keyScopes.some((scope) => covers(scope, permission));
      if (held.active && grantFor(held, permission) && scoped) return;
      const userId = who.type === 'user' ? who.id : undefined;
      deps.events.record({
        name: AuthzEvents.permissionDenied,
        severity: 'medium',
        outcome: 'failure',
        actorUserId: userId,
        ip: context.ip,
        userAgent: context.userAgent,
        requestId: context.requestId,
        details: {
          permission,
          route: context.route,
          ...(who.type === 'service_account' ? { serviceAccountId: who.id } : {}),
          ...(scoped ? {} : { reason: 'outside the API key scopes' }),
        },
      });
      throw new GatehouseError(AuthzErrors.permission_denied, `This needs the ${permission} permission`);
    },

    async check(request: CheckRequest, options: { explain?: boolean } = {}): Promise<Decision> {
      return decide(request, options, await currentPolicies());
    },

    /** A decision as it would be with `draft` saved (added, or replacing the policy of that name). */
    async tryPolicy(draft: { name: string; text: string }, request: CheckRequest): Promise<Decision> {
      await assertValidPolicy(draft.text);
      const stored = (await listPolicies(database.db)).filter(
        (policy) => policy.enabled === 1 && policy.name !== draft.name,
      );
      const compiled = compilePolicies('draft', [...stored, draft], ipNames);
      return decide(request, { explain: true }, compiled);
    },

    // Permissions ---------------------------------------------------------------------------------------------

    async listPermissions(page: Page): Promise<PermissionView[]> {
      return (await listPermissions(database.db, page)).map(permissionView);
    },

    async createPermission(input: { name: string; description?: string | undefined }, context: Actor) {
      if (await findPermission(database.db, input.name)) {
        throw new GatehouseError(AuthzErrors.authz_name_taken, `Permission ${input.name} exists`);
      }
      const row: PermissionRow = {
        name: input.name,
        description: input.description ?? '',
        builtin: 0,
        created_at: clock.now(),
      };
      await change(
        (trx) => insertPermission(trx, row),
        () => eventOf(AuthzEvents.permissionCreated, context, { permission: input.name }),
      );
      return permissionView(row);
    },

    async deletePermission(name: string, context: Actor): Promise<void> {
      const existing = await findPermission(database.db, name);
      if (!existing) throw new GatehouseError(AuthzErrors.permission_not_found);
      if (existing.builtin === 1)
        throw new GatehouseError(AuthzErrors.builtin_protected, `${name} is built in`);
      await change(
        (trx) => deletePermission(trx, name),
        () => eventOf(AuthzEvents.permissionDeleted, context, { permission: name }),
      );
    },

    // Roles ---------------------------------------------------------------------------------------------------

    async listRoles(page: Page): Promise<RoleView[]> {
      return roleViews(await listRoles(database.db, page));
    },

    async getRole(idOrName: string): Promise<RoleView> {
      return (await roleViews([await requireRole(idOrName)]))[0]!;
    },

    async createRole(
      input: { name: string; description?: string | undefined; permissions?: string[]; includes?: string[] },
      context: Actor,
    ): Promise<RoleView> {
      if (await findRole(database.db, input.name)) {
        throw new GatehouseError(AuthzErrors.authz_name_taken, `Role ${input.name} exists`);
      }
      const now = clock.now();
      const id = newId('role');
      const permissions = await validatedPermissions(input.permissions ?? []);
      const included = await roleIds(input.includes ?? []);
      await assertActorHoldsPermissions(context, permissions);
      await assertActorHolds(context, ...included);
      try {
        await change(
          async (trx) => {
            await assertNoRoleCycle(trx, id, included);
            await insertRole(trx, {
              id,
              name: input.name,
              description: input.description ?? '',
              builtin: 0,
              created_at: now,
              updated_at: now,
            });
            await replaceRolePermissions(trx, id, permissions);
            await replaceRoleIncludes(
              trx,
              id,
              included.map((role) => role.id),
            );
          },
          () =>
            eventOf(AuthzEvents.roleCreated, context, {
              role: input.name,
              permissions,
              includes: input.includes ?? [],
            }),
        );
      } catch (error) {
        if (isUniqueViolation(error))
          throw new GatehouseError(AuthzErrors.authz_name_taken, `Role ${input.name} exists`);
        throw error;
      }
      return this.getRole(id);
    },

    async updateRole(
      idOrName: string,
      input: {
        description?: string | undefined;
        permissions?: string[] | undefined;
        includes?: string[] | undefined;
      },
      context: Actor,
    ): Promise<RoleView> {
      const role = await requireRole(idOrName);
      if (role.id === OWNER_ROLE_ID && (input.permissions !== undefined || input.includes !== undefined)) {
        throw new GatehouseError(AuthzErrors.builtin_protected, 'The owner role always holds everything');
      }
      const permissions = input.permissions && (await validatedPermissions(input.permissions));
      const included = input.includes && (await roleIds(input.includes));
      // Shaping a role changes what its holders can do: the actor must hold it as it is and as it will be.
      await assertActorHolds(context, role, ...(included ?? []));
      await assertActorHoldsPermissions(context, permissions ?? []);
      await change(
        async (trx) => {
          if (included) await assertNoRoleCycle(trx, role.id, included);
          await updateRole(trx, role.id, {
            ...(input.description !== undefined ? { description: input.description } : {}),
            updated_at: clock.now(),
          });
          if (permissions) await replaceRolePermissions(trx, role.id, permissions);
          if (included) {
            await replaceRoleIncludes(
              trx,
              role.id,
              included.map((entry) => entry.id),
            );
          }
        },
        () =>
          eventOf(AuthzEvents.roleChanged, context, {
            role: role.name,
            ...(permissions ? { permissions } : {}),
            ...(input.includes ? { includes: input.includes } : {}),
          }),
      );
      return this.getRole(role.id);
    },

    async deleteRole(idOrName: string, context: Actor): Promise<void> {
      const role = await requireRole(idOrName);
      if (role.builtin === 1)
        throw new GatehouseError(AuthzErrors.builtin_protected, `${role.name} is built in`);
      await change(
        (trx) => deleteRole(trx, role.id),
        () => eventOf(AuthzEvents.roleDeleted, context, { role: role.name }),
      );
    },

    async assign(
      principal: { type: PrincipalType; id: string },
      roleName: string,
      context: Actor,
    ): Promise<void> {
      const role = await requireRole(roleName);
      if (principal.type === 'user') await requireUser(principal.id);
      else if (principal.type === 'group') await requireGroup(principal.id);
      else await requireServiceAccount(principal.id);
      if (role.id === USER_ROLE_ID) {
        throw new GatehouseError(AuthzErrors.builtin_protected, 'Every account holds the user role already');
      }
      await assertActorHolds(context, role);
      await change(
        (trx) =>
          assignRole(trx, {
            role_id: role.id,
            principal_type: principal.type,
            principal_id: principal.id,
            created_at: clock.now(),
          }),
        () =>
          eventOf(
            AuthzEvents.roleAssigned,
            context,
            { role: role.name, principalType: principal.type, principalId: principal.id },
            principal.type === 'user' ? principal.id : undefined,
          ),
      );
    },

    async unassign(
      principal: { type: PrincipalType; id: string },
      roleName: string,
      context: Actor,
      options: { ifHeld?: boolean } = {},
    ): Promise<void> {
      const role = await requireRole(roleName);
      await assertActorHolds(context, role);
      const removed = await change(
        (trx) => unassignRole(trx, principal.type, principal.id, role.id),
        (count) =>
          count === 0
            ? undefined
            : eventOf(
                AuthzEvents.roleUnassigned,
                context,
                { role: role.name, principalType: principal.type, principalId: principal.id },
                principal.type === 'user' ? principal.id : undefined,
              ),
      );
      if (removed === 0 && options.ifHeld) return;
      if (removed === 0) {
        throw new GatehouseError(
          AuthzErrors.role_not_found,
          `The ${principal.type} does not hold ${role.name}`,
        );
      }
    },

    // Groups --------------------------------------------------------------------------------------------------

    async listGroups(page: Page): Promise<GroupView[]> {
      return (await listGroups(database.db, page)).map(groupView);
    },

    async getGroup(idOrName: string): Promise<GroupDetailView> {
      const group = await requireGroup(idOrName);
      const details = await groupDetails(database.db, group.id);
      const model = await currentGraph();
      const nameOf = async (ids: string[]) =>
        (await groupNames(database.db, ids)).map((row) => row.name).sort();
      return {
        ...groupView(group),
        members: details.members,
        parents: await nameOf(details.parentIds),
        children: await nameOf(details.childIds),
        roles: details.roleIds.map((id) => model.roles.get(id)?.name ?? id).sort(),
      };
    },

    async createGroup(input: { name: string; description?: string | undefined }, context: Actor) {
      if (await findGroup(database.db, input.name)) {
        throw new GatehouseError(AuthzErrors.authz_name_taken, `Group ${input.name} exists`);
      }
      const now = clock.now();
      const row: GroupRow = {
        id: newId('group'),
        name: input.name,
        description: input.description ?? '',
        created_at: now,
        updated_at: now,
      };
      try {
        await change(
          (trx) => insertGroup(trx, row),
          () => eventOf(AuthzEvents.groupCreated, context, { group: row.name }),
        );
      } catch (error) {
        if (isUniqueViolation(error))
          throw new GatehouseError(AuthzErrors.authz_name_taken, `Group ${input.name} exists`);
        throw error;
      }
      return groupView(row);
    },

    async deleteGroup(idOrName: string, context: Actor): Promise<void> {
      const group = await requireGroup(idOrName);
      await change(
        (trx) => deleteGroup(trx, group.id),
        () => eventOf(AuthzEvents.groupDeleted, context, { group: group.name }),
      );
    },

    async addMember(groupIdOrName: string, userId: string, context: Actor): Promise<void> {
      const group = await requireGroup(groupIdOrName);
      await requireUser(userId);
      await change(
        (trx) => addGroupMember(trx, group.id, userId, clock.now()),
        () => eventOf(AuthzEvents.groupMemberAdded, context, { group: group.name }, userId),
      );
    },

    async removeMember(groupIdOrName: string, userId: string, context: Actor): Promise<void> {
      const group = await requireGroup(groupIdOrName);
      const removed = await change(
        (trx) => removeGroupMember(trx, group.id, userId),
        (count) =>
          count === 0
            ? undefined
            : eventOf(AuthzEvents.groupMemberRemoved, context, { group: group.name }, userId),
      );
      if (removed === 0)
        throw new GatehouseError(AccountErrors.user_not_found, 'The user is not in this group');
    },

    /** Puts a group inside another: its members become members of the parent as well. */
    async nest(groupIdOrName: string, parentIdOrName: string, context: Actor): Promise<void> {
      const group = await requireGroup(groupIdOrName);
      const parent = await requireGroup(parentIdOrName);
      await change(
        async (trx) => {
          const model = await buildGraph(trx);
          if (wouldCycle(group.id, parent.id, (id) => model.groupParents.get(id))) {
            throw new GatehouseError(
              AuthzErrors.group_cycle,
              `Group ${parent.name} is already inside ${group.name} (directly or through others)`,
            );
          }
          await addGroupParent(trx, group.id, parent.id);
        },
        () => eventOf(AuthzEvents.groupNested, context, { group: group.name, parent: parent.name }),
      );
    },

    async unnest(groupIdOrName: string, parentIdOrName: string, context: Actor): Promise<void> {
      const group = await requireGroup(groupIdOrName);
      const parent = await requireGroup(parentIdOrName);
      const removed = await change(
        (trx) => removeGroupParent(trx, group.id, parent.id),
        (count) =>
          count === 0
            ? undefined
            : eventOf(AuthzEvents.groupUnnested, context, { group: group.name, parent: parent.name }),
      );
      if (removed === 0)
        throw new GatehouseError(AuthzErrors.group_not_found, `${group.name} is not inside ${parent.name}`);
    },

    // Attribute policies --------------------------------------------------------------------------------------

    /** The Cedar schema policies are validated against (JSON schema format). */
    policySchema: currentSchema,

    async listPolicies(page: Page): Promise<PolicyView[]> {
      return (await listPolicies(database.db, page)).map(policyView);
    },

    async getPolicy(idOrName: string) {
      const row = await requirePolicy(idOrName);
      const versions = await policyVersions(database.db, row.id);
      return {
        ...policyView(row),
        versions: versions.map((version) => ({
          version: version.version,
          text: version.text,
          enabled: version.enabled === 1,
          changedBy: version.changed_by,
          createdAt: iso(version.created_at),
        })),
      };
    },

    async savePolicy(
      input: { name: string; text: string; description?: string | undefined; enabled?: boolean | undefined },
      context: Actor,
    ): Promise<PolicyView> {
      await assertValidPolicy(input.text);
      const existing = await findPolicy(database.db, input.name);
      const now = clock.now();
      const row: PolicyRow = {
        id: existing?.id ?? newId('policy'),
        name: input.name,
        description: input.description ?? existing?.description ?? '',
        text: input.text,
        version: (existing?.version ?? 0) + 1,
        enabled: (input.enabled ?? true) ? 1 : 0,
        created_at: existing?.created_at ?? now,
        updated_at: now,
      };
      await change(
        (trx) => savePolicy(trx, row, context.actorUserId ?? null, !existing),
        () =>
          eventOf(AuthzEvents.policyChanged, context, {
            policy: row.name,
            version: row.version,
            enabled: row.enabled === 1,
          }),
      );
      return policyView(row);
    },

    async deletePolicy(idOrName: string, context: Actor): Promise<void> {
      const row = await requirePolicy(idOrName);
      await change(
        (trx) => deletePolicy(trx, row.id),
        () => eventOf(AuthzEvents.policyDeleted, context, { policy: row.name }),
      );
    },

    // Service accounts ----------------------------------------------------------------------------------------

    async listServiceAccounts(page: Page): Promise<ServiceAccountView[]> {
      const rows = await listServiceAccounts(database.db, page);
      return Promise.all(rows.map(async (row) => serviceAccountView(row, await serviceAccess(row.id))));
    },

    async getServiceAccount(idOrName: string): Promise<ServiceAccountView> {
      const row = await requireServiceAccount(idOrName);
      return serviceAccountView(row, await serviceAccess(row.id));
    },

    async createServiceAccount(
      input: { name: string; description?: string | undefined },
      context: Actor,
    ): Promise<ServiceAccountView> {
      if (await findServiceAccount(database.db, input.name)) {
        throw new GatehouseError(AuthzErrors.authz_name_taken, `Service account ${input.name} exists`);
      }
      const now = clock.now();
      const row: ServiceAccountRow = {
        id: newId('svc'),
        name: input.name,
        description: input.description ?? '',
        disabled: 0,
        created_at: now,
        updated_at: now,
      };
      await change(
        (trx) => insertServiceAccount(trx, row),
        () =>
          eventOf(AuthzEvents.serviceAccountCreated, context, {
            serviceAccount: row.name,
            serviceAccountId: row.id,
          }),
      );
      return serviceAccountView(row, await serviceAccess(row.id));
    },

    async deleteServiceAccount(idOrName: string, context: Actor): Promise<void> {
      const row = await requireServiceAccount(idOrName);
      await change(
        (trx) => deleteServiceAccount(trx, row.id),
        () =>
          eventOf(AuthzEvents.serviceAccountDeleted, context, {
            serviceAccount: row.name,
            serviceAccountId: row.id,
          }),
      );
    },

    requireServiceAccount,
  };
}

export interface PolicyView {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly text: string;
  readonly version: number;
  readonly enabled: boolean;
  readonly updatedAt: string;
}

function policyView(row: PolicyRow): PolicyView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    text: row.text,
    version: row.version,
    enabled: row.enabled === 1,
    updatedAt: iso(row.updated_at),
  };
}

export interface ServiceAccountView {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly disabled: boolean;
  readonly roles: string[];
  readonly createdAt: string;
}

function serviceAccountView(row: ServiceAccountRow, held: EffectiveAccess): ServiceAccountView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    disabled: row.disabled === 1,
    roles: [...held.roles],
    createdAt: iso(row.created_at),
  };
}

export type AuthzService = ReturnType<typeof createAuthzService>;
