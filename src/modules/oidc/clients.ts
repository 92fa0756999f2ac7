import { randomBytes } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import { constantTimeEqual, deriveKey, keyedHash, randomToken } from '../../platform/crypto/tokens.js';
import type { DatabaseHandle, Transaction } from '../../platform/db/connection.js';
import type { Tables } from '../../platform/db/tables.js';
import { GatehouseError } from '../../platform/errors.js';
import { changeWithRecord, type EventRecorder } from '../../platform/events.js';
import type { RequestContext } from '../sessions/service.js';
import { OidcErrors } from './errors.js';
import { OidcEvents } from './events.js';
import {
  type ClientRow,
  deleteClient,
  findClient,
  insertClient,
  listClients,
  updateClient,
} from './queries.js';

export type GrantType =
  | 'authorization_code'
  | 'refresh_token'
  | 'client_credentials'
  | 'urn:ietf:params:oauth:grant-type:device_code';
export type AuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';

export interface ClientInput {
  readonly name: string;
  readonly redirectUris?: readonly string[] | undefined;
  readonly postLogoutRedirectUris?: readonly string[] | undefined;
  /** OpenID Back-Channel Logout: where Gatehouse posts a logout token when the user's session ends. */
  readonly backchannelLogoutUri?: string | undefined;
  readonly grants: readonly GrantType[];
  readonly public?: boolean | undefined;
  readonly tokenEndpointAuthMethod?: AuthMethod | undefined;
  readonly jwksUri?: string | undefined;
  readonly scopes?: readonly string[] | undefined;
  readonly firstParty?: boolean | undefined;
  /** Per-client lifetimes; the `oidc.*TtlSeconds` settings apply when absent. */
  readonly accessTokenTtlSeconds?: number | undefined;
  readonly refreshTokenTtlSeconds?: number | undefined;
  /** Authorization facts to put in this client's ID tokens, userinfo and JWT access tokens. */
  readonly authzClaims?: readonly AuthzClaim[] | undefined;
  /** How this client's ID tokens are signed (ES256 unless it says otherwise). */
  readonly idTokenSigningAlg?: 'ES256' | 'RS256' | 'EdDSA' | undefined;
}

export interface ClientView {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly firstParty: boolean;
  readonly public: boolean;
  readonly grants: string[];
  readonly redirectUris: string[];
  readonly postLogoutRedirectUris: string[];
  readonly backchannelLogoutUri: string | null;
  readonly scopes: string[];
  readonly tokenEndpointAuthMethod: string;
  readonly accessTokenTtlSeconds: number | null;
  readonly refreshTokenTtlSeconds: number | null;
  readonly idTokenSigningAlg: string;
  readonly authzClaims: string[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

export const OPENID_SCOPES = ['openid', 'email', 'profile', 'offline_access'];
/** Our own client metadata (declared to oidc-provider as extra metadata): the API scopes a client may request. */
export const API_SCOPES_METADATA = 'gatehouse_api_scopes';
export const ACCESS_TOKEN_TTL_METADATA = 'gatehouse_access_token_ttl';
export const REFRESH_TOKEN_TTL_METADATA = 'gatehouse_refresh_token_ttl';
/** Which authorization facts (roles, groups, permissions) this client's tokens carry as claims. */
export const AUTHZ_CLAIMS_METADATA = 'gatehouse_authz_claims';
export type AuthzClaim = 'roles' | 'groups' | 'permissions';

function toView(row: ClientRow): ClientView {
  const metadata = JSON.parse(row.metadata) as Record<string, unknown>;
  return {
    id: row.id,
    name: row.name,
    enabled: row.enabled === 1,
    firstParty: row.first_party === 1,
    public: metadata.token_endpoint_auth_method === 'none',
    grants: (metadata.grant_types as string[]) ?? [],
    idTokenSigningAlg: (metadata.id_token_signed_response_alg as string | undefined) ?? 'ES256',
    authzClaims: (metadata[AUTHZ_CLAIMS_METADATA] as string[] | undefined) ?? [],
    redirectUris: (metadata.redirect_uris as string[]) ?? [],
    postLogoutRedirectUris: (metadata.post_logout_redirect_uris as string[]) ?? [],
    backchannelLogoutUri: (metadata.backchannel_logout_uri as string | undefined) ?? null,
    scopes: [
      ...String(metadata.scope ?? '')
        .split(' ')
        .filter(Boolean),
      ...((metadata[API_SCOPES_METADATA] as string[] | undefined) ?? []),
    ],
    tokenEndpointAuthMethod: String(metadata.token_endpoint_auth_method),
    accessTokenTtlSeconds: (metadata[ACCESS_TOKEN_TTL_METADATA] as number | undefined) ?? null,
    refreshTokenTtlSeconds: (metadata[REFRESH_TOKEN_TTL_METADATA] as number | undefined) ?? null,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/**
 * OAuth clients. Secrets are generated here (256 bits) and stored as a keyed SHA-256: a slow password hash
 * would cap token throughput, and a 256-bit random secret needs no stretching. Shown once, at creation or
 * rotation.
 */
export function createClientService(deps: {
  database: DatabaseHandle;
  clock: Clock;
  secretKey: Buffer;
  events: EventRecorder;
  /** Called after every change, so caches of client metadata (on every node) drop the client. */
  changed: (clientId: string) => Promise<void>;
  /** Algorithms Gatehouse has keys for; a client may not ask for another. */
  signingAlgorithms?: readonly string[];
}) {
  const { database, clock } = deps;
  const secretKey = deriveKey(deps.secretKey, 'oauth-client-secret');
  const hashSecret = (secret: string) => keyedHash(secretKey, secret);

  const metadataFor = (input: ClientInput) => {
    const scopes = [...(input.scopes ?? ['openid', 'email', 'profile', 'offline_access'])];
    const authMethod: AuthMethod = input.public
      ? 'none'
      : (input.tokenEndpointAuthMethod ?? 'client_secret_basic');
    if (input.public && input.grants.includes('client_credentials')) {
      throw new GatehouseError(OidcErrors.client_invalid, 'A public client cannot use client_credentials');
    }
    if (input.grants.includes('authorization_code') && (input.redirectUris ?? []).length === 0) {
      throw new GatehouseError(
        OidcErrors.client_invalid,
        'authorization_code needs at least one redirect URI',
      );
    }
    if (
      input.idTokenSigningAlg &&
      !(deps.signingAlgorithms ?? ['ES256', 'RS256']).includes(input.idTokenSigningAlg)
    ) {
      throw new GatehouseError(
        OidcErrors.client_invalid,
        `Gatehouse does not sign with ${input.idTokenSigningAlg} (EdDSA needs oidc.enableEdDSA)`,
      );
    }
    if (authMethod === 'private_key_jwt' && !input.jwksUri) {
      throw new GatehouseError(OidcErrors.client_invalid, 'private_key_jwt needs a jwksUri');
    }
    return {
      grant_types: [...input.grants],
      response_types: input.grants.includes('authorization_code') ? ['code'] : [],
      redirect_uris: [...(input.redirectUris ?? [])],
      post_logout_redirect_uris: [...(input.postLogoutRedirectUris ?? [])],
      token_endpoint_auth_method: authMethod,
      ...(input.jwksUri ? { jwks_uri: input.jwksUri } : {}),
      ...(input.backchannelLogoutUri
        ? { backchannel_logout_uri: input.backchannelLogoutUri, backchannel_logout_session_required: true }
        : {}),
      // OpenID scopes go to oidc-provider; API scopes decide which resources' tokens the client may get.
      ...(scopes.some((scope) => OPENID_SCOPES.includes(scope))
        ? { scope: scopes.filter((scope) => OPENID_SCOPES.includes(scope)).join(' ') }
        : {}),
      [API_SCOPES_METADATA]: scopes.filter((scope) => !OPENID_SCOPES.includes(scope)),
      ...(input.idTokenSigningAlg ? { id_token_signed_response_alg: input.idTokenSigningAlg } : {}),
      ...(input.authzClaims?.length ? { [AUTHZ_CLAIMS_METADATA]: [...input.authzClaims] } : {}),
      ...(input.accessTokenTtlSeconds ? { [ACCESS_TOKEN_TTL_METADATA]: input.accessTokenTtlSeconds } : {}),
      ...(input.refreshTokenTtlSeconds ? { [REFRESH_TOKEN_TTL_METADATA]: input.refreshTokenTtlSeconds } : {}),
    };
  };

  /**
   * An administrative change and its audit record, in one transaction: both commit or neither does (if the
   * audit log cannot take the record, the change is refused with `audit_unavailable`).
   */
  async function changeAudited<T>(
    name: string,
    clientId: string,
    context: RequestContext & { actorUserId?: string | undefined },
    details: Record<string, unknown>,
    work: (trx: Transaction<Tables>) => Promise<T>,
  ): Promise<T> {
    return changeWithRecord(
      database,
      deps.events,
      {
        name,
        severity: 'medium',
        outcome: 'success',
        actorUserId: context.actorUserId,
        target: { type: 'client', id: clientId },
        ip: context.ip,
        requestId: context.requestId,
        details: { clientId, ...details },
      },
      work,
    );
  }

  async function requireClient(id: string): Promise<ClientRow> {
    const row = await findClient(database.db, id);
    if (!row) throw new GatehouseError(OidcErrors.client_not_found);
    return row;
  }

  return {
    hashSecret,

    /** oidc-provider compares the presented secret with the stored value: compare their keyed hashes instead. */
    compareSecret(presented: string, stored: string): boolean {
      return constantTimeEqual(hashSecret(presented), stored);
    },

    async create(input: ClientInput, context: RequestContext & { actorUserId?: string | undefined }) {
      const metadata = metadataFor(input);
      const needsSecret = metadata.token_endpoint_auth_method.startsWith('client_secret');
      const secret = needsSecret ? randomToken(32) : undefined;
      const now = clock.now();
      const row: ClientRow = {
        id: `gh_${randomBytes(12).toString('base64url')}`,
        name: input.name,
        secret_hash: secret ? hashSecret(secret) : null,
        metadata: JSON.stringify(metadata),
        first_party: input.firstParty ? 1 : 0,
        enabled: 1,
        created_at: now,
        updated_at: now,
      };
      await changeAudited(
        OidcEvents.clientCreated,
        row.id,
        context,
        { grants: metadata.grant_types },
        (trx) => insertClient(trx, row),
      );
      // A lookup before creation may have cached "no such client".
      await deps.changed(row.id);
      return { client: toView(row), ...(secret ? { secret } : {}) };
    },

    async get(id: string): Promise<ClientView> {
      return toView(await requireClient(id));
    },

    async list(): Promise<ClientView[]> {
      return (await listClients(database.db)).map(toView);
    },

    async setEnabled(
      id: string,
      enabled: boolean,
      context: RequestContext & { actorUserId?: string | undefined },
    ) {
      await requireClient(id);
      await changeAudited(
        enabled ? OidcEvents.clientEnabled : OidcEvents.clientDisabled,
        id,
        context,
        {},
        (trx) => updateClient(trx, id, { enabled: enabled ? 1 : 0, updated_at: clock.now() }),
      );
      await deps.changed(id);
      return toView(await requireClient(id));
    },

    /** Changes a client's name and redirect URIs (its grants and authentication stay as registered). */
    async update(
      id: string,
      change: {
        name?: string | undefined;
        redirectUris?: readonly string[] | undefined;
        postLogoutRedirectUris?: readonly string[] | undefined;
      },
      context: RequestContext & { actorUserId?: string | undefined },
    ) {
      const row = await requireClient(id);
      const metadata = JSON.parse(row.metadata) as Record<string, unknown>;
      const grants = (metadata.grant_types as string[] | undefined) ?? [];
      if (change.redirectUris && grants.includes('authorization_code') && change.redirectUris.length === 0) {
        throw new GatehouseError(
          OidcErrors.client_invalid,
          'authorization_code needs at least one redirect URI',
        );
      }
      if (change.redirectUris) metadata.redirect_uris = [...change.redirectUris];
      if (change.postLogoutRedirectUris)
        metadata.post_logout_redirect_uris = [...change.postLogoutRedirectUris];
      await changeAudited(
        OidcEvents.clientUpdated,
        id,
        context,
        { fields: Object.keys(change).filter((key) => change[key as keyof typeof change] !== undefined) },
        (trx) =>
          updateClient(trx, id, {
            ...(change.name ? { name: change.name } : {}),
            metadata: JSON.stringify(metadata),
            updated_at: clock.now(),
          }),
      );
      await deps.changed(id);
      return toView(await requireClient(id));
    },

    async rotateSecret(id: string, context: RequestContext & { actorUserId?: string | undefined }) {
      const row = await requireClient(id);
      if (!row.secret_hash) throw new GatehouseError(OidcErrors.client_invalid, 'This client has no secret');
      const secret = randomToken(32);
      await changeAudited(OidcEvents.clientSecretRotated, id, context, {}, (trx) =>
        updateClient(trx, id, { secret_hash: hashSecret(secret), updated_at: clock.now() }),
      );
      await deps.changed(id);
      return { client: toView(await requireClient(id)), secret };
    },

    async remove(id: string, context: RequestContext & { actorUserId?: string | undefined }) {
      await changeAudited(OidcEvents.clientDeleted, id, context, {}, async (trx) => {
        // Thrown inside the transaction: nothing is recorded for a client that was not there.
        if ((await deleteClient(trx, id)) === 0) throw new GatehouseError(OidcErrors.client_not_found);
      });
      await deps.changed(id);
    },
  };
}

export type ClientService = ReturnType<typeof createClientService>;
