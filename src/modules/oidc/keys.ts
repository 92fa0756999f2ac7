import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Clock } from '../../platform/clock.js';
import type { SealedBox } from '../../platform/crypto/sealed.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import { GatehouseError } from '../../platform/errors.js';
import type { CommittedEvent, EventRecorder } from '../../platform/events.js';
import { OidcEvents } from './events.js';
import {
  insertSigningKeys,
  listSigningKeys,
  type SigningKeyRow,
  setKeyStatus,
  signingKeyField,
} from './queries.js';

/** The algorithms Gatehouse signs with: ES256 first (compact, fast), RS256 for clients that only know it. */
export const SIGNING_ALGORITHMS = ['ES256', 'RS256'] as const;
/** Ed25519, for clients that ask for it (`oidc.enableEdDSA`). */
export const OPTIONAL_ALGORITHMS = ['EdDSA'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number] | (typeof OPTIONAL_ALGORITHMS)[number];

async function newKey(alg: string, now: number, sealedBox: SealedBox): Promise<SigningKeyRow> {
  const kid = randomBytes(12).toString('base64url');
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return {
    kid,
    alg,
    status: 'active',
    public_jwk: JSON.stringify(publicJwk),
    private_sealed: sealedBox.seal(JSON.stringify(privateJwk), signingKeyField(kid)),
    created_at: now,
    rotated_at: null,
    retire_after: null,
  };
}

/**
 * Signing keys live in the database (private parts sealed), so every node signs with the same keys. The first
 * start creates one active key per algorithm; `rotate` makes new active keys and keeps the old ones published
 * (verify-only) until every token they signed has expired.
 */
export function createSigningKeys(deps: {
  database: DatabaseHandle;
  /** Rotations commit together with their audit record. */
  events?: EventRecorder | undefined;
  clock: Clock;
  sealedBox: SealedBox;
  algorithms?: readonly SigningAlgorithm[];
}) {
  const { database, clock, sealedBox } = deps;
  const algorithms = deps.algorithms ?? SIGNING_ALGORITHMS;

  async function retireExpired(): Promise<void> {
    const now = clock.now();
    const rows = await listSigningKeys(database.db);
    const done = rows.filter(
      (row) => row.status === 'retiring' && row.retire_after !== null && row.retire_after <= now,
    );
    await setKeyStatus(
      database.db,
      done.map((row) => row.kid),
      { status: 'retired' },
    );
  }

  return {
    /** Creates the first keys when there are none (idempotent enough for concurrent first starts: see below). */
    async ensure(): Promise<void> {
      const rows = await listSigningKeys(database.db);
      const missing = algorithms.filter(
        (alg) => !rows.some((row) => row.alg === alg && row.status === 'active'),
      );
      if (missing.length === 0) return;
      const now = clock.now();
      // Two nodes starting at once may both add a key; both are valid and published, so nothing breaks.
      await insertSigningKeys(
        database.db,
        await Promise.all(missing.map((alg) => newKey(alg, now, sealedBox))),
      );
    },

    /**
     * Private JWKs for oidc-provider: active keys first (they sign), then retiring ones (verify only). Keys of an
     * algorithm switched off since (EdDSA) are left out: the engine would refuse them.
     */
    async privateJwks(): Promise<JWK[]> {
      await retireExpired();
      const rows = (await listSigningKeys(database.db)).filter((row) =>
        (algorithms as readonly string[]).includes(row.alg),
      );
      const ordered = [
        ...rows.filter((row) => row.status === 'active'),
        ...rows.filter((row) => row.status === 'retiring'),
      ];
      return ordered.map((row) => {
        try {
          return JSON.parse(sealedBox.open(row.private_sealed, signingKeyField(row.kid))) as JWK;
        } catch (error) {
          throw new GatehouseError(
            'secret_key_invalid',
            `signing key ${row.kid} cannot be decrypted: this database was set up with another secrets.key (or secrets.encryptionKeys); start with the original key`,
            { cause: error },
          );
        }
      });
    },

    /** Public JWKs that verify (active and retiring), for checking tokens Gatehouse issued to itself. */
    async publicJwks(): Promise<JWK[]> {
      await retireExpired();
      return (await listSigningKeys(database.db))
        .filter((row) => row.status !== 'retired' && (algorithms as readonly string[]).includes(row.alg))
        .map((row) => JSON.parse(row.public_jwk) as JWK);
    },

    /** The published key ids, as one comparable string: it changes exactly when the key set does. */
    async kids(): Promise<string> {
      await retireExpired();
      return (await listSigningKeys(database.db))
        .map((row) => `${row.kid}:${row.status}`)
        .sort()
        .join(',');
    },

    async list() {
      return (await listSigningKeys(database.db)).map((row) => ({
        kid: row.kid,
        alg: row.alg,
        status: row.status,
        createdAt: new Date(row.created_at).toISOString(),
        retireAfter: row.retire_after === null ? null : new Date(row.retire_after).toISOString(),
      }));
    },

    /**
     * New active keys for every algorithm; the previous ones keep verifying until `keepSeconds` from now
     * (the longest token lifetime), then leave the JWKS.
     */
    async rotate(keepSeconds: number): Promise<string[]> {
      const now = clock.now();
      const rows = await listSigningKeys(database.db);
      const fresh = await Promise.all(algorithms.map((alg) => newKey(alg, now, sealedBox)));
      let committed: CommittedEvent | undefined;
      await database.transaction(async (trx) => {
        await setKeyStatus(
          trx,
          rows.filter((row) => row.status === 'active').map((row) => row.kid),
          { status: 'retiring', rotated_at: now, retire_after: now + keepSeconds * 1000 },
        );
        await insertSigningKeys(trx, fresh);
        const event = {
          name: OidcEvents.signingKeysRotated,
          severity: 'high',
          outcome: 'success',
          target: { type: 'signing_keys', id: 'oidc' },
          details: { kids: fresh.map((row) => row.kid), keepSeconds },
        } as const;
        const recorded = await deps.events?.recordWithin(trx, event);
        committed = recorded;
      });
      committed?.afterCommit();
      return fresh.map((row) => row.kid);
    },
  };
}

export type SigningKeys = ReturnType<typeof createSigningKeys>;
