import type { FastifyInstance } from 'fastify';
import { escapeHtml, failureMessage, page } from '../../platform/html.js';
import { en, format, type Messages } from '../../platform/messages/en.js';
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
  m: Messages = en,
): void {
  const t = m.organizationInvite;
  const text = (value: string) => escapeHtml(value);
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
        ? `<h1>${text(t.title)}</h1><p>${text(format(t.signedInAs, { email: request.session.email }))}</p>
<form method="post" action="${path}"><input type="hidden" name="token" value="${escapeHtml(request.query.token)}"><button type="submit">${text(t.accept)}</button></form>`
        : `<h1>${text(t.title)}</h1><p>${text(t.signInFirst)}</p>`;
      return page(reply, productName, { title: t.title, body });
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
            title: t.signInFirstTitle,
            body: `<h1>${text(t.signInFirstTitle)}</h1><p>${text(t.signInThenOpen)}</p>`,
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
          title: t.welcomeTitle,
          body: `<h1>${text(format(t.welcome, { name: organization.name }))}</h1><p class="ok">${text(t.member)}</p>`,
        });
      } catch (error) {
        return page(
          reply,
          productName,
          { title: t.invalidTitle, body: `<h1>${text(t.title)}</h1>${failureMessage(error)}` },
          400,
        );
      }
    },
  );
}
