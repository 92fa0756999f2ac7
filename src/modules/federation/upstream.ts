import * as oidc from 'openid-client';
import type { Breaker } from '../../platform/outbound/breakers.js';
import { profileFrom, type ResolvedProvider, resolveProvider, type UpstreamProfile } from './presets.js';
import type { ProviderDefinition } from './settings.js';

/** A provider as the protocol code needs it: its definition (with secret) and a cache key that changes with it. */
export interface UpstreamProvider {
  readonly id: string;
  readonly version: number;
  readonly definition: ProviderDefinition;
}

/** The values a sign-in must carry from its start to its callback (kept in a sealed cookie). */
export interface FlowSecrets {
  readonly state: string;
  readonly nonce?: string | undefined;
  readonly verifier: string;
}

export interface UpstreamTokens {
  readonly accessToken: string;
  readonly refreshToken?: string | undefined;
  readonly idToken?: string | undefined;
  readonly expiresAt?: number | undefined;
  readonly scope?: string | undefined;
}

/** Why a callback failed: the provider (or the person) said no, or it could not be reached. */
export class UpstreamError extends Error {
  constructor(
    readonly kind: 'refused' | 'unavailable',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const DISCOVERY_TTL_MS = 60 * 60_000;

/** Network failures, time-outs and 5xx answers: the provider is down, not refusing. */
function isOutage(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const value = current as { name?: string; message?: string; status?: number; cause?: unknown };
    if (value.name === 'AbortError' || value.name === 'TimeoutError') return true;
    if (typeof value.status === 'number' && value.status >= 500) return true;
    if (current instanceof TypeError && /fetch failed|network/i.test(current.message)) return true;
    if (current instanceof Response) return current.status >= 500;
    current = value.cause;
  }
  return false;
}

/**
 * The relying-party side of OpenID Connect and OAuth 2.0, on openid-client (panva's certified client):
 * discovery, authorization URLs with PKCE (S256), state and nonce always, the code exchange with ID token
 * validation, and the profile from the ID token, user info or the provider's user API.
 */
export function createUpstreamClient(options: {
  readonly timeoutMs: number;
  readonly allowInsecure: boolean;
  /** Per provider: counts outages only, so a stream of forged callbacks cannot open it. */
  readonly breaker: (providerId: string) => Breaker;
  readonly now: () => number;
}) {
  const configurations = new Map<string, { key: string; at: number; config: oidc.Configuration }>();

  /** Runs a call through the provider's breaker; refusals pass through without counting as failures. */
  async function guarded<T>(provider: UpstreamProvider, call: () => Promise<T>): Promise<T> {
    let refusal: unknown;
    try {
      const result = await options.breaker(provider.id).execute(async () => {
        try {
          return { value: await call() };
        } catch (error) {
          if (isOutage(error)) throw error;
          refusal = error;
          return undefined;
        }
      });
      if (result) return result.value;
    } catch (error) {
      throw new UpstreamError('unavailable', 'the provider could not be reached', { cause: error });
    }
    throw new UpstreamError('refused', (refusal as Error)?.message ?? 'refused', { cause: refusal });
  }

  async function configuration(provider: UpstreamProvider, resolved: ResolvedProvider) {
    const key = `${provider.version}`;
    const cached = configurations.get(provider.id);
    if (cached && cached.key === key && options.now() - cached.at < DISCOVERY_TTL_MS) return cached.config;
    const { definition } = provider;
    const secret = definition.clientSecret;
    const authentication = secret ? oidc.ClientSecretPost(secret) : oidc.None();
    const execute = options.allowInsecure ? [oidc.allowInsecureRequests] : [];
    const timeout = Math.ceil(options.timeoutMs / 1000);
    let config: oidc.Configuration;
    if (resolved.protocol === 'oidc') {
      config = await oidc.discovery(
        new URL(resolved.issuer!),
        definition.clientId,
        undefined,
        authentication,
        {
          execute,
          timeout,
        },
      );
    } else {
      const authorization = resolved.endpoints.authorization!;
      config = new oidc.Configuration(
        {
          issuer: new URL(authorization).origin,
          authorization_endpoint: authorization,
          token_endpoint: resolved.endpoints.token!,
        },
        definition.clientId,
        undefined,
        authentication,
      );
      for (const option of execute) option(config);
    }
    config.timeout = timeout;
    configurations.set(provider.id, { key, at: options.now(), config });
    return config;
  }

  async function getJson(config: oidc.Configuration, accessToken: string, url: string): Promise<unknown> {
    const response = await oidc.fetchProtectedResource(
      config,
      accessToken,
      new URL(url),
      'GET',
      undefined,
      new Headers({ accept: 'application/json', 'user-agent': 'Gatehouse' }),
    );
    if (!response.ok) {
      throw Object.assign(new Error(`${new URL(url).pathname} answered ${response.status}`), {
        status: response.status,
      });
    }
    return response.json();
  }

  return {
    /** The URL to send the person to, and what the callback must find again. */
    async begin(
      provider: UpstreamProvider,
      redirectUri: string,
    ): Promise<{ url: string; secrets: FlowSecrets }> {
      const resolved = resolveProvider(provider.definition);
      const config = await guarded(provider, () => configuration(provider, resolved));
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = resolved.protocol === 'oidc' ? oidc.randomNonce() : undefined;
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        response_type: 'code',
        scope: resolved.scopes.join(' '),
        state,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        ...(nonce ? { nonce } : {}),
      });
      return { url: url.toString(), secrets: { state, nonce, verifier } };
    },

    /**
     * Checks the callback (state, issuer), exchanges the code with the PKCE verifier, validates the ID token
     * (signature, audience, nonce, expiry) and reads the profile.
     */
    async finish(
      provider: UpstreamProvider,
      callbackUrl: URL,
      secrets: FlowSecrets,
    ): Promise<{ profile: UpstreamProfile; tokens: UpstreamTokens }> {
      const resolved = resolveProvider(provider.definition);
      const config = await guarded(provider, () => configuration(provider, resolved));
      const grant = await guarded(provider, () =>
        oidc.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: secrets.verifier,
          expectedState: secrets.state,
          ...(resolved.protocol === 'oidc' ? { expectedNonce: secrets.nonce!, idTokenExpected: true } : {}),
        }),
      );
      const sources: Record<string, unknown>[] = [];
      const idClaims = grant.claims();
      if (idClaims) sources.push(idClaims as Record<string, unknown>);
      let addresses: { email: string; primary?: boolean; verified?: boolean }[] | undefined;
      if (resolved.protocol === 'oidc') {
        if (config.serverMetadata().userinfo_endpoint) {
          const info = await guarded(provider, () =>
            oidc.fetchUserInfo(config, grant.access_token, idClaims?.sub ?? oidc.skipSubjectCheck),
          );
          sources.push(info as Record<string, unknown>);
        }
      } else {
        sources.push(
          (await guarded(provider, () =>
            getJson(config, grant.access_token, resolved.endpoints.userinfo!),
          )) as Record<string, unknown>,
        );
        if (resolved.endpoints.emails) {
          const listed = await guarded(provider, () =>
            getJson(config, grant.access_token, resolved.endpoints.emails!),
          );
          if (Array.isArray(listed)) addresses = listed.filter((entry) => typeof entry?.email === 'string');
        }
      }
      let profile: UpstreamProfile;
      try {
        profile = profileFrom(provider.definition, resolved, sources, addresses);
      } catch (error) {
        throw new UpstreamError('refused', (error as Error).message, { cause: error });
      }
      const expiresIn = grant.expiresIn();
      return {
        profile,
        tokens: {
          accessToken: grant.access_token,
          refreshToken: grant.refresh_token,
          idToken: grant.id_token,
          expiresAt: expiresIn !== undefined ? options.now() + expiresIn * 1000 : undefined,
          scope: grant.scope,
        },
      };
    },

    /** Drops a provider's cached discovery (after an edit, or when a key seems to have changed). */
    forget(providerId: string): void {
      configurations.delete(providerId);
    },
  };
}

export type UpstreamClient = ReturnType<typeof createUpstreamClient>;
