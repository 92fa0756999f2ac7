import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { problemResponses } from '../../platform/http/problem.js';
import type { MethodView, RememberedDeviceView } from '../mfa/service.js';
import {
  clearSessionCookie,
  type SessionCookie,
  setHostCookie,
  setSessionCookie,
} from '../sessions/plugin.js';
import type { RequestContext, SessionService } from '../sessions/service.js';
import {
  Accepted,
  ChangeEmailBody,
  ChangePasswordBody,
  ChangePasswordResponse,
  EmailBody,
  ExportResponse,
  LoginBody,
  LoginResponse,
  MeResponse,
  PasswordBody,
  ReauthenticatedResponse,
  ResetConfirmBody,
  RevokedResponse,
  SessionParams,
  SessionsResponse,
  SignupBody,
  TokenBody,
  UpdateMeBody,
  UserResponse,
} from './schemas.js';
import type { AccountService, LoginResult } from './service.js';

export interface AccountRoutesOptions {
  readonly accounts: AccountService;
  readonly sessions: SessionService;
  readonly cookie: SessionCookie;
  /** Holds a sign-in that waits for its second factor. */
  readonly pendingCookie: SessionCookie;
  /** "Remember this device": lets a browser skip the second factor. */
  readonly deviceCookie: SessionCookie;
  readonly rememberedDevices: (userId: string, cookie: string | undefined) => Promise<RememberedDeviceView[]>;
  /** The second factors' part of a data export: what they are, never their secrets. */
  readonly exportSecondFactors: (
    userId: string,
  ) => Promise<{ mfaMethods: MethodView[]; rememberedDevices: RememberedDeviceView[] }>;
}

export function requestContext(request: FastifyRequest): RequestContext {
  return { ip: request.ip, userAgent: request.headers['user-agent'], requestId: request.id };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The body of every answer that starts a session (password, second factor, passkey). */
export function signedInBody(result: LoginResult, sessions: SessionService) {
  return {
    status: result.status,
    user: result.user,
    csrfToken: sessions.csrfToken(result.sessionId),
    expiresAt: iso(result.expiresAt),
    amr: [...result.authentication.amr],
    acr: result.authentication.acr,
  };
}

/** Sign-up, sign-in and the signed-in user's own account (`/api/v1/auth/*`, `/api/v1/me/*`). */
export const accountRoutes: FastifyPluginAsyncTypebox<AccountRoutesOptions> = async (
  app,
  { accounts, sessions, cookie, pendingCookie, deviceCookie, rememberedDevices, exportSecondFactors },
) => {
  const tags = ['auth'];
  const me = ['me'];

  app.post(
    '/api/v1/auth/signup',
    {
      schema: {
        tags,
        summary: 'Create an account',
        body: SignupBody,
        response: { 201: UserResponse, ...problemResponses },
      },
    },
    async (request, reply) => {
      const user = await accounts.signup(request.body, requestContext(request));
      return reply.code(201).send({ user });
    },
  );

  app.post(
    '/api/v1/auth/login',
    {
      schema: {
        tags,
        summary: 'Sign in with e-mail and password; sets the session cookie',
        body: LoginBody,
        response: { 200: LoginResponse, ...problemResponses },
      },
    },
    async (request, reply) => {
      const result = await accounts.login(request.body, {
        ...requestContext(request),
        rememberedDevice: request.cookies[deviceCookie.name],
      });
      if (result.status === 'mfa_required') {
        setHostCookie(reply, pendingCookie, result.pendingToken, result.expiresAt);
        return {
          status: result.status,
          methods: result.methods,
          backupCodes: result.backupCodes,
          expiresAt: iso(result.expiresAt),
        };
      }
      setSessionCookie(reply, cookie, result.token, result.expiresAt);
      return signedInBody(result, sessions);
    },
  );

  app.post(
    '/api/v1/auth/logout',
    {
      config: { auth: 'session', allowRestricted: true },
      schema: { tags, summary: 'End this session', response: { 204: { type: 'null' }, ...problemResponses } },
    },
    async (request, reply) => {
      const session = request.session!;
      await accounts.logout(session.userId, session.id, requestContext(request));
      clearSessionCookie(reply, cookie);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/auth/verify-email',
    {
      schema: {
        tags,
        summary: 'Confirm an e-mail address with the token from the e-mail',
        body: TokenBody,
        response: { 200: UserResponse, ...problemResponses },
      },
    },
    async (request) => ({ user: await accounts.verifyEmail(request.body.token, requestContext(request)) }),
  );

  app.post(
    '/api/v1/auth/password-reset/request',
    {
      schema: {
        tags,
        summary: 'E-mail a password reset link (the answer is the same whether or not the account exists)',
        body: EmailBody,
        response: { 202: Accepted, ...problemResponses },
      },
    },
    async (request, reply) => {
      await accounts.requestPasswordReset(request.body.email, requestContext(request));
      return reply.code(202).send({ status: 'accepted' as const });
    },
  );

  app.post(
    '/api/v1/auth/password-reset/confirm',
    {
      schema: {
        tags,
        summary: 'Set a new password with the token from the e-mail; ends every session',
        body: ResetConfirmBody,
        response: { 204: { type: 'null' }, ...problemResponses },
      },
    },
    async (request, reply) => {
      await accounts.resetPassword(request.body, requestContext(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/auth/email-change/confirm',
    {
      schema: {
        tags,
        summary: 'Confirm a new e-mail address with the token sent to it',
        body: TokenBody,
        response: { 200: UserResponse, ...problemResponses },
      },
    },
    async (request) => ({
      user: await accounts.confirmEmailChange(request.body.token, requestContext(request)),
    }),
  );

  app.post(
    '/api/v1/auth/reauthenticate',
    {
      config: { auth: 'session', allowRestricted: true },
      schema: {
        tags,
        summary: 'Confirm the password inside a session, for actions that need a recent sign-in',
        body: PasswordBody,
        response: { 200: ReauthenticatedResponse, ...problemResponses },
      },
    },
    async (request) => {
      const session = request.session!;
      const result = await accounts.reauthenticate(
        session.userId,
        session.id,
        request.body.password,
        requestContext(request),
      );
      return { amr: [...result.amr], acr: result.acr, authTime: iso(result.authTime) };
    },
  );

  app.get(
    '/api/v1/me',
    {
      config: { auth: 'session', allowRestricted: true },
      schema: {
        tags: me,
        summary: 'The signed-in user, and the CSRF token for this session',
        response: { 200: MeResponse, ...problemResponses },
      },
    },
    async (request) => {
      const session = request.session!;
      return {
        user: await accounts.get(session.userId),
        csrfToken: sessions.csrfToken(session.id),
        session: {
          id: session.id,
          amr: [...session.amr],
          acr: session.acr,
          authTime: iso(session.authTime),
          restriction: session.restriction,
        },
      };
    },
  );

  app.patch(
    '/api/v1/me',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'Change name or metadata',
        body: UpdateMeBody,
        response: { 200: UserResponse, ...problemResponses },
      },
    },
    async (request) => {
      const session = request.session!;
      const user = await accounts.updateProfile(session.userId, request.body, {
        ...requestContext(request),
        actorUserId: session.userId,
      });
      return { user };
    },
  );

  app.delete(
    '/api/v1/me',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'Delete the account (needs the password)',
        body: PasswordBody,
        response: { 204: { type: 'null' }, ...problemResponses },
      },
    },
    async (request, reply) => {
      await accounts.deleteOwnAccount(
        request.session!.userId,
        request.body.password,
        requestContext(request),
      );
      clearSessionCookie(reply, cookie);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/me/password',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary:
          'Change the password (needs the current one); other sessions end and this one gets a new token',
        body: ChangePasswordBody,
        response: { 200: ChangePasswordResponse, ...problemResponses },
      },
    },
    async (request, reply) => {
      const session = request.session!;
      const renewed = await accounts.changePassword(session.userId, request.body, {
        ...requestContext(request),
        sessionId: session.id,
      });
      setSessionCookie(reply, cookie, renewed.token, renewed.expiresAt);
      return { csrfToken: sessions.csrfToken(renewed.sessionId), expiresAt: iso(renewed.expiresAt) };
    },
  );

  app.post(
    '/api/v1/me/email',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary:
          'Change the e-mail address: a confirmation link goes to the new address (needs the password)',
        body: ChangeEmailBody,
        response: { 202: Accepted, ...problemResponses },
      },
    },
    async (request, reply) => {
      await accounts.requestEmailChange(request.session!.userId, request.body, requestContext(request));
      return reply.code(202).send({ status: 'accepted' as const });
    },
  );

  app.post(
    '/api/v1/me/verify-email',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'Send the verification e-mail again',
        response: { 202: Accepted, ...problemResponses },
      },
    },
    async (request, reply) => {
      await accounts.resendVerification(request.session!.userId);
      return reply.code(202).send({ status: 'accepted' as const });
    },
  );

  app.get(
    '/api/v1/me/export',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'Everything stored about you, as JSON (GDPR)',
        response: { 200: ExportResponse, ...problemResponses },
      },
    },
    async (request, reply) => {
      reply.header('content-disposition', 'attachment; filename="gatehouse-export.json"');
      reply.header('cache-control', 'no-store');
      const userId = request.session!.userId;
      const [data, secondFactors] = await Promise.all([
        accounts.exportData(userId, requestContext(request)),
        exportSecondFactors(userId),
      ]);
      return { ...data, ...secondFactors };
    },
  );

  app.get(
    '/api/v1/me/sessions',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'Your active sessions and devices',
        response: { 200: SessionsResponse, ...problemResponses },
      },
    },
    async (request) => {
      const session = request.session!;
      return {
        sessions: await sessions.list(session.userId, session.id),
        rememberedDevices: await rememberedDevices(session.userId, request.cookies[deviceCookie.name]),
      };
    },
  );

  app.delete(
    '/api/v1/me/sessions/:sessionId',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'End one of your sessions',
        params: SessionParams,
        response: { 204: { type: 'null' }, ...problemResponses },
      },
    },
    async (request, reply) => {
      const session = request.session!;
      await sessions.revokeOne(session.userId, request.params.sessionId, {
        ...requestContext(request),
        actorUserId: session.userId,
      });
      if (request.params.sessionId === session.id) clearSessionCookie(reply, cookie);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/me/sessions/revoke-others',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'End every session but this one',
        response: { 200: RevokedResponse, ...problemResponses },
      },
    },
    async (request) => {
      const session = request.session!;
      const revoked = await sessions.revokeAll(session.userId, {
        ...requestContext(request),
        actorUserId: session.userId,
        except: session.id,
        reason: 'user_request',
      });
      return { revoked };
    },
  );
};
