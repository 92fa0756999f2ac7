import type { Cluster, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Clock } from '../../platform/clock.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import { createGroupCommit, type GroupCommit } from '../../platform/db/group-commit.js';
import {
  consumeModel,
  deleteExpiredModels,
  destroyGrant,
  destroyModel,
  findClient,
  findModel,
  type OidcModelRow,
  upsertModels,
} from './queries.js';

/** Client metadata as oidc-provider reads it; the secret is the keyed hash (see compareClientSecret). */
export function clientMetadata(row: {
  id: string;
  name: string;
  secret_hash: string | null;
  metadata: string;
}) {
  return {
    ...(JSON.parse(row.metadata) as Record<string, unknown>),
    client_id: row.id,
    client_name: row.name,
    ...(row.secret_hash ? { client_secret: row.secret_hash } : {}),
  };
}

/**
 * Client metadata is read on every token request; it is cached briefly in memory and dropped on every node
 * when an administrator changes the client (see ClientService), so a disabled client stops at once.
 */
export function createClientCache(database: DatabaseHandle, ttlMs = 30_000) {
  const cache = new LRUCache<string, { value: AdapterPayload | undefined }>({ max: 10_000, ttl: ttlMs });
  return {
    async get(id: string): Promise<AdapterPayload | undefined> {
      const hit = cache.get(id);
      if (hit) return hit.value;
      const client = await findClient(database.db, id);
      const value = client && client.enabled === 1 ? (clientMetadata(client) as AdapterPayload) : undefined;
      cache.set(id, { value });
      return value;
    },
    forget(id?: string): void {
      if (id === undefined) cache.clear();
      else cache.delete(id);
    },
  };
}

export type ClientCache = ReturnType<typeof createClientCache>;

/**
 * Artefacts that live minutes at most and are never listed: with Redis configured they are kept there, off the
 * database's write path. Everything else (sessions, grants, tokens) stays in the database, which is backed up.
 */
export const SHORT_LIVED_KINDS: ReadonlySet<string> = new Set([
  'Interaction',
  'AuthorizationCode',
  'PushedAuthorizationRequest',
  'DeviceCode',
  'ReplayDetection',
  'BackchannelAuthenticationRequest',
]);

export interface OidcStorageOptions {
  readonly database: DatabaseHandle;
  readonly clock: Clock;
  readonly clientCache: ClientCache;
  readonly redis?: Redis | Cluster | undefined;
  /**
   * Seconds after a refresh token is first used during which it still works (for a client that refreshed
   * twice at once); after that, presenting it again revokes everything the grant issued.
   */
  readonly refreshTokenReuseGraceSeconds: number;
}

interface Store {
  upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void>;
  find(id: string): Promise<AdapterPayload | undefined>;
  findByUid(uid: string): Promise<AdapterPayload | undefined>;
  findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

/** The database store: one row per artefact (kind, id); grant ids index what a revocation removes together. */
function sqlStore(kind: string, options: OidcStorageOptions, writes: GroupCommit<OidcModelRow>): Store {
  const { database, clock } = options;
  const graceMs = options.refreshTokenReuseGraceSeconds * 1000;
  const live = (row: OidcModelRow | undefined): AdapterPayload | undefined => {
    if (!row || (row.expires_at != null && row.expires_at <= clock.now())) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    if (row.consumed_at === null) return payload;
    if (kind === 'RefreshToken' && clock.now() - row.consumed_at < graceMs) return payload;
    return { ...payload, consumed: Math.floor(row.consumed_at / 1000) };
  };
  const pendingRow = (id: string) => writes.pending().findLast((row) => row.kind === kind && row.id === id);
  return {
    upsert: (id, payload, expiresIn) =>
      writes.add({
        kind,
        id,
        payload: JSON.stringify(payload),
        grant_id: payload.grantId ?? null,
        account_id: payload.accountId ?? null,
        uid: payload.uid ?? null,
        user_code: payload.userCode ?? null,
        expires_at: expiresIn ? clock.now() + expiresIn * 1000 : null,
        consumed_at: null,
      }),
    async find(id) {
      return live(pendingRow(id) ?? (await findModel(database.db, kind, { id })));
    },
    async findByUid(uid) {
      return live(await findModel(database.db, kind, { uid }));
    },
    async findByUserCode(userCode) {
      return live(await findModel(database.db, kind, { userCode }));
    },
    async consume(id) {
      await consumeModel(database.db, kind, id, clock.now());
    },
    async destroy(id) {
      await destroyModel(database.db, kind, id);
    },
    async revokeByGrantId(grantId) {
      await destroyGrant(database.db, grantId);
    },
  };
}

/** The Redis store for short-lived kinds: a hash per artefact, expiring with it, plus grant and user-code indexes. */
function redisStore(kind: string, redis: Redis | Cluster, clock: Clock): Store {
  const key = (id: string) => `oidc:${kind}:${id}`;
  const grantKey = (grantId: string) => `oidc:${kind}:grant:${grantId}`;
  const userCodeKey = (userCode: string) => `oidc:${kind}:user-code:${userCode}`;
  const read = async (id: string): Promise<AdapterPayload | undefined> => {
    const stored = await redis.hgetall(key(id));
    if (!stored.payload) return undefined;
    const payload = JSON.parse(stored.payload) as AdapterPayload;
    return stored.consumed ? { ...payload, consumed: Number(stored.consumed) } : payload;
  };
  return {
    async upsert(id, payload, expiresIn) {
      const ttlMs = Math.max(1, expiresIn) * 1000;
      // Not MULTI: on a Redis Cluster these keys live in different slots. Commands on one connection run in
      // the order sent, and sending them together costs one round trip.
      const sent: Promise<unknown>[] = [
        redis.del(key(id)),
        redis.hset(key(id), 'payload', JSON.stringify(payload)),
        redis.pexpire(key(id), ttlMs),
      ];
      if (payload.grantId) {
        const index = grantKey(payload.grantId);
        // The index lives as long as its longest-lived member: NX gives a new set a lifetime, GT extends it.
        sent.push(
          redis.sadd(index, key(id)),
          redis.pexpire(index, ttlMs, 'NX'),
          redis.pexpire(index, ttlMs, 'GT'),
        );
      }
      if (payload.userCode) sent.push(redis.set(userCodeKey(payload.userCode), id, 'PX', ttlMs));
      await Promise.all(sent);
    },
    find: read,
    async findByUid() {
      return undefined;
    },
    async findByUserCode(userCode) {
      const id = await redis.get(userCodeKey(userCode));
      return id ? read(id) : undefined;
    },
    async consume(id) {
      await redis.hsetnx(key(id), 'consumed', String(Math.floor(clock.now() / 1000)));
    },
    async destroy(id) {
      await redis.del(key(id));
    },
    async revokeByGrantId(grantId) {
      const members = await redis.smembers(grantKey(grantId));
      await Promise.all([...members.map((member) => redis.del(member)), redis.del(grantKey(grantId))]);
    },
  };
}

/**
 * oidc-provider's storage: our Kysely layer on SQLite and PostgreSQL alike, writes grouped into one commit per
 * event-loop turn, and Redis for the short-lived kinds when it is configured. Clients come from `oauth_clients`.
 */
export function createOidcAdapter(options: OidcStorageOptions) {
  const writes = createGroupCommit<OidcModelRow>((rows) => upsertModels(options.database.db, rows), {
    maxBatch: 500,
  });
  return class GatehouseAdapter implements Adapter {
    private readonly store: Store;

    constructor(private readonly kind: string) {
      this.store =
        options.redis && SHORT_LIVED_KINDS.has(kind)
          ? redisStore(kind, options.redis, options.clock)
          : sqlStore(kind, options, writes);
    }

    upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      return this.store.upsert(id, payload, expiresIn);
    }

    find(id: string): Promise<AdapterPayload | undefined> {
      if (this.kind === 'Client') return options.clientCache.get(id);
      return this.store.find(id);
    }

    findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.store.findByUid(uid);
    }

    findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.store.findByUserCode(userCode);
    }

    consume(id: string): Promise<void> {
      return this.store.consume(id);
    }

    destroy(id: string): Promise<void> {
      return this.store.destroy(id);
    }

    revokeByGrantId(grantId: string): Promise<void> {
      return this.store.revokeByGrantId(grantId);
    }
  };
}

/** Housekeeping: codes, tokens, sessions and interactions past their expiry (Redis expires its own). */
export function deleteExpiredArtefacts(database: DatabaseHandle, clock: Clock): Promise<number> {
  return deleteExpiredModels(database.db, clock.now());
}
