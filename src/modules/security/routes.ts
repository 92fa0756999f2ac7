import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { problemResponses } from '../../platform/http/problem.js';
import { requestContext } from '../accounts/routes.js';
import { actingUserId, requires } from '../authz/routes.js';
import type { BlockService } from './blocks.js';
import { BlockBody, BlockParams, BlockResponse, BlocksQuery, BlocksResponse } from './schemas.js';

/** Blocks of IPs, ranges and user agents (`/api/v1/admin/security/blocks`). */
export const securityRoutes: FastifyPluginAsyncTypebox<{ blocks: BlockService }> = async (
  app,
  { blocks },
) => {
  const tags = ['admin'];
  const actor = (request: FastifyRequest) => ({
    ...requestContext(request),
    actorUserId: actingUserId(request),
  });

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
};
