import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { problemResponses } from '../../platform/http/problem.js';
import { requestContext } from '../accounts/routes.js';
import { actingUserId, requires } from '../authz/routes.js';
import type { BlockService } from './blocks.js';
import type { DecoyService } from './decoys.js';
import type { RiskEngine } from './risk.js';
import {
  BlockBody,
  BlockParams,
  BlockResponse,
  BlocksQuery,
  BlocksResponse,
  CreatedDecoyResponse,
  DecoyBody,
  DecoysResponse,
  HistoryQuery,
  SignInsResponse,
  UserParams,
} from './schemas.js';

/** Blocks of IPs, ranges and user agents (`/api/v1/admin/security/blocks`), and sign-in histories. */
export const securityRoutes: FastifyPluginAsyncTypebox<{
  blocks: BlockService;
  risk: RiskEngine;
  decoys: DecoyService;
}> = async (app, { blocks, risk, decoys }) => {
  const tags = ['admin'];
  const actor = (request: FastifyRequest) => ({
    ...requestContext(request),
    actorUserId: actingUserId(request),
  });

  app.get(
    '/api/v1/me/sign-ins',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['me'],
        summary: 'Your sign-in history: where from, which device, the risk score and its reasons',
        querystring: HistoryQuery,
        response: { 200: SignInsResponse, ...problemResponses },
      },
    },
    async (request) => ({ signIns: await risk.history(request.session!.userId, request.query) }),
  );
  app.get(
    '/api/v1/admin/users/:id/sign-ins',
    {
      config: requires('users:read'),
      schema: {
        tags,
        summary: "A user's sign-in history with risk decisions",
        params: UserParams,
        querystring: HistoryQuery,
        response: { 200: SignInsResponse, ...problemResponses },
      },
    },
    async (request) => ({ signIns: await risk.history(request.params.id, request.query) }),
  );
  app.get(
    '/api/v1/admin/security/blocks',
    {
      config: requires('security:read'),
      schema: {
        tags,
        summary: 'Blocks in force (or all, with active=false), newest first',
        querystring: BlocksQuery,
        response: { 200: BlocksResponse, ...problemResponses },
      },
    },
    async (request) => ({ blocks: await blocks.list(request.query) }),
  );
  app.post(
    '/api/v1/admin/security/blocks',
    {
      config: requires('security:write'),
      schema: {
        tags,
        summary: 'Block an IP address, a range or a user agent',
        body: BlockBody,
        response: { 201: BlockResponse, ...problemResponses },
      },
    },
    async (request, reply) => reply.code(201).send({ block: await blocks.add(request.body, actor(request)) }),
  );
  app.delete(
    '/api/v1/admin/security/blocks/:id',
    {
      config: requires('security:write'),
      schema: {
        tags,
        summary: 'Lift a block',
        params: BlockParams,
        response: { 204: { type: 'null' }, ...problemResponses },
      },
    },
    async (request, reply) => {
      await blocks.lift(request.params.id, actor(request));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/admin/security/decoys',
    {
      config: requires('security:read'),
      schema: {
        tags,
        summary: 'Honeytokens being watched',
        response: { 200: DecoysResponse, ...problemResponses },
      },
    },
    async () => ({ decoys: await decoys.list() }),
  );
  app.post(
    '/api/v1/admin/security/decoys',
    {
      config: requires('security:write'),
      schema: {
        tags,
        summary: 'Plant a decoy account, API key, OAuth client or reset link; its credentials are shown once',
        body: DecoyBody,
        response: { 201: CreatedDecoyResponse, ...problemResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await decoys.create(request.body, actor(request))),
  );
  app.delete(
    '/api/v1/admin/security/decoys/:id',
    {
      config: requires('security:write'),
      schema: {
        tags,
        summary: 'Stop watching a decoy',
        params: BlockParams,
        response: { 204: { type: 'null' }, ...problemResponses },
      },
    },
    async (request, reply) => {
      await decoys.remove(request.params.id);
      return reply.code(204).send(null);
    },
  );
};
