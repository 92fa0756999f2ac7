import { LRUCache } from 'lru-cache';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Clock } from '../../platform/clock.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import {
  consumeModel,
  deleteExpiredModels,
  destroyGrant,
  destroyModel,
  findClient,
  findModel,
  type OidcModelRow,
  upsertModel,
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

function toPayload(row: OidcModelRow | undefined): AdapterPayload | undefined {
  if (!row) return undefined;
  const payload = JSON.parse(row.payload) as AdapterPayload;
  return row.consumed_at === null ? payload : { ...payload, consumed: Math.floor(row.consumed_at / 1000) };
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
 * oidc-provider's storage over our Kysely layer, on SQLite and PostgreSQL alike. Every artefact is one row
 * (kind, id); grant ids index what a revocation must remove together. Clients come from `oauth_clients`.
 */
export function createOidcAdapter(database: DatabaseHandle, clock: Clock, clientCache: ClientCache) {
  return class KyselyAdapter implements Adapter {
    constructor(private readonly kind: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      await upsertModel(database.db, {
        kind: this.kind,
        id,
        payload: JSON.stringify(payload),
        grant_id: payload.grantId ?? null,
        uid: payload.uid ?? null,
        user_code: payload.userCode ?? null,
        expires_at: expiresIn ? clock.now() + expiresIn * 1000 : null,
        consumed_at: null,
      });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.kind === 'Client') return clientCache.get(id);
      const row = await findModel(database.db, this.kind, { id });
      if (row?.expires_at != null && row.expires_at <= clock.now()) return undefined;
      return toPayload(row);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const row = await findModel(database.db, this.kind, { uid });
      if (row?.expires_at != null && row.expires_at <= clock.now()) return undefined;
      return toPayload(row);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const row = await findModel(database.db, this.kind, { userCode });
      if (row?.expires_at != null && row.expires_at <= clock.now()) return undefined;
      return toPayload(row);
    }

    async consume(id: string): Promise<void> {
      await consumeModel(database.db, this.kind, id, clock.now());
    }

    async destroy(id: string): Promise<void> {
      await destroyModel(database.db, this.kind, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await destroyGrant(database.db, grantId);
    }
  };
}

/** Housekeeping: codes, tokens, sessions and interactions past their expiry. */
export function deleteExpiredArtefacts(database: DatabaseHandle, clock: Clock): Promise<number> {
  return deleteExpiredModels(database.db, clock.now());
}
