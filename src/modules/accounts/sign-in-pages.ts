import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isGatehouseError } from '../../platform/errors.js';
import { escapeHtml, failureMessage, page } from '../../platform/html.js';
import { en, format, type Messages } from '../../platform/messages/en.js';
import type { MfaService } from '../mfa/service.js';
import {
  clearSessionCookie,
  type SessionCookie,
  setHostCookie,
  setSessionCookie,
} from '../sessions/plugin.js';
import { requestContext } from './routes.js';
import type { AccountService } from './service.js';
import {
  type FactorFields,
  field,
  hidden,
  links,
  loginSecondFactorForm,
  noChoices,
  passkeyButton,
  passwordForm,
  proofFrom,
  providerButtons,
  type SecondFactorChoices,
  sentAgain,
} from './sign-in-forms.js';

/**
 * Sign-in pages outside an OAuth flow: sign in with a password (then a second factor: app, backup, e-mail
 * or SMS code, or passkey) or with a passkey alone, sign up, forgot password and sign out.
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
  /** The page text (English by default). */
  readonly messages?: Messages | undefined;
  /** Upstream providers offered as "Continue with …" (federation). */
  readonly signInProviders?: (() => Promise<readonly { slug: string; name: string }[]>) | undefined;
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

export function registerSignInPages(app: FastifyInstance, options: SignInPagesOptions): void {
  const { accounts, mfa, productName } = options;
  const m = options.messages ?? en;
  const show = (reply: FastifyReply, title: string, body: string, status = 200) =>
    page(reply, productName, { title, body }, status);
  /** The status to answer a failed form with; an unexpected error is logged (the page shows no internals). */
  const statusOf = (request: FastifyRequest, error: unknown): number => {
    if (isGatehouseError(error)) return error.status;
    request.log.error({ err: error }, 'sign-in page failed');
    return 500;
  };

  const signInForm = async (next: string, email = '', error?: unknown) => {
    const problem = error ? failureMessage(error) : undefined;
    const providers = options.signInProviders ? await options.signInProviders() : [];
    return `<h1>${m.signIn.title}</h1>${problem ?? ''}
${passwordForm(m, { action: '/login', email, error: problem, fields: { next } })}
${passkeyButton(m, {
  action: '/login/passkey',
  label: m.signIn.passkey,
  challengeUrl: '/api/v1/auth/passkey/options',
  body: {},
  fields: { next },
})}
${providerButtons(m, providers, next)}
${links([
  ['/forgot-password', m.signIn.forgot],
  [`/signup?next=${encodeURIComponent(next)}`, m.signIn.createAccount],
])}`;
  };

  const factorForm = (next: string, choices: SecondFactorChoices, error?: unknown) =>
    loginSecondFactorForm(m, next, choices, error ? failureMessage(error) : undefined);

  const finishSignIn = (
    reply: FastifyReply,
    login: { token: string; expiresAt: number },
    next: string,
    rememberedDevice?: { value: string; expiresAt: number } | undefined,
  ) => {
    setSessionCookie(reply, options.cookie, login.token, login.expiresAt);
    if (rememberedDevice) {
      setHostCookie(reply, options.deviceCookie, rememberedDevice.value, rememberedDevice.expiresAt);
    }
    return reply.redirect(next, 303);
  };

  /** The sign-in waiting for its second factor is gone (expired or spent): back to the password form. */
  const pendingGone = (error: unknown) => isGatehouseError(error) && error.code === 'mfa_pending_invalid';

  app.get<{ Querystring: { next?: string } }>('/login', { schema: nextQuery }, async (request, reply) => {
    const next = safeNext(request.query.next);
    if (request.session) return reply.redirect(next, 303);
    return show(reply, m.signIn.title, await signInForm(next));
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
        return show(reply, m.code.title, factorForm(next, result));
      }
      // A restricted session (a second factor must be added first) lands in the portal, which offers it.
      return finishSignIn(reply, result, result.status === 'ok' ? next : '/account');
    } catch (error) {
      return show(reply, m.signIn.title, await signInForm(next, email, error), statusOf(request, error));
    }
  });

  app.post<{ Body: Form }>('/login/mfa', { schema: formSchema }, async (request, reply) => {
    const next = safeNext(request.body.next);
    const pendingToken = request.cookies[options.pendingCookie.name];
    const proof = proofFrom(request.body as FactorFields);
    try {
      const { login, rememberedDevice } = await mfa.verifyPending(
        pendingToken,
        proof,
        requestContext(request),
      );
      clearSessionCookie(reply, options.pendingCookie);
      return finishSignIn(reply, login, next, rememberedDevice);
    } catch (error) {
      if (pendingGone(error)) return show(reply, m.signIn.title, await signInForm(next, '', error), 401);
      const choices = await mfa.pendingMethods(pendingToken).catch(() => noChoices);
      return show(
        reply,
        m.code.title,
        factorForm(next, { ...choices, ...sentAgain(proof) }, error),
        statusOf(request, error),
      );
    }
  });

  app.post<{ Body: Form }>('/login/mfa/send', { schema: formSchema }, async (request, reply) => {
    const next = safeNext(request.body.next);
    const pendingToken = request.cookies[options.pendingCookie.name];
    try {
      const choices = await mfa.pendingMethods(pendingToken);
      const sent = await mfa.challengePending(
        pendingToken,
        { methodId: request.body.methodId },
        requestContext(request),
      );
      const withSent: SecondFactorChoices =
        sent.type === 'email' || sent.type === 'sms'
          ? {
              ...choices,
              sent: { type: sent.type, methodId: sent.methodId, ...(sent.sentTo ? { to: sent.sentTo } : {}) },
            }
          : choices;
      return show(reply, m.code.title, factorForm(next, withSent));
    } catch (error) {
      if (pendingGone(error)) return show(reply, m.signIn.title, await signInForm(next, '', error), 401);
      const choices = await mfa.pendingMethods(pendingToken).catch(() => noChoices);
      return show(reply, m.code.title, factorForm(next, choices, error), statusOf(request, error));
    }
  });

  app.post<{ Body: Form }>('/login/passkey', { schema: formSchema }, async (request, reply) => {
    const next = safeNext(request.body.next);
    try {
      let response: unknown;
      try {
        response = JSON.parse(request.body.response ?? '');
      } catch {
        response = undefined;
      }
      const { login, rememberedDevice } = await mfa.passkeyLogin(
        { challengeId: request.body.challengeId ?? '', response },
        requestContext(request),
      );
      return finishSignIn(reply, login, next, rememberedDevice);
    } catch (error) {
      return show(reply, m.signIn.title, await signInForm(next, '', error), statusOf(request, error));
    }
  });

  const signUpForm = (next: string, values: Form = {}, error?: unknown) => {
    const problem = isGatehouseError(error) && error.expose ? error.message : undefined;
    const onPassword = isGatehouseError(error) && /password/.test(error.code);
    return `<h1>${m.signUp.title}</h1>${error && !onPassword ? failureMessage(error) : ''}
<form method="post" action="/signup" novalidate>
${hidden('next', next)}
${field({ id: 'name', label: m.signUp.name, value: values.name, autocomplete: 'name', required: false })}
${field({ id: 'email', label: m.signUp.email, type: 'email', value: values.email, autocomplete: 'email' })}
${field({
  id: 'password',
  label: m.signUp.password,
  type: 'password',
  autocomplete: 'new-password',
  hint: m.signUp.passwordHint,
  error: onPassword ? problem : undefined,
})}
<button type="submit">${m.signUp.submit}</button></form>
${links([[`/login?next=${encodeURIComponent(next)}`, m.signUp.haveAccount]])}`;
  };

  app.get<{ Querystring: { next?: string } }>('/signup', { schema: nextQuery }, async (request, reply) =>
    show(reply, m.signUp.title, signUpForm(safeNext(request.query.next))),
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
        m.signUp.checkMailTitle,
        `<h1>${m.signUp.checkMailTitle}</h1><p class="ok" role="status">${format(m.signUp.checkMail, { email: escapeHtml(values.email ?? '') })}</p>${links([[`/login?next=${encodeURIComponent(next)}`, m.signUp.signIn]])}`,
      );
    } catch (error) {
      return show(reply, m.signUp.title, signUpForm(next, values, error), statusOf(request, error));
    }
  });

  const forgotForm = (email = '', error?: unknown) =>
    `<h1>${m.forgot.title}</h1>${error ? failureMessage(error) : ''}
<p>${m.forgot.intro}</p>
<form method="post" action="/forgot-password" novalidate>
${field({ id: 'email', label: m.forgot.email, type: 'email', value: email, autocomplete: 'email' })}
<button type="submit">${m.forgot.submit}</button></form>
${links([['/login', m.forgot.back]])}`;

  app.get('/forgot-password', { schema: { hide: true } }, async (_request, reply) =>
    show(reply, m.forgot.title, forgotForm()),
  );

  app.post<{ Body: Form }>('/forgot-password', { schema: formSchema }, async (request, reply) => {
    const email = (request.body.email ?? '').trim();
    try {
      await accounts.requestPasswordReset(email, requestContext(request));
    } catch (error) {
      // Only malformed input or throttling end here; whether the account exists is never told.
      return show(reply, m.forgot.title, forgotForm(email, error), statusOf(request, error));
    }
    return show(
      reply,
      m.forgot.sentTitle,
      `<h1>${m.forgot.sentTitle}</h1><p class="ok" role="status">${format(m.forgot.sent, { email: escapeHtml(email) })}</p>${links([['/login', m.forgot.back]])}`,
    );
  });

  app.get('/logout', { schema: { hide: true } }, async (request, reply) =>
    request.session
      ? show(
          reply,
          m.signOut.title,
          `<h1>${m.signOut.title}</h1><p>${m.signOut.question}</p><form method="post" action="/logout"><button type="submit">${m.signOut.submit}</button></form>`,
        )
      : show(reply, m.signOut.doneTitle, `<h1>${m.signOut.done}</h1>${links([['/login', m.signOut.again]])}`),
  );

  app.post('/logout', { schema: { hide: true } }, async (request: FastifyRequest, reply) => {
    const session = request.session;
    if (session) await accounts.logout(session.userId, session.id, requestContext(request));
    clearSessionCookie(reply, options.cookie);
    return show(
      reply,
      m.signOut.doneTitle,
      `<h1>${m.signOut.done}</h1>${links([['/login', m.signOut.again]])}`,
    );
  });
}
