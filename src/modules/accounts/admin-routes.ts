import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../../platform/http/problem.js';
import { actingUserId, requires } from '../authz/routes.js';
import type { RequestContext, SessionService } from '../sessions/service.js';
import { requestContext } from './routes.js';
import {
  AdminCreateUserBody,
  AdminUpdateUserBody,
  EmailBody,
  InvitationResponse,
  ListUsersQuery,
  ListUsersResponse,
  RevokedResponse,
  SessionsResponse,
  UserParams,
  UserResponse,
  UserSessionParams,
} from './schemas.js';
import type { AccountService } from './service.js';

export interface AdminRoutesOptions {
  readonly accounts: AccountService;
  readonly sessions: SessionService;
  /** Gives or takes the admin role (the `isAdmin` field of these routes is a shortcut for it). */
  readonly setAdministrator: (
    userId: string,
    isAdmin: boolean,
    context: RequestContext & { actorUserId?: string },
  ) => Promise<void>;
}

/** `/api/v1/admin/users`: user administration, for callers holding `users:read` or `users:write`. */
export const adminUserRoutes: FastifyPluginAsyncTypebox<AdminRoutesOptions> = async (
  app,
  { accounts, sessions, setAdministrator },
) => {
  const read = requires('users:read');
  const write = requires('users:write');
  const tags = ['admin'];
  const actor = actingUserId;

  app.get(
    '/api/v1/admin/users',
    {
      config: read,
      schema: {
        tags,
        summary: 'List and search users (cursor pagination)',
        querystring: ListUsersQuery,
        response: { 200: ListUsersResponse, ...problemResponses },
      },
    },
    async (request) =>
      accounts.list({
        query: request.query.query,
        status: request.query.status,
        after: request.query.cursor,
        limit: request.query.limit,
      }),
  );

  app.post(
    '/api/v1/admin/users',
    {
      config: write,
      schema: {
        tags,
        summary: 'Create a user',
        body: AdminCreateUserBody,
        response: { 201: UserResponse, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { emailVerified, ...input } = request.body;
      const context = { ...requestContext(request), actorUserId: actor(request) };
      const created = await accounts.adminCreate(
        { ...input, ...(emailVerified !== undefined ? { verified: emailVerified } : {}) },
        context,
      );
      if (input.isAdmin) await setAdministrator(created.id, true, context);
      return reply.code(201).send({ user: input.isAdmin ? await accounts.get(created.id) : created });
    },
  );

  app.get(
    '/api/v1/admin/users/:userId',
    {
      config: read,
      schema: {
        tags,
        summary: 'Get a user',
        params: UserParams,
        response: { 200: UserResponse, ...problemResponses },
      },
    },
    async (request) => ({ user: await accounts.get(request.params.userId) }),
  );

  app.patch(
    '/api/v1/admin/users/:userId',
    {
      config: write,
      schema: {
        tags,
        summary: 'Update a user',
        params: UserParams,
        body: AdminUpdateUserBody,
        response: { 200: UserResponse, ...problemResponses },
      },
    },
    async (request) => {
      const context = { ...requestContext(request), actorUserId: actor(request) };
      const user = await accounts.adminUpdate(request.params.userId, request.body, context);
      if (request.body.isAdmin === undefined) return { user };
      await setAdministrator(request.params.userId, request.body.isAdmin, context);
      return { user: await accounts.get(request.params.userId) };
    },
  );

  app.delete(
    '/api/v1/admin/users/:userId',
    {
      config: write,
      schema: {
        tags,
        summary: 'Delete a user and erase their personal data (security events keep the id)',
        params: UserParams,
        response: { 204: { type: 'null' }, ...problemResponses },
      },
    },
    async (request, reply) => {
      await accounts.erase(request.params.userId, {
        ...requestContext(request),
        actorUserId: actor(request),
      });
      return reply.code(204).send(null);
    },
  );

  for (const [action, summary] of [
    ['disable', 'Disable a user (ends their sessions)'],
    ['enable', 'Enable a disabled user'],
    ['unlock', 'Lift a lockout'],
    ['force-password-reset', 'Require a new password: ends sessions and e-mails a reset link'],
  ] as const) {
    app.post(
      `/api/v1/admin/users/:userId/${action}`,
      {
        config: write,
        schema: { tags, summary, params: UserParams, response: { 200: UserResponse, ...problemResponses } },
      },
      async (request) => {
        const context = { ...requestContext(request), actorUserId: actor(request) };
        const { userId } = request.params;
        if (action === 'disable') return { user: await accounts.setStatus(userId, 'disabled', context) };
        if (action === 'enable') return { user: await accounts.setStatus(userId, 'active', context) };
        if (action === 'unlock') return { user: await accounts.unlock(userId, context) };
        return { user: await accounts.forcePasswordReset(userId, context) };
      },
    );
  }

  app.get(
    '/api/v1/admin/users/:userId/sessions',
    {
      config: read,
      schema: {
        tags,
        summary: "A user's sessions",
        params: UserParams,
        response: { 200: SessionsResponse, ...problemResponses },
      },
    },
    async (request) => {
      await accounts.get(request.params.userId);
      return { sessions: await sessions.list(request.params.userId) };
    },
  );

  app.delete(
    '/api/v1/admin/users/:userId/sessions/:sessionId',
    {
      config: write,
      schema: {
        tags,
        summary: 'End one session of a user',
        params: UserSessionParams,
        response: { 204: { type: 'null' }, ...problemResponses },
      },
    },
    async (request, reply) => {
      await sessions.revokeOne(request.params.userId, request.params.sessionId, {
        ...requestContext(request),
        actorUserId: actor(request),
      });
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/admin/users/:userId/revoke-sessions',
    {
      config: write,
      schema: {
        tags,
        summary: 'End every session of a user',
        params: UserParams,
        response: { 200: RevokedResponse, ...problemResponses },
      },
    },
    async (request) => {
      await accounts.get(request.params.userId);
      const revoked = await sessions.revokeAll(request.params.userId, {
        ...requestContext(request),
        actorUserId: actor(request),
        reason: 'admin_request',
      });
      return { revoked };
    },
  );

  app.post(
    '/api/v1/admin/invitations',
    {
      config: write,
      schema: {
        tags,
        summary: 'Invite someone by e-mail (for signup: invite)',
        body: EmailBody,
        response: { 201: InvitationResponse, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { expiresAt } = await accounts.invite(request.body.email, {
        ...requestContext(request),
        actorUserId: actor(request),
      });
      return reply.code(201).send({ status: 'sent' as const, expiresAt });
    },
  );
};
