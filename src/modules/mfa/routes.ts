import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { problemResponses } from '../../platform/http/problem.js';
import { requestContext, signedInBody } from '../accounts/routes.js';
import { RememberedDeviceSchema, SignedInResponse } from '../accounts/schemas.js';
import { actingUserId, requires } from '../authz/routes.js';
import {
  clearSessionCookie,
  type SessionCookie,
  setHostCookie,
  setSessionCookie,
} from '../sessions/plugin.js';
import type { SessionService } from '../sessions/service.js';
import {
  BackupCodesResponse,
  ChallengeBody,
  ChallengeResponse,
  ConfirmBody,
  ConfirmResponse,
  DeviceParams,
  EnrollBody,
  EnrollResponse,
  MethodParams,
  MethodSchema,
  MethodsResponse,
  PasskeyOptionsResponse,
  PasskeyVerifyBody,
  PrimaryBody,
  RenameBody,
  ResetResponse,
  StatusResponse,
  StepUpResponse,
  UserParams,
  VerifyBody,
} from './schemas.js';
import type { ChallengeResult, MfaService } from './service.js';

export interface MfaRoutesOptions {
  readonly mfa: MfaService;
  readonly sessions: SessionService;
  readonly cookie: SessionCookie;
  readonly pendingCookie: SessionCookie;
  readonly deviceCookie: SessionCookie;
}

const iso = (ms: number) => new Date(ms).toISOString();
function challengeBody(result: ChallengeResult) {
  const { expiresAt, ...rest } = result;
  return { ...rest, ...(expiresAt !== undefined ? { expiresAt: iso(expiresAt) } : {}) };
}

/** Second factors: sign-in completion, step-up, passkey sign-in, and the user's own factors. */
export const mfaRoutes: FastifyPluginAsyncTypebox<MfaRoutesOptions> = async (
  app,
  { mfa, sessions, cookie, pendingCookie, deviceCookie },
) => {
  const auth = ['auth'];
  const me = ['mfa'];
  const restricted = { auth: 'session' as const, allowRestricted: true };

  app.post(
    '/api/v1/auth/mfa/challenge',
    {
      schema: {
        tags: auth,
        summary:
          'For a sign-in waiting for its second factor: send an e-mail or SMS code, or get WebAuthn options',
        body: ChallengeBody,
        response: { 200: ChallengeResponse, ...problemResponses },
      },
    },
    async (request) =>
      challengeBody(
        await mfa.challengePending(
          request.cookies[pendingCookie.name],
          request.body,
          requestContext(request),
        ),
      ),
  );

  app.post(
    '/api/v1/auth/mfa/verify',
    {
      schema: {
        tags: auth,
        summary: 'Complete a sign-in with a second factor; sets the session cookie',
        body: VerifyBody,
        response: { 200: SignedInResponse, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { login, rememberedDevice } = await mfa.verifyPending(
        request.cookies[pendingCookie.name],
        request.body,
        requestContext(request),
      );
      clearSessionCookie(reply, pendingCookie);
      setSessionCookie(reply, cookie, login.token, login.expiresAt);
      if (rememberedDevice)
        setHostCookie(reply, deviceCookie, rememberedDevice.value, rememberedDevice.expiresAt);
      return signedInBody(login, sessions);
    },
  );

  app.post(
    '/api/v1/auth/step-up/challenge',
    {
      config: { auth: 'session' },
      schema: {
        tags: auth,
        summary: 'Inside a session: send a code or get WebAuthn options to prove a second factor now',
        body: ChallengeBody,
        response: { 200: ChallengeResponse, ...problemResponses },
      },
    },
    async (request) =>
      challengeBody(await mfa.challengeSession(request.session!, request.body, requestContext(request))),
  );

  app.post(
    '/api/v1/auth/step-up/verify',
    {
      config: { auth: 'session' },
      schema: {
        tags: auth,
        summary:
          'Inside a session: prove a second factor; raises amr/acr and refreshes the authentication time',
        body: VerifyBody,
        response: { 200: StepUpResponse, ...problemResponses },
      },
    },
    async (request) => {
      const result = await mfa.stepUp(request.session!, request.body, requestContext(request));
      return { amr: [...result.amr], acr: result.acr, authTime: iso(result.authTime) };
    },
  );

  app.post(
    '/api/v1/auth/passkey/options',
    {
      schema: {
        tags: auth,
        summary: 'Start a passwordless sign-in with a passkey (discoverable credential)',
        response: { 200: PasskeyOptionsResponse, ...problemResponses },
      },
    },
    async () => {
      const result = await mfa.passkeyOptions();
      return { ...result, expiresAt: iso(result.expiresAt) };
    },
  );

  app.post(
    '/api/v1/auth/passkey/verify',
    {
      schema: {
        tags: auth,
        summary: 'Finish a passwordless sign-in with the passkey’s answer; sets the session cookie',
        body: PasskeyVerifyBody,
        response: { 200: SignedInResponse, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { login, rememberedDevice } = await mfa.passkeyLogin(request.body, requestContext(request));
      setSessionCookie(reply, cookie, login.token, login.expiresAt);
      if (rememberedDevice)
        setHostCookie(reply, deviceCookie, rememberedDevice.value, rememberedDevice.expiresAt);
      return signedInBody(login, sessions);
    },
  );

  app.get(
    '/api/v1/me/mfa',
    {
      config: restricted,
      schema: {
        tags: me,
        summary: 'Your second factors and whether one is required',
        response: { 200: StatusResponse, ...problemResponses },
      },
    },
    async (request) => mfa.status(request.session!.userId),
  );

  app.get(
    '/api/v1/me/mfa/methods',
    {
      config: restricted,
      schema: {
        tags: me,
        summary: 'Your second factors',
        response: { 200: MethodsResponse, ...problemResponses },
      },
    },
    async (request) => ({ methods: await mfa.listMethods(request.session!.userId) }),
  );

  app.post(
    '/api/v1/me/mfa/methods',
    {
      config: restricted,
      schema: {
        tags: me,
        summary:
          'Start adding a factor (needs a recent sign-in); it is active after POST …/{methodId}/verify',
        body: EnrollBody,
        response: { 201: EnrollResponse, ...problemResponses },
      },
    },
    async (request, reply) => {
      const result = await mfa.startEnrollment(request.session!, request.body, requestContext(request));
      const code =
        'code' in result && result.code ? challengeBody(result.code as ChallengeResult) : undefined;
      return reply.code(201).send({ ...result, ...(code ? { code } : {}) } as never);
    },
  );

  app.post(
    '/api/v1/me/mfa/methods/:methodId/verify',
    {
      config: restricted,
      schema: {
        tags: me,
        summary:
          'Activate a factor with its first code or WebAuthn registration; the first one returns backup codes',
        params: MethodParams,
        body: ConfirmBody,
        response: { 200: ConfirmResponse, ...problemResponses },
      },
    },
    async (request) =>
      mfa.confirmEnrollment(request.session!, request.params.methodId, request.body, requestContext(request)),
  );

  app.patch(
    '/api/v1/me/mfa/methods/:methodId',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'Rename a factor',
        params: MethodParams,
        body: RenameBody,
        response: { 200: Type.Object({ method: MethodSchema }), ...problemResponses },
      },
    },
    async (request) => ({
      method: await mfa.rename(
        request.session!,
        request.params.methodId,
        request.body.name,
        requestContext(request),
      ),
    }),
  );

  app.delete(
    '/api/v1/me/mfa/methods/:methodId',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'Remove a factor (needs a recent sign-in)',
        params: MethodParams,
        response: { 204: { type: 'null' }, ...problemResponses },
      },
    },
    async (request, reply) => {
      await mfa.remove(request.session!, request.params.methodId, requestContext(request));
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/api/v1/me/mfa/primary',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'Choose the factor offered first at sign-in',
        body: PrimaryBody,
        response: { 200: StatusResponse, ...problemResponses },
      },
    },
    async (request) => mfa.setPrimary(request.session!, request.body.methodId, requestContext(request)),
  );

  app.post(
    '/api/v1/me/mfa/backup-codes',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'Replace your backup codes with new ones (needs a recent sign-in)',
        response: { 200: BackupCodesResponse, ...problemResponses },
      },
    },
    async (request) => ({
      codes: await mfa.regenerateBackupCodes(request.session!, requestContext(request)),
    }),
  );

  app.post(
    '/api/v1/me/mfa/disable',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'Remove every factor, backup code and remembered device (needs a recent sign-in)',
        response: { 204: { type: 'null' }, ...problemResponses },
      },
    },
    async (request, reply) => {
      await mfa.disable(request.session!, requestContext(request));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/me/remembered-devices',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'Browsers that skip the second factor',
        response: { 200: Type.Object({ devices: Type.Array(RememberedDeviceSchema) }), ...problemResponses },
      },
    },
    async (request) => ({
      devices: await mfa.rememberedDevices(request.session!.userId, request.cookies[deviceCookie.name]),
    }),
  );

  app.delete(
    '/api/v1/me/remembered-devices/:deviceId',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'Forget a remembered browser: it needs the second factor again',
        params: DeviceParams,
        response: { 204: { type: 'null' }, ...problemResponses },
      },
    },
    async (request, reply) => {
      await mfa.forgetDevice(request.session!.userId, request.params.deviceId, requestContext(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/admin/users/:userId/mfa/reset',
    {
      config: requires('users:write'),
      schema: {
        tags: ['admin'],
        summary: 'Remove every second factor of a user (a lost device); audited. The user can enrol again',
        params: UserParams,
        response: { 200: ResetResponse, ...problemResponses },
      },
    },
    async (request) => ({
      removed: await mfa.adminReset(actingUserId(request), request.params.userId, requestContext(request)),
    }),
  );
};
