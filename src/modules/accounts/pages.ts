import type { FastifyInstance } from 'fastify';
import { escapeHtml, failureMessage as failure, page } from '../../platform/html.js';
import { requestContext } from './routes.js';
import type { AccountService } from './service.js';

/**
 * The pages the e-mailed links open. Following a link only shows a form; the token is spent when the person
 * presses the button (a POST), so mail scanners that fetch links cannot use it up. No JavaScript needed.
 * The full sign-in pages and account portal come later; these are their plain precursors.
 */

const form = (action: string, token: string, fields: string, button: string) =>
  `<form method="post" action="${action}"><input type="hidden" name="token" value="${escapeHtml(token)}">${fields}<button type="submit">${button}</button></form>`;

const passwordField = (label: string) =>
  `<label for="password">${label}</label><input id="password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="4096">`;

export function registerAccountPages(
  app: FastifyInstance,
  accounts: AccountService,
  productName: string,
): void {
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
        title: 'Confirm your e-mail address',
        body: `<h1>Confirm your e-mail address</h1>${form('/auth/verify-email', request.query.token, '', 'Confirm')}`,
      }),
  );
  app.post<{ Body: TokenForm }>('/auth/verify-email', { schema: formBody() }, async (request, reply) => {
    try {
      await accounts.verifyEmail(request.body.token, requestContext(request));
      return page(reply, productName, {
        title: 'E-mail confirmed',
        body: '<h1>E-mail confirmed</h1><p class="ok">Thank you. You can close this page.</p>',
      });
    } catch (error) {
      return page(
        reply,
        productName,
        { title: 'Link not valid', body: `<h1>Confirm your e-mail address</h1>${failure(error)}` },
        400,
      );
    }
  });

  app.get<{ Querystring: { token: string } }>(
    '/auth/reset-password',
    { schema: tokenQuery },
    async (request, reply) =>
      page(reply, productName, {
        title: 'Choose a new password',
        body: `<h1>Choose a new password</h1>${form('/auth/reset-password', request.query.token, passwordField('New password'), 'Set password')}`,
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
        return page(reply, productName, {
          title: 'Password changed',
          body: '<h1>Password changed</h1><p class="ok">Your password is set and every other session has been signed out.</p>',
        });
      } catch (error) {
        const retry = form(
          '/auth/reset-password',
          request.body.token,
          passwordField('New password'),
          'Set password',
        );
        return page(
          reply,
          productName,
          { title: 'Choose a new password', body: `<h1>Choose a new password</h1>${failure(error)}${retry}` },
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
        title: 'Confirm your new e-mail address',
        body: `<h1>Confirm your new e-mail address</h1>${form('/auth/confirm-email-change', request.query.token, '', 'Confirm')}`,
      }),
  );
  app.post<{ Body: TokenForm }>(
    '/auth/confirm-email-change',
    { schema: formBody() },
    async (request, reply) => {
      try {
        const user = await accounts.confirmEmailChange(request.body.token, requestContext(request));
        return page(reply, productName, {
          title: 'E-mail address changed',
          body: `<h1>E-mail address changed</h1><p class="ok">You now sign in as ${escapeHtml(user.email)}.</p>`,
        });
      } catch (error) {
        return page(
          reply,
          productName,
          { title: 'Link not valid', body: `<h1>Confirm your new e-mail address</h1>${failure(error)}` },
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
        title: 'Create your account',
        body: `<h1>Create your account</h1>${form(
          '/auth/accept-invitation',
          request.query.token,
          '<label for="email">E-mail address (the invited one)</label><input id="email" name="email" type="email" autocomplete="email" required>' +
            '<label for="name">Name</label><input id="name" name="name" autocomplete="name">' +
            passwordField('Password'),
          'Create account',
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
        return page(reply, productName, {
          title: 'Account created',
          body: '<h1>Account created</h1><p class="ok">Check your inbox to confirm your e-mail address, then sign in.</p>',
        });
      } catch (error) {
        return page(
          reply,
          productName,
          { title: 'Create your account', body: `<h1>Create your account</h1>${failure(error)}` },
          400,
        );
      }
    },
  );
}
