import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { problemResponses } from '../../platform/http/problem.js';
import { requestContext } from '../accounts/routes.js';
import { actingUserId, requires } from '../authz/routes.js';
import { PageQuery } from '../authz/schemas.js';
import {
  AcceptInvitationBody,
  InvitationBody,
  InvitationResponse,
  MembersResponse,
  MyOrganizationsResponse,
  OrganizationBody,
  OrganizationDetailResponse,
  OrganizationMemberParams,
  OrganizationParams,
  OrganizationResponse,
  OrganizationRoleParams,
  OrganizationsResponse,
} from './schemas.js';
import type { OrganizationService } from './service.js';

/** Organizations: administration (`/api/v1/admin/organizations`), and members' own view and invitations. */
export const organizationRoutes: FastifyPluginAsyncTypebox<{ organizations: OrganizationService }> = async (
  app,
  { organizations },
) => {
  const tags = ['organizations'];
  const read = requires('orgs:read');
  const write = requires('orgs:write');
  const none = { 204: { type: 'null' }, ...problemResponses } as const;
  const actor = (request: FastifyRequest) => ({
    ...requestContext(request),
    actorUserId: actingUserId(request),
  });

  app.get(
    '/api/v1/admin/organizations',
    {
      config: read,
      schema: {
        tags,
        summary: 'Organizations',
        querystring: PageQuery,
        response: { 200: OrganizationsResponse, ...problemResponses },
      },
    },
    async (request) => ({ organizations: await organizations.list(request.query) }),
  );
  app.post(
    '/api/v1/admin/organizations',
    {
      config: write,
      schema: {
        tags,
        summary: 'Create an organization',
        body: OrganizationBody,
        response: { 201: OrganizationResponse, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send({ organization: await organizations.create(request.body, actor(request)) }),
  );
  app.get(
    '/api/v1/admin/organizations/:organization',
    {
      config: read,
      schema: {
        tags,
        summary: 'An organization (id or slug) with members, their roles and pending invitations',
        params: OrganizationParams,
        response: { 200: OrganizationDetailResponse, ...problemResponses },
      },
    },
    async (request) => ({ organization: await organizations.get(request.params.organization) }),
  );
  app.delete(
    '/api/v1/admin/organizations/:organization',
    {
      config: write,
      schema: {
        tags,
        summary: 'Delete an organization with its memberships and invitations',
        params: OrganizationParams,
        response: none,
      },
    },
    async (request, reply) => {
      await organizations.delete(request.params.organization, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.put(
    '/api/v1/admin/organizations/:organization/members/:userId',
    {
      config: write,
      schema: {
        tags,
        summary: 'Add a user to an organization',
        params: OrganizationMemberParams,
        response: none,
      },
    },
    async (request, reply) => {
      await organizations.addMember(request.params.organization, request.params.userId, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.delete(
    '/api/v1/admin/organizations/:organization/members/:userId',
    {
      config: write,
      schema: {
        tags,
        summary: 'Remove a member (and their roles there)',
        params: OrganizationMemberParams,
        response: none,
      },
    },
    async (request, reply) => {
      await organizations.removeMember(request.params.organization, request.params.userId, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.put(
    '/api/v1/admin/organizations/:organization/members/:userId/roles/:role',
    {
      config: write,
      schema: {
        tags,
        summary: 'Give a member a role within the organization',
        params: OrganizationRoleParams,
        response: none,
      },
    },
    async (request, reply) => {
      const { organization, userId, role } = request.params;
      await organizations.grantRole(organization, userId, role, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.delete(
    '/api/v1/admin/organizations/:organization/members/:userId/roles/:role',
    {
      config: write,
      schema: {
        tags,
        summary: "Take a member's role within the organization",
        params: OrganizationRoleParams,
        response: none,
      },
    },
    async (request, reply) => {
      const { organization, userId, role } = request.params;
      await organizations.revokeRole(organization, userId, role, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.post(
    '/api/v1/admin/organizations/:organization/invitations',
    {
      config: write,
      schema: {
        tags,
        summary: 'Invite someone by e-mail (a single-use link), optionally with a role',
        params: OrganizationParams,
        body: InvitationBody,
        response: { 201: InvitationResponse, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send({
        invitation: await organizations.invite(request.params.organization, request.body, actor(request)),
      }),
  );

  // Members' side -------------------------------------------------------------------------------------------
  app.get(
    '/api/v1/me/organizations',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['me'],
        summary: 'Your organizations and your roles in each',
        response: { 200: MyOrganizationsResponse, ...problemResponses },
      },
    },
    async (request) => ({ organizations: await organizations.mine(request.session!.userId) }),
  );
  app.get(
    '/api/v1/me/organizations/:organization/members',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['me'],
        summary: 'Members of one of your organizations (others do not exist for you)',
        params: OrganizationParams,
        response: { 200: MembersResponse, ...problemResponses },
      },
    },
    async (request) => ({
      members: await organizations.membersFor(request.session!.userId, request.params.organization),
    }),
  );
  app.post(
    '/api/v1/me/organizations/invitations/accept',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['me'],
        summary: 'Accept an invitation sent to your e-mail address',
        body: AcceptInvitationBody,
        response: { 200: OrganizationResponse, ...problemResponses },
      },
    },
    async (request) => ({
      organization: await organizations.accept(
        request.body.token,
        { id: request.session!.userId, email: request.session!.email },
        requestContext(request),
      ),
    }),
  );
};
