import type { FastifyInstance } from 'fastify';
import { escapeHtml, failureMessage as failure, page } from '../../platform/html.js';
import { en, format, type Messages } from '../../platform/messages/en.js';
import { requestContext } from './routes.js';
import type { AccountService } from './service.js';

/**
 * The pages the e-mailed links open. Following a link only shows a form; the token is spent when the person
 * presses the button (a POST), so mail scanners that fetch links cannot use it up. No JavaScript needed.
 */

const form = (action: string, token: string, fields: string, button: string) =>
  `<form method="post" action="${action}"><input type="hidden" name="token" value="${escapeHtml(token)}">${fields}<button type="submit">${escapeHtml(button)}</button></form>`;

const passwordField = (label: string) =>
  `<label for="password">${escapeHtml(label)}</label><input id="password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="4096">`;

export function registerAccountPages(
  app: FastifyInstance,
  accounts: AccountService,
  productName: string,
  m: Messages = en,
): void {
  const t = m.links;
  const heading = (title: string) => `<h1>${escapeHtml(title)}</h1>`;
  const done = (title: string, text: string) => ({
    title,
    body: `${heading(title)}<p class="ok" role="status">${escapeHtml(text)}</p>`,
  });
  // Forms post urlencoded bodies; URLSearchParams is the standard parser, with the app's body limit.
  if (!app.hasContentTypeParser('application/x-www-form-urlencoded')) {
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string' },
      (_request, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(body as string)));
      },
    );
  }
  const tokenQuery = {
    querystring: {
      type: 'object',
      properties: { token: { type: 'string', maxLength: 200 } },
      required: ['token'],
    },
    hide: true,
  } as const;
  const formBody = (extra: Record<string, object> = {}) =>
    ({
      body: {
        type: 'object',
        properties: { token: { type: 'string', maxLength: 200 }, ...extra },
        required: ['token', ...Object.keys(extra)],
      },
      hide: true,
    }) as const;
  type TokenForm = { token: string; password?: string; email?: string; name?: string };

  app.get<{ Querystring: { token: string } }>(
    '/auth/verify-email',
    { schema: tokenQuery },
    async (request, reply) =>
      page(reply, productName, {
        title: t.verifyTitle,
        body: `${heading(t.verifyTitle)}${form('/auth/verify-email', request.query.token, '', t.confirm)}`,
      }),
  );
  app.post<{ Body: TokenForm }>('/auth/verify-email', { schema: formBody() }, async (request, reply) => {
    try {
      await accounts.verifyEmail(request.body.token, requestContext(request));
      return page(reply, productName, done(t.verifiedTitle, t.verified));
    } catch (error) {
      return page(
        reply,
        productName,
        { title: t.invalidTitle, body: `${heading(t.verifyTitle)}${failure(error)}` },
        400,
      );
    }
  });

  app.get<{ Querystring: { token: string } }>(
    '/auth/reset-password',
    { schema: tokenQuery },
    async (request, reply) =>
      page(reply, productName, {
        title: t.resetTitle,
        body: `${heading(t.resetTitle)}${form('/auth/reset-password', request.query.token, passwordField(t.newPassword), t.setPassword)}`,
      }),
  );
  app.post<{ Body: TokenForm }>(
    '/auth/reset-password',
    { schema: formBody({ password: { type: 'string', maxLength: 4096 } }) },
    async (request, reply) => {
      try {
        await accounts.resetPassword(
          { token: request.body.token, password: request.body.password ?? '' },
          requestContext(request),
        );
        return page(reply, productName, done(t.passwordChangedTitle, t.passwordChanged));
      } catch (error) {
        const retry = form(
          '/auth/reset-password',
          request.body.token,
          passwordField(t.newPassword),
          t.setPassword,
        );
        return page(
          reply,
          productName,
          { title: t.resetTitle, body: `${heading(t.resetTitle)}${failure(error)}${retry}` },
          400,
        );
      }
    },
  );

  app.get<{ Querystring: { token: string } }>(
    '/auth/confirm-email-change',
    { schema: tokenQuery },
    async (request, reply) =>
      page(reply, productName, {
        title: t.changeTitle,
        body: `${heading(t.changeTitle)}${form('/auth/confirm-email-change', request.query.token, '', t.confirm)}`,
      }),
  );
  app.post<{ Body: TokenForm }>(
    '/auth/confirm-email-change',
    { schema: formBody() },
    async (request, reply) => {
      try {
        const user = await accounts.confirmEmailChange(request.body.token, requestContext(request));
        return page(reply, productName, done(t.changedTitle, format(t.changed, { email: user.email })));
      } catch (error) {
        return page(
          reply,
          productName,
          { title: t.invalidTitle, body: `${heading(t.changeTitle)}${failure(error)}` },
          400,
        );
      }
    },
  );

  app.get<{ Querystring: { token: string } }>(
    '/auth/accept-invitation',
    { schema: tokenQuery },
    async (request, reply) =>
      page(reply, productName, {
        title: t.inviteTitle,
        body: `${heading(t.inviteTitle)}${form(
          '/auth/accept-invitation',
          request.query.token,
          `<label for="email">${escapeHtml(t.invitedEmail)}</label><input id="email" name="email" type="email" autocomplete="email" required>` +
            `<label for="name">${escapeHtml(t.name)}</label><input id="name" name="name" autocomplete="name">` +
            passwordField(t.password),
          t.createAccount,
        )}`,
      }),
  );
  app.post<{ Body: TokenForm }>(
    '/auth/accept-invitation',
    {
      schema: formBody({
        email: { type: 'string', maxLength: 254 },
        password: { type: 'string', maxLength: 4096 },
      }),
    },
    async (request, reply) => {
      try {
        await accounts.signup(
          {
            email: request.body.email ?? '',
            password: request.body.password ?? '',
            invitation: request.body.token,
            ...(request.body.name ? { name: request.body.name.slice(0, 200) } : {}),
          },
          requestContext(request),
        );
        return page(reply, productName, done(t.createdTitle, t.created));
      } catch (error) {
        return page(
          reply,
          productName,
          { title: t.inviteTitle, body: `${heading(t.inviteTitle)}${failure(error)}` },
          400,
        );
      }
    },
  );
}
