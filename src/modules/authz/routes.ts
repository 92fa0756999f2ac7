import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatehouseError } from '../../platform/errors.js';
import { problemResponses } from '../../platform/http/problem.js';
import { requestContext } from '../accounts/routes.js';
import type { ApiTokenVerifier } from '../oidc/api-tokens.js';
import { SessionErrors } from '../sessions/errors.js';
import {
  AccessResponse,
  BatchCheckBody,
  BatchDecisionResponse,
  CheckBody,
  CheckQuery,
  DecisionResponse,
  GroupBody,
  GroupDetailResponse,
  GroupMemberParams,
  GroupParams,
  GroupParentParams,
  GroupResponse,
  GroupRoleParams,
  GroupsResponse,
  PageQuery,
  PatchRoleBody,
  PermissionBody,
  PermissionParams,
  PermissionResponse,
  PermissionsResponse,
  RoleBody,
  RoleParams,
  RoleResponse,
  RolesResponse,
  UserParams,
  UserRoleParams,
} from './schemas.js';
import type { AuthzService, EffectiveAccess } from './service.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission a signed-in caller must hold (checked after the session, before the body is read). */
    permission?: string;
  }
}

/** Route config for an endpoint that needs a signed-in caller holding `permission`. */
export const requires = (permission: string) => ({ auth: 'session' as const, permission });

/**
 * Enforces `config.permission`. A callback hook, so routes without one pay nothing; runs before validation, so
 * a caller without the permission learns nothing from validation errors.
 */
export function registerPermissionGuard(
  app: FastifyInstance,
  authz: AuthzService,
  apiTokens: ApiTokenVerifier,
): void {
  app.addHook('preValidation', (request, _reply, done) => {
    const permission = request.routeOptions.config?.permission;
    if (!permission) {
      done();
      return;
    }
    if (!request.session) {
      // `session-or-bearer` routes: a client's Gatehouse API token carrying the permission as a scope.
      const bearer = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1];
      if (request.routeOptions.config?.auth === 'session-or-bearer' && bearer) {
        apiTokens.verify(bearer.trim(), permission).then(
          () => done(),
          (error: unknown) => done(error as Error),
        );
        return;
      }
      done(new GatehouseError(SessionErrors.session_required));
      return;
    }
    authz
      .require(request.session.userId, permission, {
        ...requestContext(request),
        route: request.routeOptions.url,
      })
      .then(
        () => done(),
        (error: unknown) => done(error as Error),
      );
  });
}

const accessView = (access: EffectiveAccess) => ({
  roles: [...access.roles],
  groups: [...access.groups],
  permissions: [...access.permissions.keys()].sort(),
});

/** Permissions, roles, groups and assignments (`/api/v1/admin/…`), the caller's own access, and decisions. */
export const authzRoutes: FastifyPluginAsyncTypebox<{ authz: AuthzService }> = async (app, { authz }) => {
  const tags = ['authorization'];
  const read = requires('authz:read');
  const write = requires('authz:write');
  const actor = (request: FastifyRequest) => ({
    ...requestContext(request),
    actorUserId: request.session?.userId,
  });
  const none = { 204: { type: 'null' }, ...problemResponses } as const;

  // Permissions ---------------------------------------------------------------------------------------------
  app.get(
    '/api/v1/admin/permissions',
    {
      config: read,
      schema: {
        tags,
        summary: 'Registered permissions',
        querystring: PageQuery,
        response: { 200: PermissionsResponse, ...problemResponses },
      },
    },
    async (request) => ({ permissions: await authz.listPermissions(request.query) }),
  );
  app.post(
    '/api/v1/admin/permissions',
    {
      config: write,
      schema: {
        tags,
        summary: 'Register a permission (resource:action)',
        body: PermissionBody,
        response: { 201: PermissionResponse, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send({ permission: await authz.createPermission(request.body, actor(request)) }),
  );
  app.delete(
    '/api/v1/admin/permissions/:permission',
    {
      config: write,
      schema: {
        tags,
        summary: 'Remove a permission (and take it from every role)',
        params: PermissionParams,
        response: none,
      },
    },
    async (request, reply) => {
      await authz.deletePermission(request.params.permission, actor(request));
      return reply.code(204).send(null);
    },
  );

  // Roles ---------------------------------------------------------------------------------------------------
  app.get(
    '/api/v1/admin/roles',
    {
      config: read,
      schema: {
        tags,
        summary: 'Roles with their permissions and included roles',
        querystring: PageQuery,
        response: { 200: RolesResponse, ...problemResponses },
      },
    },
    async (request) => ({ roles: await authz.listRoles(request.query) }),
  );
  app.post(
    '/api/v1/admin/roles',
    {
      config: write,
      schema: {
        tags,
        summary: 'Create a role; including a role that includes it back is refused',
        body: RoleBody,
        response: { 201: RoleResponse, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send({ role: await authz.createRole(request.body, actor(request)) }),
  );
  app.get(
    '/api/v1/admin/roles/:role',
    {
      config: read,
      schema: {
        tags,
        summary: 'One role (by id or name)',
        params: RoleParams,
        response: { 200: RoleResponse, ...problemResponses },
      },
    },
    async (request) => ({ role: await authz.getRole(request.params.role) }),
  );
  app.patch(
    '/api/v1/admin/roles/:role',
    {
      config: write,
      schema: {
        tags,
        summary: "Change a role's description, permissions or included roles (lists replace)",
        params: RoleParams,
        body: PatchRoleBody,
        response: { 200: RoleResponse, ...problemResponses },
      },
    },
    async (request) => ({ role: await authz.updateRole(request.params.role, request.body, actor(request)) }),
  );
  app.delete(
    '/api/v1/admin/roles/:role',
    {
      config: write,
      schema: {
        tags,
        summary: 'Delete a role and its assignments (not a built-in one)',
        params: RoleParams,
        response: none,
      },
    },
    async (request, reply) => {
      await authz.deleteRole(request.params.role, actor(request));
      return reply.code(204).send(null);
    },
  );

  // Groups --------------------------------------------------------------------------------------------------
  app.get(
    '/api/v1/admin/groups',
    {
      config: read,
      schema: {
        tags,
        summary: 'Groups',
        querystring: PageQuery,
        response: { 200: GroupsResponse, ...problemResponses },
      },
    },
    async (request) => ({ groups: await authz.listGroups(request.query) }),
  );
  app.post(
    '/api/v1/admin/groups',
    {
      config: write,
      schema: {
        tags,
        summary: 'Create a group',
        body: GroupBody,
        response: { 201: GroupResponse, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send({ group: await authz.createGroup(request.body, actor(request)) }),
  );
  app.get(
    '/api/v1/admin/groups/:group',
    {
      config: read,
      schema: {
        tags,
        summary: 'A group with its members, parent and child groups, and roles',
        params: GroupParams,
        response: { 200: GroupDetailResponse, ...problemResponses },
      },
    },
    async (request) => ({ group: await authz.getGroup(request.params.group) }),
  );
  app.delete(
    '/api/v1/admin/groups/:group',
    {
      config: write,
      schema: {
        tags,
        summary: 'Delete a group, its memberships and assignments',
        params: GroupParams,
        response: none,
      },
    },
    async (request, reply) => {
      await authz.deleteGroup(request.params.group, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.put(
    '/api/v1/admin/groups/:group/members/:userId',
    {
      config: write,
      schema: { tags, summary: 'Add a user to a group', params: GroupMemberParams, response: none },
    },
    async (request, reply) => {
      await authz.addMember(request.params.group, request.params.userId, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.delete(
    '/api/v1/admin/groups/:group/members/:userId',
    {
      config: write,
      schema: { tags, summary: 'Remove a user from a group', params: GroupMemberParams, response: none },
    },
    async (request, reply) => {
      await authz.removeMember(request.params.group, request.params.userId, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.put(
    '/api/v1/admin/groups/:group/parents/:parent',
    {
      config: write,
      schema: {
        tags,
        summary: "Put a group inside another (its members join the parent's roles); cycles are refused",
        params: GroupParentParams,
        response: none,
      },
    },
    async (request, reply) => {
      await authz.nest(request.params.group, request.params.parent, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.delete(
    '/api/v1/admin/groups/:group/parents/:parent',
    {
      config: write,
      schema: { tags, summary: 'Take a group out of another', params: GroupParentParams, response: none },
    },
    async (request, reply) => {
      await authz.unnest(request.params.group, request.params.parent, actor(request));
      return reply.code(204).send(null);
    },
  );

  // Assignments ---------------------------------------------------------------------------------------------
  app.put(
    '/api/v1/admin/groups/:group/roles/:role',
    {
      config: write,
      schema: {
        tags,
        summary: 'Give a group a role (every member, nested ones too, holds it)',
        params: GroupRoleParams,
        response: none,
      },
    },
    async (request, reply) => {
      const group = await authz.getGroup(request.params.group);
      await authz.assign({ type: 'group', id: group.id }, request.params.role, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.delete(
    '/api/v1/admin/groups/:group/roles/:role',
    {
      config: write,
      schema: { tags, summary: 'Take a role from a group', params: GroupRoleParams, response: none },
    },
    async (request, reply) => {
      const group = await authz.getGroup(request.params.group);
      await authz.unassign({ type: 'group', id: group.id }, request.params.role, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.put(
    '/api/v1/admin/users/:userId/roles/:role',
    {
      config: write,
      schema: { tags, summary: 'Give a user a role', params: UserRoleParams, response: none },
    },
    async (request, reply) => {
      await authz.assign({ type: 'user', id: request.params.userId }, request.params.role, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.delete(
    '/api/v1/admin/users/:userId/roles/:role',
    {
      config: write,
      schema: { tags, summary: 'Take a role from a user', params: UserRoleParams, response: none },
    },
    async (request, reply) => {
      await authz.unassign({ type: 'user', id: request.params.userId }, request.params.role, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.get(
    '/api/v1/admin/users/:userId/permissions',
    {
      config: read,
      schema: {
        tags,
        summary: "A user's effective roles, groups and permissions",
        params: UserParams,
        response: { 200: AccessResponse, ...problemResponses },
      },
    },
    async (request) => accessView(await authz.effectiveAccess(request.params.userId)),
  );

  app.get(
    '/api/v1/me/permissions',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['me'],
        summary: 'Your roles, groups and permissions',
        response: { 200: AccessResponse, ...problemResponses },
      },
    },
    async (request) => accessView(await authz.effectiveAccess(request.session!.userId)),
  );

  // Decisions -----------------------------------------------------------------------------------------------
  // Also for services: a client_credentials token for `<issuer>/api` with the authz:check scope.
  const check = { auth: 'session-or-bearer' as const, permission: 'authz:check' };
  app.post(
    '/api/v1/authz/check',
    {
      config: check,
      schema: {
        tags,
        summary: 'May this subject do this action (on this resource, in this context)?',
        querystring: CheckQuery,
        body: CheckBody,
        response: { 200: DecisionResponse, ...problemResponses },
      },
    },
    async (request) => authz.check(request.body, { explain: request.query.explain }),
  );
  app.post(
    '/api/v1/authz/check/batch',
    {
      config: check,
      schema: {
        tags,
        summary: 'Several decisions at once, answered in order',
        querystring: CheckQuery,
        body: BatchCheckBody,
        response: { 200: BatchDecisionResponse, ...problemResponses },
      },
    },
    async (request) => ({
      results: await Promise.all(
        request.body.checks.map((entry) => authz.check(entry, { explain: request.query.explain })),
      ),
    }),
  );
};
