import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { pageCsp } from '../../platform/http/hardening.js';
import { requestContext } from '../accounts/routes.js';
import { safeNext } from '../accounts/sign-in-pages.js';
import type { FederationResponders } from '../federation/pages.js';
import { clearSessionCookie, type SessionCookie, setHostCookie } from '../sessions/plugin.js';
import type { SamlService } from './service.js';

export interface SamlPagesOptions {
  readonly saml: SamlService;
  readonly responders: FederationResponders;
  readonly deviceCookie: SessionCookie;
  /** Carries an app's AuthnRequest through the sign-in here (sealed). */
  readonly requestCookie: SessionCookie;
}

const SlugParams = {
  type: 'object',
  properties: { slug: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,39}$' } },
  required: ['slug'],
} as const;
const AppParams = {
  type: 'object',
  properties: { appId: { type: 'string', minLength: 1, maxLength: 64 } },
  required: ['appId'],
} as const;
const Form = {
  type: 'object',
  properties: {
    SAMLResponse: { type: 'string', maxLength: 400_000 },
    SAMLRequest: { type: 'string', maxLength: 400_000 },
    RelayState: { type: 'string', maxLength: 1000 },
  },
} as const;
const Query = {
  type: 'object',
  properties: {
    next: { type: 'string', maxLength: 500 },
    SAMLRequest: { type: 'string', maxLength: 100_000 },
    SAMLResponse: { type: 'string', maxLength: 100_000 },
    RelayState: { type: 'string', maxLength: 1000 },
    SigAlg: { type: 'string', maxLength: 200 },
    Signature: { type: 'string', maxLength: 2000 },
  },
} as const;

type SamlForm = { SAMLResponse?: string; SAMLRequest?: string; RelayState?: string };
const rawQueryOf = (request: FastifyRequest) =>
  request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
const xml = (reply: FastifyReply, body: string) =>
  reply
    .type('application/samlmetadata+xml; charset=utf-8')
    .header('cache-control', 'public, max-age=300')
    .send(body);

/**
 * SAML endpoints. As a service provider, per connection: `/login/saml/<slug>` (SP-initiated), the ACS the
 * identity provider posts to, our metadata, and single logout. As an identity provider: metadata, the SSO
 * endpoint apps send people to (both bindings), and IdP-initiated sign-in to an app.
 */
export function registerSamlPages(app: FastifyInstance, options: SamlPagesOptions): void {
  const { saml, responders } = options;

  app.get<{ Params: { slug: string } }>(
    '/saml/:slug/metadata',
    { schema: { params: SlugParams, hide: true } },
    async (request, reply) => xml(reply, await saml.spMetadata(request.params.slug)),
  );

  app.get<{ Params: { slug: string }; Querystring: { next?: string } }>(
    '/login/saml/:slug',
    { schema: { params: SlugParams, querystring: Query, hide: true } },
    async (request, reply) => {
      const next = safeNext(request.query.next);
      try {
        return reply.redirect(await saml.begin(request.params.slug, next), 303);
      } catch (error) {
        return responders.failure(request, reply, error, next);
      }
    },
  );

  // The identity provider's page posts here from its own origin: the Origin check does not apply, the
  // response's signature, audience, recipient, time window and single use do.
  app.post<{ Params: { slug: string }; Body: SamlForm }>(
    '/saml/:slug/acs',
    { config: { crossOrigin: true }, schema: { params: SlugParams, body: Form, hide: true } },
    async (request, reply) => {
      try {
        const outcome = await saml.acs(request.params.slug, request.body, safeNext(request.body.RelayState), {
          ...requestContext(request),
          rememberedDevice: request.cookies[options.deviceCookie.name],
        });
        return responders.answer(reply, outcome);
      } catch (error) {
        return responders.failure(request, reply, error);
      }
    },
  );

  app.get<{ Params: { slug: string }; Querystring: Record<string, string> }>(
    '/saml/:slug/slo',
    { schema: { params: SlugParams, querystring: Query, hide: true } },
    async (request, reply) => {
      try {
        const { redirect } = await saml.slo(request.params.slug, request.query, rawQueryOf(request));
        return reply.redirect(redirect, 303);
      } catch (error) {
        return responders.failure(request, reply, error);
      }
    },
  );

  // ----- identity provider -----
  app.get('/saml/idp/metadata', { schema: { hide: true } }, async (_request, reply) =>
    xml(reply, await saml.idpMetadata()),
  );

  /** Answers the app with a signed response, through a self-submitting form to its ACS. */
  const post = async (
    request: FastifyRequest,
    reply: FastifyReply,
    pending: Parameters<SamlService['respond']>[0],
  ) => {
    const session = request.session!;
    const response = await saml.respond(pending, session);
    const nonce = pageCsp(reply, [new URL(response.acsUrl).origin]);
    return reply
      .code(200)
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(await saml.postForm({ ...response, nonce }));
  };

  const continueUrl = '/saml/idp/continue';
  const receive = async (
    request: FastifyRequest,
    reply: FastifyReply,
    input: SamlForm,
    binding: 'redirect' | 'post',
  ) => {
    try {
      const pending = await saml.receiveRequest(
        {
          SAMLRequest: input.SAMLRequest ?? '',
          ...(input.RelayState !== undefined ? { RelayState: input.RelayState } : {}),
        },
        binding,
      );
      setHostCookie(reply, options.requestCookie, pending.value, pending.expiresAt);
      // Continue as a same-site GET, where the session cookie is sent even if the app posted from its site.
      return reply.redirect(continueUrl, 303);
    } catch (error) {
      return responders.failure(request, reply, error);
    }
  };

  app.get<{ Querystring: SamlForm }>(
    '/saml/idp/sso',
    { schema: { querystring: Query, hide: true } },
    (request, reply) => receive(request, reply, request.query, 'redirect'),
  );
  app.post<{ Body: SamlForm }>(
    '/saml/idp/sso',
    { config: { crossOrigin: true }, schema: { body: Form, hide: true } },
    (request, reply) => receive(request, reply, request.body, 'post'),
  );

  app.get(continueUrl, { schema: { hide: true } }, async (request, reply) => {
    const pending = saml.openPending(request.cookies[options.requestCookie.name]);
    if (!pending) {
      return responders.failure(request, reply, new Error('no SAML request in progress'));
    }
    const session = request.session;
    // ForceAuthn: only a sign-in that happened after the app asked will do.
    if (!session || session.restriction || (pending.forceAuthn && session.authTime < pending.createdAt)) {
      return reply.redirect(`/login?next=${encodeURIComponent(continueUrl)}`, 303);
    }
    clearSessionCookie(reply, options.requestCookie);
    try {
      return await post(request, reply, pending);
    } catch (error) {
      return responders.failure(request, reply, error);
    }
  });

  app.get<{ Params: { appId: string } }>(
    '/saml/idp/apps/:appId/start',
    { schema: { params: AppParams, hide: true } },
    async (request, reply) => {
      if (!request.session) {
        return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
      }
      try {
        return await post(request, reply, await saml.unsolicited(request.params.appId));
      } catch (error) {
        return responders.failure(request, reply, error);
      }
    },
  );
}
