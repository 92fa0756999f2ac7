import { createLocalJWKSet, type JWK, errors as joseErrors, jwtVerify } from 'jose';
import { GatehouseError } from '../../platform/errors.js';
import { OidcErrors } from './errors.js';
import { gatehouseApi } from './provider.js';

export interface ApiCaller {
  readonly clientId: string;
  readonly scopes: readonly string[];
}

/**
 * Verifies the JWT access tokens Gatehouse issues for its own API (audience `<issuer>/api`, RFC 9068), with
 * its own published keys. The key set is kept for a minute and reloaded at once when a token names a key it
 * does not know (a rotation on another node).
 */
export function createApiTokenVerifier(deps: { issuer: string; publicJwks: () => Promise<JWK[]> }) {
  let keys: { set: ReturnType<typeof createLocalJWKSet>; loadedAt: number } | undefined;
  const load = async () => {
    keys = { set: createLocalJWKSet({ keys: await deps.publicJwks() }), loadedAt: Date.now() };
    return keys.set;
  };
  const current = () => (keys && Date.now() - keys.loadedAt < 60_000 ? keys.set : load());
  const verifyWith = async (set: ReturnType<typeof createLocalJWKSet>, token: string) =>
    jwtVerify(token, set, {
      issuer: deps.issuer,
      audience: gatehouseApi(deps.issuer),
      typ: 'at+jwt',
      algorithms: ['ES256', 'RS256', 'EdDSA'],
    });

  return {
    async verify(token: string, scope: string): Promise<ApiCaller> {
      let payload: Awaited<ReturnType<typeof verifyWith>>['payload'];
      try {
        try {
          ({ payload } = await verifyWith(await current(), token));
        } catch (error) {
          if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
          ({ payload } = await verifyWith(await load(), token));
        }
      } catch (error) {
        throw new GatehouseError(OidcErrors.api_token_invalid, undefined, {
          cause: error,
          headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
        });
      }
      const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
      if (!scopes.includes(scope)) {
        throw new GatehouseError(OidcErrors.api_token_scope, `This needs the ${scope} scope`, {
          headers: { 'www-authenticate': `Bearer error="insufficient_scope", scope="${scope}"` },
        });
      }
      return { clientId: String(payload.client_id ?? payload.sub), scopes };
    },
  };
}

export type ApiTokenVerifier = ReturnType<typeof createApiTokenVerifier>;
