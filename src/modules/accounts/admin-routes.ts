import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../../platform/http/problem.js';
import type { SessionService } from '../sessions/service.js';
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
}

/**
 * `/api/v1/admin/users`: user administration. Until roles and permissions exist, every route needs a
 * signed-in user with the admin flag (`config.auth: 'admin'`).
 */
export const adminUserRoutes: FastifyPluginAsyncTypebox<AdminRoutesOptions> = async (
  app,
  { accounts, sessions },
) => {
  const config = { auth: 'admin' as const };
  const tags = ['admin'];
  const actor = (request: { session?: { userId: string } | undefined }) => request.session!.userId;

  app.get(
    '/api/v1/admin/users',
    {
      config,
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
      config,
      schema: {
        tags,
        summary: 'Create a user',
        body: AdminCreateUserBody,
        response: { 201: UserResponse, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { emailVerified, ...input } = request.body;
      const user = await accounts.adminCreate(
        { ...input, ...(emailVerified !== undefined ? { verified: emailVerified } : {}) },
        { ...requestContext(request), actorUserId: actor(request) },
      );
      return reply.code(201).send({ user });
    },
  );

  app.get(
    '/api/v1/admin/users/:userId',
    {
      config,
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
      config,
      schema: {
        tags,
        summary: 'Update a user',
        params: UserParams,
        body: AdminUpdateUserBody,
        response: { 200: UserResponse, ...problemResponses },
      },
    },
    async (request) => ({
      user: await accounts.adminUpdate(request.params.userId, request.body, {
        ...requestContext(request),
        actorUserId: actor(request),
      }),
    }),
  );

  app.delete(
    '/api/v1/admin/users/:userId',
    {
      config,
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
        config,
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
      config,
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
      config,
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
      config,
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
      config,
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
