import type { FastifyInstance } from 'fastify';
import { escapeHtml, failureMessage, page } from '../../platform/html.js';
import { requestContext } from '../accounts/routes.js';
import type { OrganizationService } from './service.js';

/**
 * The page an invitation e-mail opens. Following the link only shows a button; the invitation is spent when the
 * signed-in person presses it (mail scanners that fetch links cannot use it up). No JavaScript.
 */
export function registerOrganizationPages(
  app: FastifyInstance,
  organizations: OrganizationService,
  productName: string,
): void {
  const path = '/organizations/invitations/accept';
  const token = { type: 'string', minLength: 1, maxLength: 200 } as const;

  app.get<{ Querystring: { token: string } }>(
    path,
    {
      schema: {
        querystring: { type: 'object', properties: { token }, required: ['token'] },
        hide: true,
      },
    },
    async (request, reply) => {
      const body = request.session
        ? `<h1>Join the organization</h1><p>You are signed in as ${escapeHtml(request.session.email)}.</p>
<form method="post" action="${path}"><input type="hidden" name="token" value="${escapeHtml(request.query.token)}"><button type="submit">Accept the invitation</button></form>`
        : '<h1>Join the organization</h1><p>Sign in with the e-mail address the invitation was sent to, then open the link again.</p>';
      return page(reply, productName, { title: 'Join the organization', body });
    },
  );

  app.post<{ Body: { token: string } }>(
    path,
    {
      schema: {
        body: { type: 'object', properties: { token }, required: ['token'] },
        hide: true,
      },
    },
    async (request, reply) => {
      const session = request.session;
      if (!session) {
        return page(
          reply,
          productName,
          {
            title: 'Sign in first',
            body: '<h1>Sign in first</h1><p>Sign in, then open the invitation link again.</p>',
          },
          401,
        );
      }
      try {
        const organization = await organizations.accept(
          request.body.token,
          { id: session.userId, email: session.email },
          requestContext(request),
        );
        return page(reply, productName, {
          title: 'Welcome',
          body: `<h1>Welcome to ${escapeHtml(organization.name)}</h1><p class="ok">You are now a member. You can close this page.</p>`,
        });
      } catch (error) {
        return page(
          reply,
          productName,
          { title: 'Invitation not valid', body: `<h1>Join the organization</h1>${failureMessage(error)}` },
          400,
        );
      }
    },
  );
}
