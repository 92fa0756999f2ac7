import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { isGatehouseError } from '../../platform/errors.js';
import { escapeHtml, failureMessage, page } from '../../platform/html.js';
import { en, format, type Messages } from '../../platform/messages/en.js';
import { requestContext } from '../accounts/routes.js';
import type { AccountService, LoginResult } from '../accounts/service.js';
import {
  type FactorFields,
  factorFieldsSchema,
  noChoices,
  passwordForm,
  proofFrom,
  providerButtons,
  type SecondFactorChoices,
  secondFactorForm,
  sentAgain,
} from '../accounts/sign-in-forms.js';
import type { MfaService } from '../mfa/service.js';
import { type SessionCookie, setHostCookie, setSessionCookie } from '../sessions/plugin.js';
import { meetsAcr, requiredAcr } from './acr.js';
import { organizationFromIndicator } from './provider.js';

export interface InteractionOptions {
  readonly provider: () => Promise<Provider>;
  readonly accounts: AccountService;
  readonly mfa: MfaService;
  readonly productName: string;
  readonly cookie: SessionCookie;
  readonly pendingCookie: SessionCookie;
  readonly isFirstParty: (clientId: string) => Promise<boolean>;
  /** Whether the account belongs to the organization (id or slug) a token is asked for. */
  readonly isOrganizationMember: (idOrSlug: string, accountId: string) => Promise<boolean>;
  /** The session's CSRF token, for the step-up page's passkey button (a JSON call as the session). */
  readonly csrfToken: (sessionId: string) => string;
  readonly now: () => number;
  /** The page text (English by default). */
  readonly messages?: Messages | undefined;
  /** Whether the session was just signed in for this interaction (through a provider that returned here). */
  readonly signedInForThis?: ((request: FastifyRequest) => boolean) | undefined;
  /** Upstream providers offered as "Continue with …" (federation); they come back to the interaction. */
  readonly signInProviders?: (() => Promise<readonly { slug: string; name: string }[]>) | undefined;
}

/** OpenID Connect's answer when the level a client asked for (acr_values) cannot be reached. */
const unmetLevel: InteractionResults = {
  error: 'unmet_authentication_requirements',
  error_description: 'The requested authentication level could not be reached',
};

const UidParams = {
  type: 'object',
  properties: { uid: { type: 'string', minLength: 1, maxLength: 100 } },
  required: ['uid'],
} as const;

/**
 * The pages oidc-provider sends people to during an authorization request: sign-in (password, then a second
 * factor when the account has one) and consent. Plain HTML forms; the same account and MFA services as the
 * JSON API, so there is one way to sign in. An existing Gatehouse session is reused (single sign-on) unless
 * the client asked for a fresh login.
 */
export function registerInteractions(app: FastifyInstance, options: InteractionOptions): void {
  const { accounts, mfa, productName } = options;
  const m = options.messages ?? en;
  const loginForm = async (uid: string, email: string, error?: string) =>
    `<h1>${escapeHtml(m.signIn.title)}</h1>${error ?? ''}${passwordForm(m, {
      action: `/oauth2/interaction/${uid}/login`,
      email,
      error,
    })}${providerButtons(m, options.signInProviders ? await options.signInProviders() : [], `/oauth2/interaction/${uid}`)}`;
  const mfaForm = (
    uid: string,
    choices: SecondFactorChoices,
    error?: string,
    step: 'mfa' | 'step-up' = 'mfa',
    csrfToken?: string,
  ) =>
    secondFactorForm(m, {
      action: `/oauth2/interaction/${uid}/${step}`,
      sendAction: `/oauth2/interaction/${uid}/${step}/send`,
      challengeUrl: `/api/v1/auth/${step}/challenge`,
      choices,
      error,
      csrfToken,
      ...(step === 'step-up' ? { intro: m.code.stepUpIntro } : {}),
    });

  /**
   * The factors that can lift a session to `required`: an authenticator app or a backup code reach level 2, a
   * passkey level 3. (E-mail and SMS codes are not offered for step-up here.)
   */
  const stepUpChoices = async (
    userId: string,
    required: number | undefined,
  ): Promise<SecondFactorChoices> => {
    const level = required ?? 2;
    const methods = (await mfa.listMethods(userId)).filter(
      (method) =>
        method.status === 'active' && (method.type === 'webauthn' || (method.type === 'totp' && level <= 2)),
    );
    return { methods, backupCodes: level <= 2 };
  };

  /** The sign-in waiting for its second factor is gone (expired or spent): back to the password form. */
  const signInAgain = async (reply: FastifyReply, uid: string, error: unknown, targets: string[]) =>
    page(
      reply,
      productName,
      { title: m.signIn.title, body: await loginForm(uid, '', failureMessage(error)) },
      401,
      targets,
    );

  /** Redirect targets the forms' redirect chains may end at: the client's registered redirect URI. */
  const formTargets = (redirectUri: unknown) => {
    try {
      return typeof redirectUri === 'string' ? [new URL(redirectUri).origin] : [];
    } catch {
      return [];
    }
  };

  async function details(request: FastifyRequest, reply: FastifyReply) {
    const provider = await options.provider();
    const interaction = await provider.interactionDetails(request.raw, reply.raw);
    if (interaction.uid !== (request.params as { uid: string }).uid) throw new Error('interaction mismatch');
    return { provider, interaction };
  }

  /**
   * Hands a result back to the engine. A sign-in replaces whatever was submitted before; consent keeps the
   * sign-in submitted earlier in the same authorization, or a client that asked for prompt=login would be
   * sent to sign in again after consenting.
   */
  async function finish(
    request: FastifyRequest,
    reply: FastifyReply,
    provider: Provider,
    result: InteractionResults,
  ) {
    const redirectTo = await provider.interactionResult(request.raw, reply.raw, result, {
      mergeWithLastSubmission: result.consent !== undefined && result.login === undefined,
    });
    return reply.redirect(redirectTo, 303);
  }

  /** What the engine records about a sign-in: who, how (amr, acr) and when. */
  const loginFor = (
    accountId: string,
    proof: { amr: readonly string[]; acr: string },
    authTimeMs: number,
  ) => ({
    login: { accountId, amr: [...proof.amr], acr: proof.acr, ts: Math.floor(authTimeMs / 1000) },
  });

  async function grantConsent(
    provider: Provider,
    interaction: Awaited<ReturnType<Provider['interactionDetails']>>,
  ) {
    const { prompt, params, session } = interaction;
    const grant = interaction.grantId
      ? await provider.Grant.find(interaction.grantId)
      : new provider.Grant({ accountId: session?.accountId, clientId: params.client_id as string });
    if (!grant) throw new Error('grant not found');
    const missing = prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    // A token for an organization only for its members (checked again whenever one is issued).
    for (const indicator of Object.keys(missing.missingResourceScopes ?? {})) {
      const organization = organizationFromIndicator(indicator);
      if (
        organization !== undefined &&
        !(session?.accountId && (await options.isOrganizationMember(organization, session.accountId)))
      ) {
        return {
          error: 'access_denied',
          error_description: 'The user is not a member of that organization',
        };
      }
    }
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    return { consent: { grantId: await grant.save() } };
  }

  app.get(
    '/oauth2/interaction/:uid',
    { schema: { params: UidParams, hide: true } },
    async (request, reply) => {
      const { provider, interaction } = await details(request, reply);
      const targets = formTargets(interaction.params.redirect_uri);
      if (interaction.prompt.name === 'login') {
        const session = request.session;
        // A sign-in finished during this interaction (through an upstream provider, which comes back here) is
        // as fresh as the client can ask for.
        const signedInSince = session !== undefined && options.signedInForThis?.(request) === true;
        const freshLoginRequested =
          !signedInSince &&
          interaction.prompt.reasons.some((reason) => reason !== 'no_session' && reason !== 'acr_values');
        if (session && !session.restriction && !freshLoginRequested) {
          const required = requiredAcr(interaction.params.acr_values);
          if (meetsAcr(session.acr, required)) {
            return finish(request, reply, provider, loginFor(session.userId, session, session.authTime));
          }
          const choices = await stepUpChoices(session.userId, required);
          if (choices.methods.length > 0) {
            return page(
              reply,
              productName,
              {
                title: m.code.title,
                body: mfaForm(interaction.uid, choices, undefined, 'step-up', options.csrfToken(session.id)),
              },
              200,
              targets,
            );
          }
          return finish(request, reply, provider, unmetLevel);
        }
        const hint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : '';
        return page(
          reply,
          productName,
          { title: m.signIn.title, body: await loginForm(interaction.uid, hint) },
          200,
          targets,
        );
      }
      const clientId = interaction.params.client_id as string;
      if (await options.isFirstParty(clientId)) {
        return finish(request, reply, provider, await grantConsent(provider, interaction));
      }
      const client = await provider.Client.find(clientId);
      const scopes = String(interaction.params.scope ?? '')
        .split(' ')
        .filter(Boolean);
      const list = scopes
        .map((scope) => {
          const label = (m.consent as Readonly<Record<string, string>>)[`scope_${scope}`];
          return `<li>${escapeHtml(label ?? scope)}</li>`;
        })
        .join('');
      const uid = escapeHtml(interaction.uid);
      return page(
        reply,
        productName,
        {
          title: m.consent.title,
          body: `<h1>${escapeHtml(format(m.consent.wants, { client: client?.clientName ?? clientId }))}</h1><ul>${list}</ul>
<form method="post" action="/oauth2/interaction/${uid}/confirm"><button type="submit">${escapeHtml(m.consent.allow)}</button></form>
<form method="post" action="/oauth2/interaction/${uid}/abort"><button type="submit" class="secondary">${escapeHtml(m.consent.deny)}</button></form>`,
        },
        200,
        targets,
      );
    },
  );

  const formBody = {
    type: 'object',
    properties: {
      email: { type: 'string', maxLength: 254 },
      password: { type: 'string', maxLength: 4096 },
      ...factorFieldsSchema,
    },
  } as const;

  app.post(
    '/oauth2/interaction/:uid/login',
    { schema: { params: UidParams, body: formBody, hide: true } },
    async (request, reply) => {
      const { provider, interaction } = await details(request, reply);
      const targets = formTargets(interaction.params.redirect_uri);
      const body = request.body as { email?: string; password?: string };
      const email = body.email ?? '';
      let result: Awaited<ReturnType<AccountService['login']>>;
      try {
        result = await accounts.login({ email, password: body.password ?? '' }, requestContext(request));
      } catch (error) {
        const status = isGatehouseError(error) ? error.status : 500;
        return page(
          reply,
          productName,
          { title: m.signIn.title, body: await loginForm(interaction.uid, email, failureMessage(error)) },
          status,
          targets,
        );
      }
      if (result.status === 'mfa_required') {
        setHostCookie(reply, options.pendingCookie, result.pendingToken, result.expiresAt);
        return page(
          reply,
          productName,
          { title: m.code.title, body: mfaForm(interaction.uid, result) },
          200,
          targets,
        );
      }
      return signedIn(request, reply, provider, result, targets, interaction.uid);
    },
  );

  async function signedIn(
    request: FastifyRequest,
    reply: FastifyReply,
    provider: Provider,
    result: LoginResult,
    targets: string[],
    uid: string,
  ) {
    setSessionCookie(reply, options.cookie, result.token, result.expiresAt);
    if (result.status === 'mfa_enrollment_required') {
      return page(
        reply,
        productName,
        {
          title: m.code.enrolTitle,
          body: `<h1>${escapeHtml(m.code.enrolTitle)}</h1><p>${escapeHtml(m.code.enrol)}</p><p><a href="/oauth2/interaction/${escapeHtml(uid)}">${escapeHtml(m.code.tryAgain)}</a></p>`,
        },
        403,
        targets,
      );
    }
    const { interaction } = await details(request, reply);
    if (!meetsAcr(result.authentication.acr, requiredAcr(interaction.params.acr_values))) {
      return finish(request, reply, provider, unmetLevel);
    }
    return finish(request, reply, provider, loginFor(result.user.id, result.authentication, options.now()));
  }

  app.post(
    '/oauth2/interaction/:uid/step-up',
    { schema: { params: UidParams, body: formBody, hide: true } },
    async (request, reply) => {
      const { provider, interaction } = await details(request, reply);
      const targets = formTargets(interaction.params.redirect_uri);
      const session = request.session;
      if (!session) return reply.redirect(`/oauth2/interaction/${interaction.uid}`, 303);
      const proof = proofFrom(request.body as FactorFields);
      try {
        const proven = await mfa.stepUp(session, proof, requestContext(request));
        if (!meetsAcr(proven.acr, requiredAcr(interaction.params.acr_values))) {
          return await finish(request, reply, provider, unmetLevel);
        }
        return await finish(request, reply, provider, loginFor(session.userId, proven, proven.authTime));
      } catch (error) {
        const status = isGatehouseError(error) ? error.status : 500;
        return page(
          reply,
          productName,
          {
            title: m.code.title,
            body: mfaForm(
              interaction.uid,
              {
                ...(await stepUpChoices(session.userId, requiredAcr(interaction.params.acr_values))),
                ...sentAgain(proof),
              },
              failureMessage(error),
              'step-up',
              options.csrfToken(session.id),
            ),
          },
          status,
          targets,
        );
      }
    },
  );

  app.post(
    '/oauth2/interaction/:uid/mfa',
    { schema: { params: UidParams, body: formBody, hide: true } },
    async (request, reply) => {
      const { provider, interaction } = await details(request, reply);
      const targets = formTargets(interaction.params.redirect_uri);
      const pendingToken = request.cookies[options.pendingCookie.name];
      const proof = proofFrom(request.body as FactorFields);
      try {
        const { login } = await mfa.verifyPending(pendingToken, proof, requestContext(request));
        reply.clearCookie(options.pendingCookie.name, { path: '/' });
        return await signedIn(request, reply, provider, login, targets, interaction.uid);
      } catch (error) {
        if (isGatehouseError(error) && error.code === 'mfa_pending_invalid') {
          return signInAgain(reply, interaction.uid, error, targets);
        }
        const status = isGatehouseError(error) ? error.status : 500;
        const choices = await mfa.pendingMethods(pendingToken).catch(() => undefined);
        return page(
          reply,
          productName,
          {
            title: m.code.title,
            body: mfaForm(
              interaction.uid,
              { ...noChoices, ...choices, ...sentAgain(proof) },
              failureMessage(error),
            ),
          },
          status,
          targets,
        );
      }
    },
  );

  app.post(
    '/oauth2/interaction/:uid/mfa/send',
    { schema: { params: UidParams, body: formBody, hide: true } },
    async (request, reply) => {
      const { interaction } = await details(request, reply);
      const targets = formTargets(interaction.params.redirect_uri);
      const pendingToken = request.cookies[options.pendingCookie.name];
      const methodId = (request.body as FactorFields).methodId;
      let choices: SecondFactorChoices;
      let error: string | undefined;
      let status = 200;
      try {
        choices = await mfa.pendingMethods(pendingToken);
        const sent = await mfa.challengePending(pendingToken, { methodId }, requestContext(request));
        if (sent.type === 'email' || sent.type === 'sms') {
          choices = {
            ...choices,
            sent: { type: sent.type, methodId: sent.methodId, ...(sent.sentTo ? { to: sent.sentTo } : {}) },
          };
        }
      } catch (sendError) {
        if (isGatehouseError(sendError) && sendError.code === 'mfa_pending_invalid') {
          return signInAgain(reply, interaction.uid, sendError, targets);
        }
        choices = (await mfa.pendingMethods(pendingToken).catch(() => undefined)) ?? noChoices;
        error = failureMessage(sendError);
        status = isGatehouseError(sendError) ? sendError.status : 500;
      }
      return page(
        reply,
        productName,
        { title: m.code.title, body: mfaForm(interaction.uid, choices, error) },
        status,
        targets,
      );
    },
  );

  app.post(
    '/oauth2/interaction/:uid/confirm',
    { schema: { params: UidParams, hide: true } },
    async (request, reply) => {
      const { provider, interaction } = await details(request, reply);
      if (interaction.prompt.name !== 'consent')
        return reply.redirect(`/oauth2/interaction/${interaction.uid}`, 303);
      return finish(request, reply, provider, await grantConsent(provider, interaction));
    },
  );

  app.post(
    '/oauth2/interaction/:uid/abort',
    { schema: { params: UidParams, hide: true } },
    async (request, reply) => {
      const { provider } = await details(request, reply);
      return finish(request, reply, provider, {
        error: 'access_denied',
        error_description: 'The user denied access',
      });
    },
  );
}
