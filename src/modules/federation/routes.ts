import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../../platform/http/problem.js';
import { actingUserId, requires } from '../authz/routes.js';
import { type SessionCookie, setHostCookie } from '../sessions/plugin.js';
import {
  IdentitiesResponse,
  IdentityParams,
  LinkParams,
  LinkResponse,
  ProviderBody,
  ProviderParams,
  ProviderPatch,
  ProviderResponse,
  ProvidersResponse,
  SignInOptionsResponse,
} from './schemas.js';
import type { FederationService, IdentityView, ProviderView } from './service.js';

const iso = (time: number | undefined) => (time === undefined ? undefined : new Date(time).toISOString());
const providerBody = (provider: ProviderView) => ({
  ...provider,
  scopes: [...provider.scopes],
  endpoints: Object.fromEntries(
    Object.entries(provider.endpoints).filter((entry): entry is [string, string] => entry[1] !== undefined),
  ),
  mapping: provider.mapping ?? {},
  createdAt: iso(provider.createdAt),
  updatedAt: iso(provider.updatedAt),
});
const identityBody = (identity: IdentityView) => ({
  ...identity,
  linkedAt: iso(identity.linkedAt)!,
  lastUsedAt: iso(identity.lastUsedAt),
});
const none = { 204: { type: 'null' as const }, ...problemResponses };

/**
 * Federation's JSON API: administrators manage upstream providers; anyone may list the sign-in buttons; a
 * signed-in person lists, links and unlinks their upstream accounts.
 */
export const federationRoutes: FastifyPluginAsyncTypebox<{
  federation: FederationService;
  flowCookie: SessionCookie;
}> = async (app, { federation, flowCookie }) => {
  const admin = ['identity providers'];
  const me = ['me'];
  const read = requires('system:read');
  const write = requires('system:write');

  app.get(
    '/api/v1/auth/providers',
    {
      schema: {
        tags: ['auth'],
        summary: 'The upstream providers people can sign in with',
        response: { 200: SignInOptionsResponse, ...problemResponses },
      },
    },
    async () => ({
      providers: (await federation.signInOptions()).map((provider) => ({
        ...provider,
        url: `/login/federated/${provider.slug}`,
      })),
    }),
  );

  app.get(
    '/api/v1/admin/identity-providers',
    {
      config: read,
      schema: {
        tags: admin,
        summary: 'Upstream identity providers',
        response: { 200: ProvidersResponse, ...problemResponses },
      },
    },
    async () => ({ providers: (await federation.listProviders()).map(providerBody) }),
  );
  app.post(
    '/api/v1/admin/identity-providers',
    {
      config: write,
      schema: {
        tags: admin,
        summary: 'Add an upstream provider (OpenID Connect or OAuth 2.0)',
        body: ProviderBody,
        response: { 201: ProviderResponse, ...problemResponses },
      },
    },
    async (request, reply) => {
      const provider = await federation.createProvider(request.body, { actorUserId: actingUserId(request) });
      return reply.status(201).send({ provider: providerBody(provider) });
    },
  );
  app.get(
    '/api/v1/admin/identity-providers/:providerId',
    {
      config: read,
      schema: {
        tags: admin,
        params: ProviderParams,
        response: { 200: ProviderResponse, ...problemResponses },
      },
    },
    async (request) => ({ provider: providerBody(await federation.getProvider(request.params.providerId)) }),
  );
  app.patch(
    '/api/v1/admin/identity-providers/:providerId',
    {
      config: write,
      schema: {
        tags: admin,
        summary: 'Change a provider (a client secret left out stays as it was)',
        params: ProviderParams,
        body: ProviderPatch,
        response: { 200: ProviderResponse, ...problemResponses },
      },
    },
    async (request) => ({
      provider: providerBody(
        await federation.updateProvider(request.params.providerId, request.body, {
          actorUserId: actingUserId(request),
        }),
      ),
    }),
  );
  app.delete(
    '/api/v1/admin/identity-providers/:providerId',
    {
      config: write,
      schema: {
        tags: admin,
        summary: 'Remove a provider and its links (accounts stay)',
        params: ProviderParams,
        response: none,
      },
    },
    async (request, reply) => {
      await federation.deleteProvider(request.params.providerId, { actorUserId: actingUserId(request) });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/me/identities',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'Upstream accounts linked to mine',
        response: { 200: IdentitiesResponse, ...problemResponses },
      },
    },
    async (request) => ({
      identities: (await federation.identities(request.session!.userId)).map(identityBody),
    }),
  );
  app.post(
    '/api/v1/me/identities/:slug/link',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'Start linking an upstream account: send the browser to the returned URL',
        params: LinkParams,
        response: { 200: LinkResponse, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { url, flow } = await federation.begin(request.params.slug, {
        next: '/account',
        intent: 'link',
        userId: request.session!.userId,
      });
      setHostCookie(reply, flowCookie, flow.value, flow.expiresAt);
      return { url };
    },
  );
  app.delete(
    '/api/v1/me/identities/:identityId',
    {
      config: { auth: 'session' },
      schema: {
        tags: me,
        summary: 'Unlink an upstream account (refused if it is the last way to sign in)',
        params: IdentityParams,
        response: none,
      },
    },
    async (request, reply) => {
      await federation.unlink(request.session!.userId, request.params.identityId);
      return reply.code(204).send(null);
    },
  );
};
