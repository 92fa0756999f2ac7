import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { problemResponses } from '../../platform/http/problem.js';
import { requestContext } from '../accounts/routes.js';
import { actingUserId, requires } from '../authz/routes.js';
import type { ClientService } from './clients.js';
import type { ConsentService } from './consents.js';
import type { ResourceService } from './resources.js';
import {
  ClientBody,
  ClientParams,
  ClientResponse,
  ClientsResponse,
  ConnectedAppParams,
  ConnectedAppsResponse,
  CreatedClientResponse,
  PatchClientBody,
  ResourceBody,
  ResourceParams,
  ResourceResponse,
  ResourcesResponse,
} from './schemas.js';

/**
 * Hands the protocol endpoints to oidc-provider untouched: the body stays unread (the engine parses it),
 * and the reply is hijacked so the engine writes the response itself.
 */
export async function mountOidcProvider(
  app: FastifyInstance,
  provider: () => Promise<Provider>,
): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    // One Koa handler per provider instance (a key rotation builds a new provider).
    const handlers = new WeakMap<Provider, ReturnType<Provider['callback']>>();
    const forward = async (request: FastifyRequest, reply: FastifyReply) => {
      const engine = await provider();
      let handler = handlers.get(engine);
      if (!handler) {
        handler = engine.callback();
        handlers.set(engine, handler);
      }
      reply.hijack();
      await handler(request.raw, reply.raw);
    };
    // Everything under /oauth2 is the engine's (resume and confirmation sub-paths included), except the
    // interaction pages, whose more specific routes win over this wildcard.
    for (const path of ['/.well-known/openid-configuration', '/oauth2/*']) {
      scope.route({
        method: ['GET', 'POST', 'OPTIONS'],
        url: path,
        schema: { hide: true },
        config: { crossOrigin: true },
        handler: forward,
      });
    }
  });
}

/** Client and API resource administration (`/api/v1/admin/clients`, `/api/v1/admin/resources`). */
export const clientAdminRoutes: FastifyPluginAsyncTypebox<{
  clients: ClientService;
  resources: ResourceService;
}> = async (app, { clients, resources }) => {
  const tags = ['admin'];
  const read = requires('clients:read');
  const write = requires('clients:write');
  const actor = (request: FastifyRequest) => ({
    ...requestContext(request),
    actorUserId: actingUserId(request),
  });

  app.get(
    '/api/v1/admin/clients',
    {
      config: read,
      schema: { tags, summary: 'OAuth clients', response: { 200: ClientsResponse, ...problemResponses } },
    },
    async () => ({ clients: await clients.list() }),
  );

  app.post(
    '/api/v1/admin/clients',
    {
      config: write,
      schema: {
        tags,
        summary: 'Register an OAuth client; the secret is shown once',
        body: ClientBody,
        response: { 201: CreatedClientResponse, ...problemResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await clients.create(request.body, actor(request))),
  );

  app.get(
    '/api/v1/admin/clients/:clientId',
    {
      config: read,
      schema: {
        tags,
        summary: 'One OAuth client',
        params: ClientParams,
        response: { 200: ClientResponse, ...problemResponses },
      },
    },
    async (request) => ({ client: await clients.get(request.params.clientId) }),
  );

  app.patch(
    '/api/v1/admin/clients/:clientId',
    {
      config: write,
      schema: {
        tags,
        summary: 'Change an OAuth client: enable or disable it, rename it, replace its redirect URIs',
        params: ClientParams,
        body: PatchClientBody,
        response: { 200: ClientResponse, ...problemResponses },
      },
    },
    async (request) => {
      const { enabled, ...change } = request.body;
      let client =
        Object.keys(change).length > 0
          ? await clients.update(request.params.clientId, change, actor(request))
          : undefined;
      if (enabled !== undefined)
        client = await clients.setEnabled(request.params.clientId, enabled, actor(request));
      return { client: client! };
    },
  );

  app.post(
    '/api/v1/admin/clients/:clientId/rotate-secret',
    {
      config: write,
      schema: {
        tags,
        summary: 'Replace the client secret; the old one stops working at once; the new one is shown once',
        params: ClientParams,
        response: { 200: CreatedClientResponse, ...problemResponses },
      },
    },
    async (request) => clients.rotateSecret(request.params.clientId, actor(request)),
  );

  app.delete(
    '/api/v1/admin/clients/:clientId',
    {
      config: write,
      schema: {
        tags,
        summary: 'Delete an OAuth client',
        params: ClientParams,
        response: { 204: { type: 'null' }, ...problemResponses },
      },
    },
    async (request, reply) => {
      await clients.remove(request.params.clientId, actor(request));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/admin/resources',
    {
      config: read,
      schema: {
        tags,
        summary: 'APIs that accept access tokens',
        response: { 200: ResourcesResponse, ...problemResponses },
      },
    },
    async () => ({ resources: await resources.list() }),
  );

  app.post(
    '/api/v1/admin/resources',
    {
      config: write,
      schema: {
        tags,
        summary: 'Register an API (resource indicator and scopes); its access tokens are JWTs',
        body: ResourceBody,
        response: { 201: ResourceResponse, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send({ resource: await resources.create(request.body, actor(request)) }),
  );

  app.delete(
    '/api/v1/admin/resources/:resourceId',
    {
      config: write,
      schema: {
        tags,
        summary: 'Remove an API',
        params: ResourceParams,
        response: { 204: { type: 'null' }, ...problemResponses },
      },
    },
    async (request, reply) => {
      await resources.remove(request.params.resourceId, actor(request));
      return reply.code(204).send(null);
    },
  );
};

/** A user's connected apps (`/api/v1/me/apps`): what they allowed, and taking it back. */
export const connectedAppRoutes: FastifyPluginAsyncTypebox<{ consents: ConsentService }> = async (
  app,
  { consents },
) => {
  const tags = ['me'];
  app.get(
    '/api/v1/me/apps',
    {
      config: { auth: 'session' },
      schema: {
        tags,
        summary: 'Apps you have allowed to sign you in or act for you',
        response: { 200: ConnectedAppsResponse, ...problemResponses },
      },
    },
    async (request) => ({ apps: await consents.list(request.session!.userId) }),
  );

  app.delete(
    '/api/v1/me/apps/:clientId',
    {
      config: { auth: 'session' },
      schema: {
        tags,
        summary: "Withdraw an app's access: its tokens stop working and it must ask again",
        params: ConnectedAppParams,
        response: { 204: { type: 'null' }, ...problemResponses },
      },
    },
    async (request, reply) => {
      await consents.revoke(request.session!.userId, request.params.clientId, requestContext(request));
      return reply.code(204).send(null);
    },
  );
};
