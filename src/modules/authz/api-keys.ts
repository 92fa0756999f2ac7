import { randomBytes } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import { constantTimeEqual, deriveKey, keyedHash, randomToken } from '../../platform/crypto/tokens.js';
import type { DatabaseHandle, Transaction } from '../../platform/db/connection.js';
import type { Tables } from '../../platform/db/tables.js';
import { GatehouseError } from '../../platform/errors.js';
import { changeWithRecord, type EventRecorder, type SecurityEvent } from '../../platform/events.js';
import type { Tripwire } from '../security/decoys.js';
import type { RequestContext } from '../sessions/service.js';
import { AuthzErrors } from './errors.js';
import { AuthzEvents } from './events.js';
import {
  type ApiKeyRow,
  findApiKey,
  insertApiKey,
  type KeyPrincipalType,
  listApiKeys,
  missingPermissions,
  revokeApiKey,
  rotateApiKeySecret,
  touchApiKey,
} from './queries.js';

/** `gh_<16 hex id>_<43 base64url characters: 256 bits>`. */
const KEY_PATTERN = /^gh_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** Last-used time and address are written at most this often per key (not on every request). */
const TOUCH_INTERVAL_MS = 60_000;

export interface KeyPrincipal {
  readonly type: KeyPrincipalType;
  readonly id: string;
}

export interface ApiKeyView {
  readonly id: string;
  /** The key's public part, to recognise it in lists and logs: `gh_<id>`. */
  readonly prefix: string;
  readonly name: string;
  readonly principal: KeyPrincipal;
  readonly scopes: string[];
  readonly expiresAt: string | null;
  readonly lastUsedAt: string | null;
  readonly lastUsedIp: string | null;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

export interface AuthenticatedKey {
  readonly keyId: string;
  readonly principal: KeyPrincipal;
  readonly scopes: readonly string[];
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function view(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    prefix: `gh_${row.id}`,
    name: row.name,
    principal: { type: row.principal_type, id: row.principal_id },
    scopes: JSON.parse(row.scopes) as string[],
    expiresAt: iso(row.expires_at),
    lastUsedAt: iso(row.last_used_at),
    lastUsedIp: row.last_used_ip,
    createdAt: iso(row.created_at)!,
    revokedAt: iso(row.revoked_at),
  };
}

/**
 * API keys for users and service accounts. Shown once; Gatehouse keeps a keyed SHA-256 of the secret (256
 * random bits need no slow hash, and a slow one would cap every keyed request). A key may be limited to some
 * permissions (its scopes) and never exceeds what its principal holds. Rotation keeps the old secret working
 * for an overlap so deployments can switch without downtime.
 */
export function createApiKeyService(deps: {
  database: DatabaseHandle;
  clock: Clock;
  secretKey: Buffer;
  events: EventRecorder;
  /** Honeytokens: a decoy key presented (with any secret) raises the alarm. */
  tripwire?: Tripwire | undefined;
}) {
  const { database, clock } = deps;
  const hashKey = deriveKey(deps.secretKey, 'api-key');
  const hash = (secret: string) => keyedHash(hashKey, secret);
  const touched = new Map<string, number>();

  const eventOf = (
    name: string,
    row: Pick<ApiKeyRow, 'id' | 'principal_type' | 'principal_id'>,
    context: RequestContext & { actorUserId?: string | undefined },
    outcome: 'success' | 'failure' = 'success',
  ): SecurityEvent => ({
    name,
    severity: outcome === 'failure' ? 'medium' : 'low',
    outcome,
    actorUserId: context.actorUserId,
    targetUserId: row.principal_type === 'user' ? row.principal_id : undefined,
    target: { type: 'api_key', id: row.id },
    ip: context.ip,
    userAgent: context.userAgent,
    requestId: context.requestId,
    details: { keyId: row.id, principalType: row.principal_type, principalId: row.principal_id },
  });

  /** Issuing, rotating and revoking commit together with their audit record, or not at all. */
  async function changeAudited(
    event: SecurityEvent,
    work: (trx: Transaction<Tables>) => Promise<unknown>,
  ): Promise<void> {
    await changeWithRecord(database, deps.events, event, work);
  }

  async function requireKey(id: string, owner?: KeyPrincipal): Promise<ApiKeyRow> {
    const row = await findApiKey(database.db, id);
    // Someone else's key is "not found" to the caller: its existence is not theirs to learn.
    if (!row || (owner && (row.principal_type !== owner.type || row.principal_id !== owner.id))) {
      throw new GatehouseError(AuthzErrors.api_key_not_found);
    }
    return row;
  }

  return {
    async create(
      principal: KeyPrincipal,
      input: { name: string; scopes?: readonly string[] | undefined; expiresInDays?: number | undefined },
      context: RequestContext & { actorUserId?: string | undefined },
    ): Promise<{ key: ApiKeyView; token: string }> {
      const scopes = [...new Set(input.scopes ?? [])];
      const missing = await missingPermissions(database.db, scopes);
      if (missing.length > 0) {
        throw new GatehouseError(
          AuthzErrors.permission_unknown,
          `Unknown permissions: ${missing.join(', ')}`,
        );
      }
      const id = randomBytes(8).toString('hex');
      const secret = randomToken(32);
      const now = clock.now();
      const row: ApiKeyRow = {
        id,
        name: input.name,
        principal_type: principal.type,
        principal_id: principal.id,
        secret_hash: hash(secret),
        previous_secret_hash: null,
        previous_valid_until: null,
        scopes: JSON.stringify(scopes),
        expires_at: input.expiresInDays ? now + input.expiresInDays * 86_400_000 : null,
        last_used_at: null,
        last_used_ip: null,
        created_at: now,
        revoked_at: null,
      };
      await changeAudited(eventOf(AuthzEvents.apiKeyCreated, row, context), (trx) => insertApiKey(trx, row));
      return { key: view(row), token: `gh_${id}_${secret}` };
    },

    async list(principal: KeyPrincipal, page?: { limit: number; offset: number }): Promise<ApiKeyView[]> {
      return (await listApiKeys(database.db, principal.type, principal.id, page)).map(view);
    },

    async revoke(
      id: string,
      context: RequestContext & { actorUserId?: string | undefined },
      owner?: KeyPrincipal,
    ): Promise<void> {
      const row = await requireKey(id, owner);
      await changeAudited(eventOf(AuthzEvents.apiKeyRevoked, row, context), (trx) =>
        revokeApiKey(trx, row.id, clock.now()),
      );
    },

    /** A new secret; the old one keeps working for `overlapSeconds` (0: stops at once). */
    async rotate(
      id: string,
      overlapSeconds: number,
      context: RequestContext & { actorUserId?: string | undefined },
      owner?: KeyPrincipal,
    ): Promise<{ key: ApiKeyView; token: string }> {
      const row = await requireKey(id, owner);
      if (row.revoked_at !== null)
        throw new GatehouseError(AuthzErrors.api_key_not_found, 'The key was revoked');
      const secret = randomToken(32);
      const values = {
        secret_hash: hash(secret),
        previous_secret_hash: row.secret_hash,
        previous_valid_until: clock.now() + overlapSeconds * 1000,
      };
      await changeAudited(eventOf(AuthzEvents.apiKeyRotated, row, context), (trx) =>
        rotateApiKeySecret(trx, row.id, values),
      );
      return { key: view({ ...row, ...values }), token: `gh_${row.id}_${secret}` };
    },

    /** The key behind an `Authorization: Bearer gh_…` header, or `api_key_invalid`. */
    async authenticate(token: string, context: RequestContext): Promise<AuthenticatedKey> {
      const match = KEY_PATTERN.exec(token);
      const row = match ? await findApiKey(database.db, match[1]!) : undefined;
      // A decoy key is refused like a wrong one, whatever secret comes with it.
      const decoy = row !== undefined && deps.tripwire?.check('api_key', row.id, context) === true;
      const now = clock.now();
      const presented = match ? hash(match[2]!) : '';
      const secretMatches =
        row !== undefined &&
        (constantTimeEqual(presented, row.secret_hash) ||
          (row.previous_secret_hash !== null &&
            (row.previous_valid_until ?? 0) > now &&
            constantTimeEqual(presented, row.previous_secret_hash)));
      const usable =
        row !== undefined &&
        !decoy &&
        secretMatches &&
        row.revoked_at === null &&
        (row.expires_at === null || row.expires_at > now);
      if (!usable) {
        if (row) deps.events.record(eventOf(AuthzEvents.apiKeyRejected, row, context, 'failure'));
        throw new GatehouseError(AuthzErrors.api_key_invalid, undefined, {
          headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
        });
      }
      if (now - (touched.get(row.id) ?? 0) >= TOUCH_INTERVAL_MS) {
        touched.set(row.id, now);
        await touchApiKey(database.db, row.id, now, context.ip ?? null);
      }
      return {
        keyId: row.id,
        principal: { type: row.principal_type, id: row.principal_id },
        scopes: JSON.parse(row.scopes) as string[],
      };
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
