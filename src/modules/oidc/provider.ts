import type { Cluster, Redis } from 'ioredis';
import type { JWK } from 'jose';
import Provider, { type Configuration, errors, interactionPolicy } from 'oidc-provider';
import type { Clock } from '../../platform/clock.js';
import { deriveKey } from '../../platform/crypto/tokens.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import type { EventRecorder } from '../../platform/events.js';
import type { Branding } from '../../platform/html.js';
import type { Logger } from '../../platform/logger.js';
import { ACR_VALUES, meetsAcr, requiredAcr } from './acr.js';
import { type ClientCache, createOidcAdapter } from './adapter.js';
import {
  ACCESS_TOKEN_TTL_METADATA,
  API_SCOPES_METADATA,
  AUTHZ_CLAIMS_METADATA,
  type AuthzClaim,
  type ClientService,
  REFRESH_TOKEN_TTL_METADATA,
} from './clients.js';
import { createEnginePages } from './engine-pages.js';
import { OidcEvents } from './events.js';
import type { ResourceService } from './resources.js';

/**
 * Gatehouse's own API as a resource server: a client registered with one of these scopes gets a JWT access
 * token for `<issuer>/api` through client_credentials (`resource=<issuer>/api`) and calls the API with it.
 */
export const GATEHOUSE_API_SCOPES = ['authz:check'] as const;
export const gatehouseApi = (issuer: string) => `${issuer}/api`;

/**
 * Tokens for one organization: a client registered with the `organization` scope asks for
 * `resource=urn:gatehouse:organization:<id or slug>` and gets a JWT access token whose audience is that
 * organization, with `org_id` and (for clients with authzClaims) the roles and permissions that hold in it.
 * Only members get one; membership is checked again each time a token is issued (refresh included).
 */
export const ORGANIZATION_SCOPE = 'organization';
export const ORGANIZATION_RESOURCE_PREFIX = 'urn:gatehouse:organization:';
export const organizationFromIndicator = (indicator: string | undefined) =>
  indicator?.startsWith(ORGANIZATION_RESOURCE_PREFIX)
    ? indicator.slice(ORGANIZATION_RESOURCE_PREFIX.length)
    : undefined;

/** Where each endpoint lives, below the issuer (discovery stays at /.well-known/openid-configuration). */
export const OIDC_ROUTES = {
  authorization: '/oauth2/authorize',
  token: '/oauth2/token',
  jwks: '/oauth2/jwks',
  userinfo: '/oauth2/userinfo',
  introspection: '/oauth2/introspect',
  revocation: '/oauth2/revoke',
  end_session: '/oauth2/logout',
  device_authorization: '/oauth2/device/auth',
  code_verification: '/oauth2/device',
  pushed_authorization_request: '/oauth2/par',
} as const;

export interface OidcAccount {
  readonly id: string;
  readonly email: string;
  readonly emailVerified: boolean;
  readonly name: string | null;
}

/** What authorization says of an account, for clients that put it in their tokens. */
export interface AuthzFacts {
  readonly roles: readonly string[];
  readonly groups: readonly string[];
  readonly permissions: readonly string[];
}

export interface OidcProviderDependencies {
  readonly issuer: string;
  readonly database: DatabaseHandle;
  readonly clock: Clock;
  readonly secretKey: Buffer;
  readonly jwks: JWK[];
  readonly clients: ClientService;
  readonly clientCache: ClientCache;
  /** Where short-lived artefacts go when configured (see SHORT_LIVED_KINDS). */
  readonly redis?: Redis | Cluster | undefined;
  readonly refreshTokenReuseGraceSeconds: number;
  readonly resources: ResourceService;
  readonly logger: Logger;
  /** Token endpoint outcomes go to the audit log. */
  readonly events?: EventRecorder | undefined;
  readonly trustProxy: boolean;
  readonly findAccount: (id: string) => Promise<OidcAccount | undefined>;
  readonly authzFacts: (accountId: string, organizationId?: string) => Promise<AuthzFacts>;
  /**
   * The risk engine's word on a refresh by a public client (a browser or phone app refreshes from the user's
   * own device, so where it comes from says something); `deny` refuses it before anything is issued.
   */
  readonly assessRefresh?: (input: {
    accountId: string;
    clientId: string;
    ip: string;
    userAgent: string | undefined;
  }) => Promise<'allow' | 'deny'>;
  /** An organization by id or slug, with whether this account is a member of it. */
  readonly organization: (
    idOrSlug: string,
    accountId: string | undefined,
  ) => Promise<{ id: string; member: boolean } | undefined>;
  readonly productName: string;
  /** How the engine's own pages (sign-out, device code) look: the same as every other page. */
  readonly branding?: Branding | (() => Branding) | undefined;
  /** RP-initiated logout confirmed: end the Gatehouse session of this browser too (its Cookie header). */
  readonly onLogout: (cookieHeader: string | undefined) => Promise<void>;
  readonly ttl: { accessTokenSeconds: number; idTokenSeconds: number; refreshTokenSeconds: number };
  /** Outgoing calls to private and loopback addresses (the engine refuses them by default). */
  readonly allowPrivateNetworkCalls: boolean;
  readonly enableEdDSA: boolean;
}

/**
 * The engine's prompts plus one: a session below the level `acr_values` asks for sends the user back to the
 * sign-in pages (which step the session up or refuse). The engine alone only enforces *essential* acr claims.
 */
function interactionPolicyWithAcr() {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(
    new interactionPolicy.Check('acr_values', 'A higher authentication level was requested', (ctx) => {
      const { session, params, result } = ctx.oidc;
      if (!session?.accountId || result?.login) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      return meetsAcr(session.acr, requiredAcr(params?.acr_values))
        ? interactionPolicy.Check.NO_NEED_TO_PROMPT
        : interactionPolicy.Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}

const clientTtl = (client: { metadata(): Record<string, unknown> }, key: string) => {
  const value = client.metadata()[key];
  return typeof value === 'number' ? value : undefined;
};

/**
 * oidc-provider, configured for OAuth 2.1: code flow with PKCE (S256) for every client, no implicit or password
 * grants, rotating refresh tokens, client credentials, introspection and revocation. Gatehouse supplies the
 * storage, keys, clients and accounts.
 */
export function createOidcProvider(deps: OidcProviderDependencies): Provider {
  const pages = createEnginePages(deps.productName, deps.branding);
  const authzClaimsFor = async (
    client: { metadata(): Record<string, unknown> } | undefined,
    accountId: string,
    organizationId?: string,
  ): Promise<Partial<Record<AuthzClaim, string[]>>> => {
    const wanted = (client?.metadata()[AUTHZ_CLAIMS_METADATA] as AuthzClaim[] | undefined) ?? [];
    if (wanted.length === 0) return {};
    const facts = await deps.authzFacts(accountId, organizationId);
    return Object.fromEntries(wanted.map((claim) => [claim, [...facts[claim]]]));
  };
  const configuration: Configuration = {
    adapter: createOidcAdapter({
      database: deps.database,
      clock: deps.clock,
      clientCache: deps.clientCache,
      redis: deps.redis,
      refreshTokenReuseGraceSeconds: deps.refreshTokenReuseGraceSeconds,
    }),
    jwks: { keys: deps.jwks as never },
    routes: OIDC_ROUTES,
    responseTypes: ['code'],
    // The levels sessions carry (MFA issue): 1 one factor, 2 two, 3 phishing-resistant.
    acrValues: [...ACR_VALUES],
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    // acr, amr and auth_time come from how the Gatehouse session was proven (see interactions.ts).
    // Listed under `openid` so every ID token carries them, not only when a client asks through `claims`.
    claims: {
      sid: null,
      // roles, groups, permissions: only for clients registered with `authzClaims` (see authzClaimsFor).
      openid: ['sub', 'acr', 'amr', 'auth_time', 'roles', 'groups', 'permissions'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    cookies: { keys: [deriveKey(deps.secretKey, 'oidc-cookies').toString('base64url')] },
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      require_auth_time: true,
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['ES256', 'RS256', ...(deps.enableEdDSA ? ['EdDSA' as const] : [])],
    },
    extraClientMetadata: {
      properties: [
        API_SCOPES_METADATA,
        ACCESS_TOKEN_TTL_METADATA,
        REFRESH_TOKEN_TTL_METADATA,
        AUTHZ_CLAIMS_METADATA,
      ],
    },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // A client may get a token for an API only for the API scopes it was registered with.
        async getResourceServerInfo(_ctx, indicator, client) {
          const allowedScopes = (client.metadata()[API_SCOPES_METADATA] as string[] | undefined) ?? [];
          const organizationRef = organizationFromIndicator(indicator);
          if (organizationRef !== undefined) {
            const organization = allowedScopes.includes(ORGANIZATION_SCOPE)
              ? await deps.organization(organizationRef, undefined)
              : undefined;
            if (!organization) throw new errors.InvalidTarget();
            return {
              scope: ORGANIZATION_SCOPE,
              audience: `${ORGANIZATION_RESOURCE_PREFIX}${organization.id}`,
              accessTokenTTL: deps.ttl.accessTokenSeconds,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'ES256' } },
            };
          }
          const resource =
            indicator === gatehouseApi(deps.issuer)
              ? { identifier: indicator, scopes: [...GATEHOUSE_API_SCOPES], accessTokenTtlSeconds: null }
              : await deps.resources.byIdentifier(indicator);
          const scopes = resource?.scopes.filter((scope) => allowedScopes.includes(scope)) ?? [];
          if (!resource || scopes.length === 0) throw new errors.InvalidTarget();
          return {
            scope: scopes.join(' '),
            audience: resource.identifier,
            accessTokenTTL: resource.accessTokenTtlSeconds ?? deps.ttl.accessTokenSeconds,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: pages.logoutSource,
        postLogoutSuccessSource: pages.postLogoutSuccessSource,
      },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: pages.userCodeInputSource as never,
        userCodeConfirmSource: pages.userCodeConfirmSource as never,
        successSource: pages.successSource,
      },
      pushedAuthorizationRequests: { enabled: true },
      dPoP: { enabled: true },
      backchannelLogout: { enabled: true },
    },
    rotateRefreshToken: true,
    ttl: {
      // A resource server's own lifetime wins for its tokens; then the client's; then the setting.
      AccessToken: (_ctx, token, client) =>
        token.resourceServer?.accessTokenTTL ??
        clientTtl(client, ACCESS_TOKEN_TTL_METADATA) ??
        deps.ttl.accessTokenSeconds,
      ClientCredentials: (_ctx, token, client) =>
        token.resourceServer?.accessTokenTTL ??
        clientTtl(client, ACCESS_TOKEN_TTL_METADATA) ??
        deps.ttl.accessTokenSeconds,
      IdToken: deps.ttl.idTokenSeconds,
      RefreshToken: (_ctx, _token, client) =>
        clientTtl(client, REFRESH_TOKEN_TTL_METADATA) ?? deps.ttl.refreshTokenSeconds,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 86_400,
      Grant: deps.ttl.refreshTokenSeconds,
    },
    interactions: {
      url: (_ctx, interaction) => `/oauth2/interaction/${interaction.uid}`,
      policy: interactionPolicyWithAcr(),
    },
    async findAccount(ctx, sub) {
      const account = await deps.findAccount(sub);
      if (!account) return undefined;
      return {
        accountId: account.id,
        async claims() {
          return {
            sub: account.id,
            email: account.email,
            email_verified: account.emailVerified,
            name: account.name ?? undefined,
            ...(await authzClaimsFor(ctx?.oidc?.client, account.id)),
          };
        },
      };
    },
    // JWT access tokens for an API carry the same facts, for the API to decide with.
    async extraTokenClaims(ctx, token) {
      const accountId = (token as { accountId?: string }).accountId;
      if (!accountId) return undefined;
      const client = ctx?.oidc?.client;
      if (
        deps.assessRefresh &&
        ctx?.oidc?.params?.grant_type === 'refresh_token' &&
        client?.clientAuthMethod === 'none'
      ) {
        const verdict = await deps.assessRefresh({
          accountId,
          clientId: client.clientId,
          ip: ctx.ip,
          userAgent: ctx.get('user-agent') || undefined,
        });
        if (verdict === 'deny') {
          // The whole grant ends: every token it issued, and the spent refresh token's grace window with it.
          const grantId = (token as { grantId?: string }).grantId;
          if (grantId) {
            const engine = ctx.oidc.provider;
            await Promise.all([
              engine.AccessToken.revokeByGrantId(grantId),
              engine.RefreshToken.revokeByGrantId(grantId),
              engine.AuthorizationCode.revokeByGrantId(grantId),
              engine.Grant.adapter.destroy(grantId),
            ]);
          }
          throw new errors.InvalidGrant('the refresh was refused as too risky; sign in again');
        }
      }
      const audience = (token as { resourceServer?: { audience?: string } }).resourceServer?.audience;
      const organizationRef = organizationFromIndicator(audience);
      if (organizationRef === undefined) return authzClaimsFor(ctx.oidc.client, accountId);
      // Membership may have ended since consent: no token for an organization one has left.
      const organization = await deps.organization(organizationRef, accountId);
      if (!organization?.member) {
        throw new errors.InvalidGrant('the user is not a member of that organization');
      }
      return {
        org_id: organization.id,
        ...(await authzClaimsFor(ctx.oidc.client, accountId, organization.id)),
      };
    },
    // The engine's dispatcher refuses special-use addresses (SSRF); dropping it allows private networks.
    // (`dispatcher` is Node's extension of fetch options; the XML libraries' DOM typings do not know it.)
    fetch: (url, options) =>
      globalThis.fetch(
        url,
        deps.allowPrivateNetworkCalls ? ({ ...options, dispatcher: undefined } as RequestInit) : options,
      ),
    renderError(ctx, out) {
      pages.renderError(ctx, out);
    },
  };
  const provider = new Provider(deps.issuer, configuration);
  provider.proxy = deps.trustProxy;
  // Stored secrets are keyed hashes: compare the hash of what the client presents, in constant time.
  provider.Client.prototype.compareClientSecret = async function compare(
    this: { clientSecret?: string },
    actual: string,
  ) {
    return this.clientSecret !== undefined && deps.clients.compareSecret(actual, this.clientSecret);
  };
  provider.on('server_error', (_ctx, error) => deps.logger.error({ err: error }, 'OpenID provider error'));
  registerTokenEvents(provider, deps.events);
  provider.on('backchannel.error', (_ctx, error, client) =>
    deps.logger.warn({ err: error, clientId: client.clientId }, 'back-channel logout could not be delivered'),
  );
  provider.on('end_session.success', (ctx) => {
    deps
      .onLogout(ctx.get('cookie') || undefined)
      .catch((error: unknown) =>
        deps.logger.error({ err: error }, 'could not end the Gatehouse session at logout'),
      );
  });
  return provider;
}

type EngineContext = {
  oidc?: {
    client?: { clientId: string };
    params?: { grant_type?: unknown; scope?: unknown };
    entities?: { Account?: { accountId?: string }; AccessToken?: { accountId?: string; scope?: string } };
  };
};

/** Token endpoint outcomes into the audit log: issued, refused, a spent refresh token presented again. */
function registerTokenEvents(provider: Provider, events: EventRecorder | undefined): void {
  if (!events) return;
  const facts = (ctx: EngineContext) => {
    const clientId = ctx.oidc?.client?.clientId;
    const accountId = ctx.oidc?.entities?.Account?.accountId ?? ctx.oidc?.entities?.AccessToken?.accountId;
    return {
      actor: clientId ? ({ type: 'client', id: clientId } as const) : undefined,
      target: accountId ? ({ type: 'user', id: accountId } as const) : undefined,
      grantType: typeof ctx.oidc?.params?.grant_type === 'string' ? ctx.oidc.params.grant_type : undefined,
    };
  };
  provider.on('grant.success', (ctx: EngineContext) => {
    const { actor, target, grantType } = facts(ctx);
    events.record({
      name: OidcEvents.tokenIssued,
      severity: 'low',
      outcome: 'success',
      actor,
      target,
      details: { grantType, scope: ctx.oidc?.entities?.AccessToken?.scope },
    });
  });
  provider.on('grant.error', (ctx: EngineContext, error: { error?: string; error_detail?: string }) => {
    const { actor, target, grantType } = facts(ctx);
    // The engine's detail (not sent to the client) says which invalid_grant this is.
    const reused = error.error === 'invalid_grant' && /already used/.test(error.error_detail ?? '');
    events.record({
      name: reused ? OidcEvents.tokenReused : OidcEvents.tokenRefused,
      severity: reused ? 'high' : 'low',
      outcome: 'failure',
      actor,
      target,
      details: { grantType, error: error.error, detail: error.error_detail },
    });
  });
  provider.on('grant.revoked', (ctx: EngineContext, grantId: string) => {
    const { actor, target } = facts(ctx);
    events.record({
      name: OidcEvents.grantRevoked,
      severity: 'medium',
      outcome: 'success',
      actor,
      target,
      details: { grantId },
    });
  });
}
