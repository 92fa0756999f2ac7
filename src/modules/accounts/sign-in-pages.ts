import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isGatehouseError } from '../../platform/errors.js';
import { escapeHtml, failureMessage, page } from '../../platform/html.js';
import type { MfaService } from '../mfa/service.js';
import {
  clearSessionCookie,
  type SessionCookie,
  setHostCookie,
  setSessionCookie,
} from '../sessions/plugin.js';
import { requestContext } from './routes.js';
import type { AccountService } from './service.js';

/**
 * Sign-in pages outside an OAuth flow: sign in (then a second factor), sign up, forgot password and sign out.
 * Server-rendered forms that work without JavaScript, under the pages' nonce CSP; a form that fails keeps
 * what was typed (never the password) and says what is wrong next to the field. Form posts from other
 * origins are refused by the session layer's Origin check, so these need no token of their own.
 */
export interface SignInPagesOptions {
  readonly accounts: AccountService;
  readonly mfa: MfaService;
  readonly cookie: SessionCookie;
  readonly pendingCookie: SessionCookie;
  readonly deviceCookie: SessionCookie;
  readonly productName: string;
}

type Form = Record<string, string | undefined>;

const formSchema = {
  body: { type: 'object', additionalProperties: { type: 'string', maxLength: 4096 } },
  hide: true,
};
const nextQuery = {
  querystring: { type: 'object', properties: { next: { type: 'string', maxLength: 500 } } },
  hide: true,
} as const;

/** Only a path on this site: never `//other.example` or `https://…` (an open redirect). */
export function safeNext(next: string | undefined): string {
  return next && /^\/(?![/\\])[\x21-\x7e]*$/.test(next) ? next : '/account';
}

const field = (input: {
  id: string;
  label: string;
  type?: string;
  value?: string;
  autocomplete: string;
  error?: string | undefined;
  hint?: string;
  required?: boolean;
}) => {
  const described = [input.hint ? `${input.id}-hint` : '', input.error ? `${input.id}-error` : '']
    .filter(Boolean)
    .join(' ');
  return `<label for="${input.id}">${escapeHtml(input.label)}</label>
<input id="${input.id}" name="${input.id}" type="${input.type ?? 'text'}" autocomplete="${input.autocomplete}"${input.required === false ? '' : ' required'} maxlength="${input.type === 'password' ? 4096 : 254}"${input.value ? ` value="${escapeHtml(input.value)}"` : ''}${input.error ? ' aria-invalid="true"' : ''}${described ? ` aria-describedby="${described}"` : ''}>${input.hint ? `<p id="${input.id}-hint" class="hint">${escapeHtml(input.hint)}</p>` : ''}${input.error ? `<p id="${input.id}-error" class="error field-error">${escapeHtml(input.error)}</p>` : ''}`;
};

const hidden = (name: string, value: string) =>
  `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;

const links = (items: [string, string][]) =>
  `<p class="links">${items.map(([href, text]) => `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`).join(' · ')}</p>`;

export function registerSignInPages(app: FastifyInstance, options: SignInPagesOptions): void {
  const { accounts, mfa, productName } = options;
  const show = (reply: FastifyReply, title: string, body: string, status = 200) =>
    page(reply, productName, { title, body }, status);
  /** The status to answer a failed form with; an unexpected error is logged (the page shows no internals). */
  const statusOf = (request: FastifyRequest, error: unknown): number => {
    if (isGatehouseError(error)) return error.status;
    request.log.error({ err: error }, 'sign-in page failed');
    return 500;
  };

  const signInForm = (next: string, email = '', error?: unknown) =>
    `<h1>Sign in</h1>${error ? failureMessage(error) : ''}
<form method="post" action="/login" novalidate>
${hidden('next', next)}
${field({ id: 'email', label: 'E-mail', type: 'email', value: email, autocomplete: 'username' })}
${field({ id: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', error: error ? 'Check the password (and the e-mail above).' : undefined })}
<button type="submit">Sign in</button></form>
${links([
  ['/forgot-password', 'Forgot your password?'],
  [`/signup?next=${encodeURIComponent(next)}`, 'Create an account'],
])}`;

  const codeForm = (next: string, totpMethodId: string | undefined, error?: unknown) =>
    `<h1>Two-step verification</h1>${error ? failureMessage(error) : ''}
<form method="post" action="/login/code" novalidate>
${hidden('next', next)}${totpMethodId ? hidden('methodId', totpMethodId) : ''}
${field({
  id: 'code',
  label: totpMethodId ? 'Code from your authenticator app, or a backup code' : 'A backup code',
  autocomplete: 'one-time-code',
  error: error ? 'That code did not work. Codes from an app change every 30 seconds.' : undefined,
})}
<button type="submit">Verify</button></form>
${links([['/login', 'Start again']])}`;

  const finishSignIn = (reply: FastifyReply, token: string, expiresAt: number, next: string) => {
    setSessionCookie(reply, options.cookie, token, expiresAt);
    return reply.redirect(next, 303);
  };

  app.get<{ Querystring: { next?: string } }>('/login', { schema: nextQuery }, async (request, reply) => {
    const next = safeNext(request.query.next);
    if (request.session) return reply.redirect(next, 303);
    return show(reply, 'Sign in', signInForm(next));
  });

  app.post<{ Body: Form }>('/login', { schema: formSchema }, async (request, reply) => {
    const next = safeNext(request.body.next);
    const email = (request.body.email ?? '').trim();
    try {
      const result = await accounts.login(
        { email, password: request.body.password ?? '' },
        { ...requestContext(request), rememberedDevice: request.cookies[options.deviceCookie.name] },
      );
      if (result.status === 'mfa_required') {
        setHostCookie(reply, options.pendingCookie, result.pendingToken, result.expiresAt);
        const totp = result.methods.find((method) => method.type === 'totp');
        return show(reply, 'Two-step verification', codeForm(next, totp?.id));
      }
      // A restricted session (a second factor must be added first) lands in the portal, which offers it.
      return finishSignIn(reply, result.token, result.expiresAt, result.status === 'ok' ? next : '/account');
    } catch (error) {
      return show(reply, 'Sign in', signInForm(next, email, error), statusOf(request, error));
    }
  });

  app.post<{ Body: Form }>('/login/code', { schema: formSchema }, async (request, reply) => {
    const next = safeNext(request.body.next);
    const code = (request.body.code ?? '').replace(/\s+/g, '');
    const methodId = request.body.methodId;
    try {
      const proof =
        /^\d{6}$/.test(code) && methodId ? { methodId, code } : { type: 'backup_code' as const, code };
      const { login } = await mfa.verifyPending(
        request.cookies[options.pendingCookie.name],
        proof,
        requestContext(request),
      );
      clearSessionCookie(reply, options.pendingCookie);
      return finishSignIn(reply, login.token, login.expiresAt, next);
    } catch (error) {
      return show(reply, 'Two-step verification', codeForm(next, methodId, error), statusOf(request, error));
    }
  });

  const signUpForm = (next: string, values: Form = {}, error?: unknown) => {
    const problem = isGatehouseError(error) && error.expose ? error.message : undefined;
    const onPassword = isGatehouseError(error) && /password/.test(error.code);
    return `<h1>Create an account</h1>${error && !onPassword ? failureMessage(error) : ''}
<form method="post" action="/signup" novalidate>
${hidden('next', next)}
${field({ id: 'name', label: 'Name (optional)', value: values.name, autocomplete: 'name', required: false })}
${field({ id: 'email', label: 'E-mail', type: 'email', value: values.email, autocomplete: 'email' })}
${field({
  id: 'password',
  label: 'Password',
  type: 'password',
  autocomplete: 'new-password',
  hint: 'At least 8 characters; a passphrase of a few words is best.',
  error: onPassword ? problem : undefined,
})}
<button type="submit">Create account</button></form>
${links([[`/login?next=${encodeURIComponent(next)}`, 'I have an account']])}`;
  };

  app.get<{ Querystring: { next?: string } }>('/signup', { schema: nextQuery }, async (request, reply) =>
    show(reply, 'Create an account', signUpForm(safeNext(request.query.next))),
  );

  app.post<{ Body: Form }>('/signup', { schema: formSchema }, async (request, reply) => {
    const next = safeNext(request.body.next);
    const values = { name: request.body.name?.trim(), email: request.body.email?.trim() };
    try {
      await accounts.signup(
        {
          email: values.email ?? '',
          password: request.body.password ?? '',
          ...(values.name ? { name: values.name } : {}),
        },
        requestContext(request),
      );
      return show(
        reply,
        'Check your e-mail',
        `<h1>Check your e-mail</h1><p class="ok" role="status">We sent a link to ${escapeHtml(values.email ?? '')} to confirm the address.</p>${links([[`/login?next=${encodeURIComponent(next)}`, 'Sign in']])}`,
      );
    } catch (error) {
      return show(reply, 'Create an account', signUpForm(next, values, error), statusOf(request, error));
    }
  });

  const forgotForm = (email = '', error?: unknown) =>
    `<h1>Forgot your password?</h1>${error ? failureMessage(error) : ''}
<p>We will e-mail you a link to choose a new one.</p>
<form method="post" action="/forgot-password" novalidate>
${field({ id: 'email', label: 'E-mail', type: 'email', value: email, autocomplete: 'email' })}
<button type="submit">Send the link</button></form>
${links([['/login', 'Back to sign in']])}`;

  app.get('/forgot-password', { schema: { hide: true } }, async (_request, reply) =>
    show(reply, 'Forgot your password?', forgotForm()),
  );

  app.post<{ Body: Form }>('/forgot-password', { schema: formSchema }, async (request, reply) => {
    const email = (request.body.email ?? '').trim();
    try {
      await accounts.requestPasswordReset(email, requestContext(request));
    } catch (error) {
      // Only malformed input or throttling end here; whether the account exists is never told.
      return show(reply, 'Forgot your password?', forgotForm(email, error), statusOf(request, error));
    }
    return show(
      reply,
      'Check your e-mail',
      `<h1>Check your e-mail</h1><p class="ok" role="status">If ${escapeHtml(email)} has an account, a link to choose a new password is on its way.</p>${links([['/login', 'Back to sign in']])}`,
    );
  });

  app.get('/logout', { schema: { hide: true } }, async (request, reply) =>
    request.session
      ? show(
          reply,
          'Sign out',
          '<h1>Sign out</h1><p>Sign out of this browser?</p><form method="post" action="/logout"><button type="submit">Sign out</button></form>',
        )
      : show(reply, 'Signed out', `<h1>You are signed out</h1>${links([['/login', 'Sign in again']])}`),
  );

  app.post('/logout', { schema: { hide: true } }, async (request: FastifyRequest, reply) => {
    const session = request.session;
    if (session) await accounts.logout(session.userId, session.id, requestContext(request));
    clearSessionCookie(reply, options.cookie);
    return show(reply, 'Signed out', `<h1>You are signed out</h1>${links([['/login', 'Sign in again']])}`);
  });
}
