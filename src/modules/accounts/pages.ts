import type { FastifyInstance, FastifyReply } from 'fastify';
import { isGatehouseError } from '../../platform/errors.js';
import { escapeHtml } from '../../platform/html.js';
import { pageCsp } from '../../platform/http/hardening.js';
import { requestContext } from './routes.js';
import type { AccountService } from './service.js';

/**
 * The pages the e-mailed links open. Following a link only shows a form; the token is spent when the person
 * presses the button (a POST), so mail scanners that fetch links cannot use it up. No JavaScript needed.
 * The full sign-in pages and account portal come later; these are their plain precursors.
 */

interface PageContent {
  readonly title: string;
  readonly body: string;
}

function page(reply: FastifyReply, productName: string, content: PageContent, status = 200): FastifyReply {
  const nonce = pageCsp(reply);
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(content.title)} · ${escapeHtml(productName)}</title>
<style nonce="${nonce}">
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
  main { max-width: 26rem; margin: 10vh auto; background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px #0002; }
  h1 { font-size: 1.35rem; margin-top: 0; }
  label { display: block; margin: 1rem 0 .25rem; font-weight: 600; }
  input { width: 100%; box-sizing: border-box; padding: .6rem; font: inherit; border: 1px solid #8a93a6; border-radius: 4px; }
  button { margin-top: 1.25rem; width: 100%; padding: .7rem; font: inherit; font-weight: 600; color: #fff; background: #2851a3; border: 0; border-radius: 4px; cursor: pointer; }
  button:focus, input:focus { outline: 3px solid #f2b400; outline-offset: 1px; }
  .error { color: #a11d1d; } .ok { color: #1d6b2c; }
  .product { color: #556; font-size: .9rem; margin-bottom: 1.5rem; }
</style>
</head>
<body><main><div class="product">${escapeHtml(productName)}</div>${content.body}</main></body>
</html>`;
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
}

const form = (action: string, token: string, fields: string, button: string) =>
  `<form method="post" action="${action}"><input type="hidden" name="token" value="${escapeHtml(token)}">${fields}<button type="submit">${button}</button></form>`;

const passwordField = (label: string) =>
  `<label for="password">${label}</label><input id="password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="4096">`;

function failure(error: unknown): string {
  const message =
    isGatehouseError(error) && error.expose ? error.message : 'Something went wrong. Please try again.';
  return `<p class="error" role="alert">${escapeHtml(message)}</p>`;
}

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
