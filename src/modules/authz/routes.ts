import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatehouseError } from '../../platform/errors.js';
import { problemResponses } from '../../platform/http/problem.js';
import { requestContext } from '../accounts/routes.js';
import type { ApiTokenVerifier } from '../oidc/api-tokens.js';
import { SessionErrors } from '../sessions/errors.js';
import type { ApiKeyService, AuthenticatedKey } from './api-keys.js';
import {
  AccessResponse,
  ApiKeyBody,
  ApiKeyParams,
  ApiKeysResponse,
  BatchCheckBody,
  BatchDecisionResponse,
  CheckBody,
  CheckQuery,
  CreatedApiKeyResponse,
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
  PoliciesResponse,
  PolicyBody,
  PolicyDetailResponse,
  PolicyNameParams,
  PolicyParams,
  PolicyResponse,
  PolicySchemaResponse,
  PolicyTestBody,
  RoleBody,
  RoleParams,
  RoleResponse,
  RolesResponse,
  RotateApiKeyBody,
  ServiceAccountBody,
  ServiceAccountKeyParams,
  ServiceAccountParams,
  ServiceAccountResponse,
  ServiceAccountRoleParams,
  ServiceAccountsResponse,
  UserParams,
  UserRoleParams,
} from './schemas.js';
import type { AuthzService, EffectiveAccess } from './service.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission a caller must hold (checked after authentication, before the body is read). */
    permission?: string;
  }
  interface FastifyRequest {
    /** Who called a permission-guarded route with an API key (a session caller is `request.session`). */
    apiKey?: AuthenticatedKey;
    /** The OAuth client whose Gatehouse API token authenticated the request. */
    apiClient?: string;
  }
}

/**
 * Route config for an endpoint that needs a caller holding `permission`: a signed-in user, or an
 * `Authorization: Bearer` API key (a user's or a service account's) whose principal and scopes allow it.
 */
export const requires = (permission: string) => ({ auth: 'session-or-bearer' as const, permission });

/** The user acting, for the audit trail: the signed-in user, or the user whose API key it is. */
export function actingUserId(request: FastifyRequest): string | undefined {
  if (request.session) return request.session.userId;
  return request.apiKey?.principal.type === 'user' ? request.apiKey.principal.id : undefined;
}

/**
 * Enforces `config.permission`. A callback hook, so routes without one pay nothing; runs before validation, so
 * a caller without the permission learns nothing from validation errors.
 */
export function registerPermissionGuard(
  app: FastifyInstance,
  authz: AuthzService,
  apiTokens: ApiTokenVerifier,
  apiKeys: ApiKeyService,
): void {
  app.decorateRequest('apiKey', undefined);
  app.decorateRequest('apiClient', undefined);
  app.addHook('preValidation', (request, _reply, done) => {
    const permission = request.routeOptions.config?.permission;
    if (!permission) {
      done();
      return;
    }
    if (!request.session) {
      // `session-or-bearer` routes: a client's Gatehouse API token carrying the permission as a scope.
      const bearer = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim();
      if (request.routeOptions.config?.auth === 'session-or-bearer' && bearer) {
        const context = { ...requestContext(request), route: request.routeOptions.url };
        const checked = bearer.startsWith('gh_')
          ? apiKeys.authenticate(bearer, context).then(async (key) => {
              request.apiKey = key;
              await authz.require(key.principal, permission, { ...context, keyScopes: key.scopes });
            })
          : apiTokens.verify(bearer, permission).then((caller) => {
              request.apiClient = caller.clientId;
            });
        checked.then(
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
export const authzRoutes: FastifyPluginAsyncTypebox<{ authz: AuthzService; apiKeys: ApiKeyService }> = async (
  app,
  { authz, apiKeys },
) => {
  const tags = ['authorization'];
  const read = requires('authz:read');
  const write = requires('authz:write');
  const actor = (request: FastifyRequest) => ({
    ...requestContext(request),
    actorUserId: actingUserId(request),
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

  // API keys: a user's own (through a signed-in session only, so a leaked key cannot mint more) -------------
  const me = (request: FastifyRequest) => ({ type: 'user' as const, id: request.session!.userId });
  app.get(
    '/api/v1/me/api-keys',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['me'],
        summary: 'Your API keys (never their secrets)',
        querystring: PageQuery,
        response: { 200: ApiKeysResponse, ...problemResponses },
      },
    },
    async (request) => ({ keys: await apiKeys.list(me(request), request.query) }),
  );
  app.post(
    '/api/v1/me/api-keys',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['me'],
        summary:
          'Make an API key (shown once); it can do at most what you can, limited to its scopes if given',
        body: ApiKeyBody,
        response: { 201: CreatedApiKeyResponse, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await apiKeys.create(me(request), request.body, actor(request))),
  );
  app.post(
    '/api/v1/me/api-keys/:keyId/rotate',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['me'],
        summary: 'A new secret; the old one works for overlapSeconds more',
        params: ApiKeyParams,
        body: RotateApiKeyBody,
        response: { 200: CreatedApiKeyResponse, ...problemResponses },
      },
    },
    async (request) =>
      apiKeys.rotate(request.params.keyId, request.body.overlapSeconds, actor(request), me(request)),
  );
  app.delete(
    '/api/v1/me/api-keys/:keyId',
    {
      config: { auth: 'session' },
      schema: { tags: ['me'], summary: 'Revoke one of your API keys', params: ApiKeyParams, response: none },
    },
    async (request, reply) => {
      await apiKeys.revoke(request.params.keyId, actor(request), me(request));
      return reply.code(204).send(null);
    },
  );

  // Service accounts ----------------------------------------------------------------------------------------
  const service = async (request: { params: { serviceAccount: string } }) => ({
    type: 'service_account' as const,
    id: (await authz.requireServiceAccount(request.params.serviceAccount)).id,
  });
  app.get(
    '/api/v1/admin/service-accounts',
    {
      config: read,
      schema: {
        tags,
        summary: 'Service accounts (non-human principals with roles)',
        querystring: PageQuery,
        response: { 200: ServiceAccountsResponse, ...problemResponses },
      },
    },
    async (request) => ({ serviceAccounts: await authz.listServiceAccounts(request.query) }),
  );
  app.post(
    '/api/v1/admin/service-accounts',
    {
      config: write,
      schema: {
        tags,
        summary: 'Create a service account',
        body: ServiceAccountBody,
        response: { 201: ServiceAccountResponse, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send({ serviceAccount: await authz.createServiceAccount(request.body, actor(request)) }),
  );
  app.get(
    '/api/v1/admin/service-accounts/:serviceAccount',
    {
      config: read,
      schema: {
        tags,
        summary: 'One service account',
        params: ServiceAccountParams,
        response: { 200: ServiceAccountResponse, ...problemResponses },
      },
    },
    async (request) => ({ serviceAccount: await authz.getServiceAccount(request.params.serviceAccount) }),
  );
  app.delete(
    '/api/v1/admin/service-accounts/:serviceAccount',
    {
      config: write,
      schema: {
        tags,
        summary: 'Delete a service account, its roles and its keys',
        params: ServiceAccountParams,
        response: none,
      },
    },
    async (request, reply) => {
      await authz.deleteServiceAccount(request.params.serviceAccount, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.put(
    '/api/v1/admin/service-accounts/:serviceAccount/roles/:role',
    {
      config: write,
      schema: {
        tags,
        summary: 'Give a service account a role',
        params: ServiceAccountRoleParams,
        response: none,
      },
    },
    async (request, reply) => {
      await authz.assign(await service(request), request.params.role, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.delete(
    '/api/v1/admin/service-accounts/:serviceAccount/roles/:role',
    {
      config: write,
      schema: {
        tags,
        summary: 'Take a role from a service account',
        params: ServiceAccountRoleParams,
        response: none,
      },
    },
    async (request, reply) => {
      await authz.unassign(await service(request), request.params.role, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.get(
    '/api/v1/admin/service-accounts/:serviceAccount/api-keys',
    {
      config: read,
      schema: {
        tags,
        summary: "A service account's API keys",
        querystring: PageQuery,
        params: ServiceAccountParams,
        response: { 200: ApiKeysResponse, ...problemResponses },
      },
    },
    async (request) => ({ keys: await apiKeys.list(await service(request), request.query) }),
  );
  app.post(
    '/api/v1/admin/service-accounts/:serviceAccount/api-keys',
    {
      config: write,
      schema: {
        tags,
        summary: 'Make an API key for a service account (shown once)',
        params: ServiceAccountParams,
        body: ApiKeyBody,
        response: { 201: CreatedApiKeyResponse, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await apiKeys.create(await service(request), request.body, actor(request))),
  );
  app.post(
    '/api/v1/admin/service-accounts/:serviceAccount/api-keys/:keyId/rotate',
    {
      config: write,
      schema: {
        tags,
        summary: 'Rotate a service account key with an overlap',
        params: ServiceAccountKeyParams,
        body: RotateApiKeyBody,
        response: { 200: CreatedApiKeyResponse, ...problemResponses },
      },
    },
    async (request) =>
      apiKeys.rotate(
        request.params.keyId,
        request.body.overlapSeconds,
        actor(request),
        await service(request),
      ),
  );
  app.delete(
    '/api/v1/admin/service-accounts/:serviceAccount/api-keys/:keyId',
    {
      config: write,
      schema: {
        tags,
        summary: 'Revoke a service account key',
        params: ServiceAccountKeyParams,
        response: none,
      },
    },
    async (request, reply) => {
      await apiKeys.revoke(request.params.keyId, actor(request), await service(request));
      return reply.code(204).send(null);
    },
  );

  // Attribute policies (Cedar) --------------------------------------------------------------------------------
  app.get(
    '/api/v1/admin/policies',
    {
      config: read,
      schema: {
        tags,
        summary: 'Attribute policies (Cedar), current versions',
        querystring: PageQuery,
        response: { 200: PoliciesResponse, ...problemResponses },
      },
    },
    async (request) => ({ policies: await authz.listPolicies(request.query) }),
  );
  app.get(
    '/api/v1/admin/policies/:policy',
    {
      config: read,
      schema: {
        tags,
        summary: 'A policy with every earlier version',
        params: PolicyParams,
        response: { 200: PolicyDetailResponse, ...problemResponses },
      },
    },
    async (request) => ({ policy: await authz.getPolicy(request.params.policy) }),
  );
  app.put(
    '/api/v1/admin/policies/:policy',
    {
      config: write,
      schema: {
        tags,
        summary:
          'Create or change a policy (a new version); a Cedar error is a 400 naming its line and column',
        params: PolicyNameParams,
        body: PolicyBody,
        response: { 200: PolicyResponse, ...problemResponses },
      },
    },
    async (request) => ({
      policy: await authz.savePolicy({ name: request.params.policy, ...request.body }, actor(request)),
    }),
  );
  app.delete(
    '/api/v1/admin/policies/:policy',
    {
      config: write,
      schema: { tags, summary: 'Delete a policy and its versions', params: PolicyParams, response: none },
    },
    async (request, reply) => {
      await authz.deletePolicy(request.params.policy, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.post(
    '/api/v1/admin/policies/test',
    {
      config: read,
      schema: {
        tags,
        summary: 'Try a policy before saving it: the decision for a sample request as if it were saved',
        body: PolicyTestBody,
        response: { 200: DecisionResponse, ...problemResponses },
      },
    },
    async (request) => authz.tryPolicy(request.body.policy, request.body.request),
  );
  app.get(
    '/api/v1/admin/policy-schema',
    {
      config: read,
      schema: {
        tags,
        summary:
          'The Cedar schema policies are validated against: one action per permission, declared resource and context attributes',
        response: { 200: PolicySchemaResponse, ...problemResponses },
      },
    },
    async () => ({ schema: await authz.policySchema() }),
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
