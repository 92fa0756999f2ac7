import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../../platform/http/problem.js';
import { actingUserId, requires } from '../authz/routes.js';
import {
  AppBody,
  AppParams,
  AppPatch,
  AppResponse,
  AppsResponse,
  ConnectionBody,
  ConnectionParams,
  ConnectionPatch,
  ConnectionResponse,
  ConnectionsResponse,
} from './schemas.js';
import type { AppView, ConnectionView, SamlService } from './service.js';

const iso = (time: number) => new Date(time).toISOString();
const connectionBody = (connection: ConnectionView) => ({
  ...connection,
  domains: [...connection.domains],
  createdAt: iso(connection.createdAt),
  updatedAt: iso(connection.updatedAt),
});
const appBody = (app: AppView) => ({ ...app, createdAt: iso(app.createdAt), updatedAt: iso(app.updatedAt) });
const none = { 204: { type: 'null' as const }, ...problemResponses };

/** Administration of SAML: enterprise connections (Gatehouse as service provider) and apps (as identity provider). */
export const samlRoutes: FastifyPluginAsyncTypebox<{ saml: SamlService }> = async (app, { saml }) => {
  const tags = ['saml'];
  const read = requires('system:read');
  const write = requires('system:write');

  app.get(
    '/api/v1/admin/saml/connections',
    {
      config: read,
      schema: {
        tags,
        summary: 'SAML connections',
        response: { 200: ConnectionsResponse, ...problemResponses },
      },
    },
    async () => ({ connections: (await saml.listConnections()).map(connectionBody) }),
  );
  app.post(
    '/api/v1/admin/saml/connections',
    {
      config: write,
      schema: {
        tags,
        summary: 'Connect a SAML identity provider (metadata XML, metadata URL, or its details)',
        body: ConnectionBody,
        response: { 201: ConnectionResponse, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send({
        connection: connectionBody(await saml.createConnection(request.body, actingUserId(request))),
      }),
  );
  app.get(
    '/api/v1/admin/saml/connections/:connectionId',
    {
      config: read,
      schema: { tags, params: ConnectionParams, response: { 200: ConnectionResponse, ...problemResponses } },
    },
    async (request) => ({
      connection: connectionBody(await saml.getConnection(request.params.connectionId)),
    }),
  );
  app.patch(
    '/api/v1/admin/saml/connections/:connectionId',
    {
      config: write,
      schema: {
        tags,
        params: ConnectionParams,
        body: ConnectionPatch,
        response: { 200: ConnectionResponse, ...problemResponses },
      },
    },
    async (request) => ({
      connection: connectionBody(
        await saml.updateConnection(request.params.connectionId, request.body, actingUserId(request)),
      ),
    }),
  );
  app.delete(
    '/api/v1/admin/saml/connections/:connectionId',
    { config: write, schema: { tags, params: ConnectionParams, response: none } },
    async (request, reply) => {
      await saml.deleteConnection(request.params.connectionId, actingUserId(request));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/admin/saml/apps',
    {
      config: read,
      schema: {
        tags,
        summary: 'Apps that sign in with Gatehouse over SAML',
        response: { 200: AppsResponse, ...problemResponses },
      },
    },
    async () => ({ apps: (await saml.listApps()).map(appBody), idp: saml.idpAddresses }),
  );
  app.post(
    '/api/v1/admin/saml/apps',
    { config: write, schema: { tags, body: AppBody, response: { 201: AppResponse, ...problemResponses } } },
    async (request, reply) =>
      reply.code(201).send({ app: appBody(await saml.createApp(request.body, actingUserId(request))) }),
  );
  app.get(
    '/api/v1/admin/saml/apps/:appId',
    {
      config: read,
      schema: { tags, params: AppParams, response: { 200: AppResponse, ...problemResponses } },
    },
    async (request) => ({ app: appBody(await saml.getApp(request.params.appId)) }),
  );
  app.patch(
    '/api/v1/admin/saml/apps/:appId',
    {
      config: write,
      schema: {
        tags,
        params: AppParams,
        body: AppPatch,
        response: { 200: AppResponse, ...problemResponses },
      },
    },
    async (request) => ({
      app: appBody(await saml.updateApp(request.params.appId, request.body, actingUserId(request))),
    }),
  );
  app.delete(
    '/api/v1/admin/saml/apps/:appId',
    { config: write, schema: { tags, params: AppParams, response: none } },
    async (request, reply) => {
      await saml.deleteApp(request.params.appId, actingUserId(request));
      return reply.code(204).send(null);
    },
  );
};
