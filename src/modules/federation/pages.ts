import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isGatehouseError } from '../../platform/errors.js';
import { escapeHtml, failureMessage, page } from '../../platform/html.js';
import { en, format, type Messages } from '../../platform/messages/en.js';
import { requestContext } from '../accounts/routes.js';
import type { AccountService } from '../accounts/service.js';
import { hidden, links, loginSecondFactorForm } from '../accounts/sign-in-forms.js';
import { safeNext } from '../accounts/sign-in-pages.js';
import {
  clearSessionCookie,
  type SessionCookie,
  setHostCookie,
  setSessionCookie,
} from '../sessions/plugin.js';
import type { CallbackOutcome, FederationService } from './service.js';

export interface FederationPagesOptions {
  readonly federation: FederationService;
  readonly accounts: Pick<AccountService, 'get'>;
  readonly cookie: SessionCookie;
  readonly pendingCookie: SessionCookie;
  readonly deviceCookie: SessionCookie;
  /** Carries a sign-in's state, nonce and PKCE verifier to its callback (sealed). */
  readonly flowCookie: SessionCookie;
  /** Carries an upstream account waiting to be linked once its owner has signed in (sealed). */
  readonly linkCookie: SessionCookie;
  /** Tells the OAuth interaction a sign-in went through a provider for it just now (sealed). */
  readonly freshCookie: SessionCookie;
  readonly productName: string;
  readonly messages?: Messages | undefined;
}

const SlugParams = {
  type: 'object',
  properties: { slug: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,39}$' } },
  required: ['slug'],
} as const;
const StartQuery = {
  type: 'object',
  properties: { next: { type: 'string', maxLength: 500 } },
} as const;
const CallbackQuery = {
  type: 'object',
  properties: {
    code: { type: 'string', maxLength: 4096 },
    state: { type: 'string', maxLength: 1024 },
    iss: { type: 'string', maxLength: 1024 },
    error: { type: 'string', maxLength: 200 },
    error_description: { type: 'string', maxLength: 2000 },
  },
} as const;

/** How other protocols' endpoints (SAML) answer the browser the same way. */
export interface FederationResponders {
  answer(reply: FastifyReply, outcome: CallbackOutcome): FastifyReply;
  failure(request: FastifyRequest, reply: FastifyReply, error: unknown, next?: string): FastifyReply;
}

/**
 * The browser side of federation: `/login/federated/<slug>` starts a sign-in at the upstream provider, its
 * callback finishes it (a session, a second factor, or "sign in to connect"), and `/login/federated/connect`
 * links an upstream account to the account its owner just signed in to.
 */
export function registerFederationPages(
  app: FastifyInstance,
  options: FederationPagesOptions,
): FederationResponders {
  const { federation, productName } = options;
  const m = options.messages ?? en;
  const show = (reply: FastifyReply, title: string, body: string, status = 200) =>
    page(reply, productName, { title, body }, status);
  const failure = (request: FastifyRequest, reply: FastifyReply, error: unknown, next = '/account') => {
    const status = isGatehouseError(error) ? error.status : 500;
    if (status >= 500 && !isGatehouseError(error))
      request.log.error({ err: error }, 'federated sign-in failed');
    return show(
      reply,
      m.federation.failedTitle,
      `<h1>${escapeHtml(m.federation.failedTitle)}</h1>${failureMessage(error)}${links([[`/login?next=${encodeURIComponent(next)}`, m.federation.tryAgain]])}`,
      status,
    );
  };

  /** How the browser is answered once a provider has spoken: a session, a second factor, or "sign in to connect". */
  const answer = (reply: FastifyReply, outcome: CallbackOutcome) => {
    if (outcome.kind === 'linked') return reply.redirect(outcome.next, 303);
    if (outcome.kind === 'link_required') {
      setHostCookie(reply, options.linkCookie, outcome.pendingLink.value, outcome.pendingLink.expiresAt);
      return show(
        reply,
        m.federation.linkTitle,
        `<h1>${escapeHtml(m.federation.linkTitle)}</h1><p>${escapeHtml(
          format(m.federation.linkIntro, { email: outcome.email, provider: outcome.provider }),
        )}</p>${links([
          [`/login?next=${encodeURIComponent('/login/federated/connect')}`, m.federation.linkSignIn],
        ])}`,
      );
    }
    const { result, next } = outcome;
    if (result.status === 'mfa_required') {
      setHostCookie(reply, options.pendingCookie, result.pendingToken, result.expiresAt);
      return show(reply, m.code.title, loginSecondFactorForm(m, next, result));
    }
    setSessionCookie(reply, options.cookie, result.token, result.expiresAt);
    if (outcome.next.startsWith('/oauth2/interaction/')) {
      const marker = federation.freshSignIn.mark(result.sessionId, outcome.next);
      setHostCookie(reply, options.freshCookie, marker.value, marker.expiresAt);
    }
    // A session that must add a second factor first lands in the portal, which offers it.
    return reply.redirect(result.status === 'ok' ? next : '/account', 303);
  };

  app.get<{ Params: { slug: string }; Querystring: { next?: string } }>(
    '/login/federated/:slug',
    { schema: { params: SlugParams, querystring: StartQuery, hide: true } },
    async (request, reply) => {
      const next = safeNext(request.query.next);
      try {
        const { url, flow } = await federation.begin(request.params.slug, { next, intent: 'sign_in' });
        setHostCookie(reply, options.flowCookie, flow.value, flow.expiresAt);
        return reply.redirect(url, 303);
      } catch (error) {
        return failure(request, reply, error, next);
      }
    },
  );

  app.get<{ Params: { slug: string } }>(
    '/login/federated/:slug/callback',
    { schema: { params: SlugParams, querystring: CallbackQuery, hide: true } },
    async (request, reply) => {
      const flowCookie = request.cookies[options.flowCookie.name];
      clearSessionCookie(reply, options.flowCookie);
      const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
      try {
        const outcome = await federation.complete(request.params.slug, query, flowCookie, {
          ...requestContext(request),
          rememberedDevice: request.cookies[options.deviceCookie.name],
          sessionUserId: request.session?.userId,
        });
        return answer(reply, outcome);
      } catch (error) {
        return failure(request, reply, error);
      }
    },
  );

  const confirmPage = async (request: FastifyRequest, reply: FastifyReply, error?: unknown) => {
    const session = request.session;
    if (!session) return reply.redirect(`/login?next=${encodeURIComponent('/login/federated/connect')}`, 303);
    const pending = await federation.pendingLink(request.cookies[options.linkCookie.name]);
    if (!pending) return failure(request, reply, error ?? new Error('no pending link'), '/account');
    const account = await options.accounts.get(session.userId);
    const title = format(m.federation.confirmTitle, { provider: pending.provider });
    return show(
      reply,
      title,
      `<h1>${escapeHtml(title)}</h1>${error ? failureMessage(error) : ''}<p>${escapeHtml(
        format(m.federation.confirmIntro, {
          provider: pending.provider,
          email: pending.email ?? '',
          account: account.email,
        }),
      )}</p><form method="post" action="/login/federated/connect">${hidden('confirm', 'yes')}<button type="submit">${escapeHtml(m.federation.confirm)}</button></form>${links([['/account', m.federation.cancel]])}`,
      error && isGatehouseError(error) ? error.status : 200,
    );
  };

  app.get('/login/federated/connect', { schema: { hide: true } }, (request, reply) =>
    confirmPage(request, reply),
  );

  app.post(
    '/login/federated/connect',
    {
      schema: {
        hide: true,
        body: { type: 'object', additionalProperties: { type: 'string', maxLength: 100 } },
      },
    },
    async (request, reply) => {
      const session = request.session;
      if (!session)
        return reply.redirect(`/login?next=${encodeURIComponent('/login/federated/connect')}`, 303);
      try {
        const linked = await federation.confirmLink(request.cookies[options.linkCookie.name], session);
        clearSessionCookie(reply, options.linkCookie);
        return reply.redirect(safeNext(linked.next), 303);
      } catch (error) {
        return confirmPage(request, reply, error);
      }
    },
  );
  return { answer, failure };
}
