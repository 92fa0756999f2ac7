import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../../platform/db/tables.js';

export interface OidcModelsTable {
  kind: string;
  id: string;
  /** JSON, as oidc-provider hands it over. */
  payload: string;
  grant_id: string | null;
  /** The account an artefact belongs to (grants, sessions, user tokens); null for machine tokens. */
  account_id: string | null;
  uid: string | null;
  user_code: string | null;
  expires_at: number | null;
  consumed_at: number | null;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  status: 'active' | 'retiring' | 'retired';
  public_jwk: string;
  /** The private JWK, sealed (AES-256-GCM) and bound to the kid. */
  private_sealed: string;
  created_at: number;
  rotated_at: number | null;
  retire_after: number | null;
}

export interface OauthClientsTable {
  id: string;
  name: string;
  /** Keyed SHA-256 of the secret; null for public clients and private_key_jwt. */
  secret_hash: string | null;
  metadata: string;
  first_party: number;
  enabled: number;
  created_at: number;
  updated_at: number;
}

export interface OauthResourcesTable {
  id: string;
  /** The audience URI clients pass as `resource`. */
  identifier: string;
  name: string;
  /** JSON array of the scopes the API defines. */
  scopes: string;
  access_token_ttl_seconds: number | null;
  created_at: number;
}

declare module '../../platform/db/tables.js' {
  interface Tables {
    oauth_resources: OauthResourcesTable;
    oidc_models: OidcModelsTable;
    signing_keys: SigningKeysTable;
    oauth_clients: OauthClientsTable;
  }
}

type Db = Kysely<Tables> | Transaction<Tables>;
export type OidcModelRow = OidcModelsTable;
export type SigningKeyRow = SigningKeysTable;
export type ClientRow = OauthClientsTable;

// Artefacts ---------------------------------------------------------------------------------------------------

/**
 * Saves many artefacts in one statement. A later row for the same (kind, id) wins, as separate upserts would:
 * one INSERT may not touch a row twice, so duplicates are folded first.
 */
export async function upsertModels(db: Db, rows: readonly OidcModelRow[]): Promise<void> {
  const latest = new Map<string, OidcModelRow>();
  for (const row of rows) latest.set(`${row.kind}\u0000${row.id}`, row);
  if (latest.size === 0) return;
  await db
    .insertInto('oidc_models')
    .values([...latest.values()])
    .onConflict((conflict) =>
      conflict.columns(['kind', 'id']).doUpdateSet((eb) => ({
        payload: eb.ref('excluded.payload'),
        grant_id: eb.ref('excluded.grant_id'),
        account_id: eb.ref('excluded.account_id'),
        uid: eb.ref('excluded.uid'),
        user_code: eb.ref('excluded.user_code'),
        expires_at: eb.ref('excluded.expires_at'),
        consumed_at: eb.ref('excluded.consumed_at'),
      })),
    )
    .execute();
}

export async function findModel(
  db: Db,
  kind: string,
  where: { id: string } | { uid: string } | { userCode: string },
): Promise<OidcModelRow | undefined> {
  const query = db.selectFrom('oidc_models').selectAll().where('kind', '=', kind);
  const filtered =
    'id' in where
      ? query.where('id', '=', where.id)
      : 'uid' in where
        ? query.where('uid', '=', where.uid)
        : query.where('user_code', '=', where.userCode);
  return filtered.executeTakeFirst();
}

export async function consumeModel(db: Db, kind: string, id: string, now: number): Promise<void> {
  await db
    .updateTable('oidc_models')
    .set({ consumed_at: now })
    .where('kind', '=', kind)
    .where('id', '=', id)
    // The first use is the one that counts (the refresh grace window runs from it).
    .where('consumed_at', 'is', null)
    .execute();
}

export async function destroyModel(db: Db, kind: string, id: string): Promise<void> {
  await db.deleteFrom('oidc_models').where('kind', '=', kind).where('id', '=', id).execute();
}

export async function destroyGrant(db: Db, grantId: string): Promise<void> {
  await db.deleteFrom('oidc_models').where('grant_id', '=', grantId).execute();
}

/** The account's grants (one per app it allowed) still in force. */
export async function listAccountGrants(db: Db, accountId: string, now: number): Promise<OidcModelRow[]> {
  return db
    .selectFrom('oidc_models')
    .selectAll()
    .where('kind', '=', 'Grant')
    .where('account_id', '=', accountId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .execute();
}

/** Grants and everything issued under them (codes, access and refresh tokens). */
export async function destroyGrants(db: Db, grantIds: readonly string[]): Promise<void> {
  if (grantIds.length === 0) return;
  await db
    .deleteFrom('oidc_models')
    .where((eb) =>
      eb.or([eb('grant_id', 'in', grantIds), eb.and([eb('kind', '=', 'Grant'), eb('id', 'in', grantIds)])]),
    )
    .execute();
}

export async function deleteExpiredModels(db: Db, now: number): Promise<number> {
  const result = await db.deleteFrom('oidc_models').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}

// Signing keys ------------------------------------------------------------------------------------------------

export async function listSigningKeys(db: Db): Promise<SigningKeyRow[]> {
  return db
    .selectFrom('signing_keys')
    .selectAll()
    .where('status', '!=', 'retired')
    .orderBy('created_at', 'desc')
    .execute();
}

export async function insertSigningKeys(db: Db, rows: SigningKeyRow[]): Promise<void> {
  await db.insertInto('signing_keys').values(rows).execute();
}

export async function setKeyStatus(
  db: Db,
  kids: string[],
  values: Partial<Pick<SigningKeyRow, 'status' | 'rotated_at' | 'retire_after'>>,
): Promise<void> {
  if (kids.length === 0) return;
  await db.updateTable('signing_keys').set(values).where('kid', 'in', kids).execute();
}

// Clients -----------------------------------------------------------------------------------------------------

export async function findClient(db: Db, id: string): Promise<ClientRow | undefined> {
  return db.selectFrom('oauth_clients').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function insertClient(db: Db, row: ClientRow): Promise<void> {
  await db.insertInto('oauth_clients').values(row).execute();
}

export async function updateClient(
  db: Db,
  id: string,
  values: Partial<Omit<ClientRow, 'id' | 'created_at'>>,
): Promise<number> {
  const result = await db.updateTable('oauth_clients').set(values).where('id', '=', id).executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function listClients(db: Db): Promise<ClientRow[]> {
  return db.selectFrom('oauth_clients').selectAll().orderBy('created_at').execute();
}

export async function deleteClient(db: Db, id: string): Promise<number> {
  const result = await db.deleteFrom('oauth_clients').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows);
}

// Resources ---------------------------------------------------------------------------------------------------

export type ResourceRow = OauthResourcesTable;

export async function insertResource(db: Db, row: ResourceRow): Promise<void> {
  await db.insertInto('oauth_resources').values(row).execute();
}

export async function findResourceByIdentifier(db: Db, identifier: string): Promise<ResourceRow | undefined> {
  return db.selectFrom('oauth_resources').selectAll().where('identifier', '=', identifier).executeTakeFirst();
}

export async function listResources(db: Db): Promise<ResourceRow[]> {
  return db.selectFrom('oauth_resources').selectAll().orderBy('created_at').execute();
}

export async function deleteResource(db: Db, id: string): Promise<number> {
  const result = await db.deleteFrom('oauth_resources').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Where signing keys' private parts are sealed (bound to this table, column and key id). */
export const signingKeyField = (kid: string) => ({
  table: 'signing_keys',
  column: 'private_sealed',
  row: kid,
  legacyContext: `signing-key:${kid}`,
});
