import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../../platform/db/tables.js';

export interface IdentityProvidersTable {
  id: string;
  slug: string;
  /** `oidc` | `oauth2` | `saml`. */
  kind: string;
  preset: string;
  name: string;
  organization_id: string | null;
  /** JSON: the definition without its secret and switches. */
  settings: string;
  /** Sealed by the keyring: the client secret. */
  secret: string | null;
  /** JSON attribute mapping. */
  mapping: string;
  auto_link: number;
  allow_signup: number;
  keep_tokens: number;
  enabled: number;
  created_at: number;
  updated_at: number;
}

export interface FederatedIdentitiesTable {
  id: string;
  user_id: string;
  provider_id: string;
  subject: string;
  email: string | null;
  email_verified: number;
  display_name: string | null;
  /** Sealed by the keyring: the upstream tokens, when the provider keeps them. */
  tokens: string | null;
  /** JSON array of role names the provider's group mapping gave. */
  granted_roles: string;
  created_at: number;
  last_used_at: number | null;
}

export interface FederationSingleUseTable {
  key: string;
  expires_at: number;
}

declare module '../../platform/db/tables.js' {
  interface Tables {
    identity_providers: IdentityProvidersTable;
    federated_identities: FederatedIdentitiesTable;
    federation_single_use: FederationSingleUseTable;
  }
}

type Db = Kysely<Tables> | Transaction<Tables>;

/** Where sealed values live (bound into their ciphertext). */
export const tokensField = (identityId: string) => ({
  table: 'federated_identities',
  column: 'tokens',
  row: identityId,
});
export const providerSecretField = (providerId: string) => ({
  table: 'identity_providers',
  column: 'secret',
  row: providerId,
});
export type ProviderRow = IdentityProvidersTable;
export type IdentityRow = FederatedIdentitiesTable;

export async function insertProvider(db: Db, row: ProviderRow): Promise<void> {
  await db.insertInto('identity_providers').values(row).execute();
}

export async function listProviderRows(db: Db): Promise<ProviderRow[]> {
  return db.selectFrom('identity_providers').selectAll().orderBy('created_at').execute();
}

export async function findProviderRow(db: Db, idOrSlug: string): Promise<ProviderRow | undefined> {
  return db
    .selectFrom('identity_providers')
    .selectAll()
    .where((where) => where.or([where('id', '=', idOrSlug), where('slug', '=', idOrSlug)]))
    .executeTakeFirst();
}

export async function updateProviderRow(
  db: Db,
  id: string,
  change: Partial<Omit<ProviderRow, 'id' | 'created_at'>>,
): Promise<ProviderRow | undefined> {
  return db
    .updateTable('identity_providers')
    .set(change)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/** Removes a provider and every link to it (its people keep their accounts). */
export async function deleteProviderRow(db: Db, id: string): Promise<number> {
  const unlinked = await db
    .deleteFrom('federated_identities')
    .where('provider_id', '=', id)
    .executeTakeFirst();
  await db.deleteFrom('identity_providers').where('id', '=', id).execute();
  return Number(unlinked.numDeletedRows);
}

export async function findIdentity(
  db: Db,
  providerId: string,
  subject: string,
): Promise<IdentityRow | undefined> {
  return db
    .selectFrom('federated_identities')
    .selectAll()
    .where('provider_id', '=', providerId)
    .where('subject', '=', subject)
    .executeTakeFirst();
}

export async function identitiesOf(db: Db, userId: string): Promise<IdentityRow[]> {
  return db
    .selectFrom('federated_identities')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .execute();
}

export async function insertIdentity(db: Db, row: IdentityRow): Promise<void> {
  await db.insertInto('federated_identities').values(row).execute();
}

export async function updateIdentity(
  db: Db,
  id: string,
  change: Partial<
    Pick<
      IdentityRow,
      'email' | 'email_verified' | 'display_name' | 'tokens' | 'granted_roles' | 'last_used_at'
    >
  >,
): Promise<void> {
  await db.updateTable('federated_identities').set(change).where('id', '=', id).execute();
}

export async function deleteIdentity(db: Db, userId: string, id: string): Promise<IdentityRow | undefined> {
  return db
    .deleteFrom('federated_identities')
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .returningAll()
    .executeTakeFirst();
}

/** Records a key that may be used once; false when it was already used (and has not expired). */
export async function claimOnce(db: Db, key: string, expiresAt: number, now: number): Promise<boolean> {
  await db
    .deleteFrom('federation_single_use')
    .where('key', '=', key)
    .where('expires_at', '<=', now)
    .execute();
  const inserted = await db
    .insertInto('federation_single_use')
    .values({ key, expires_at: expiresAt })
    .onConflict((conflict) => conflict.column('key').doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1;
}

/** Takes a key recorded by claimOnce: true once, while it is unexpired. */
export async function takeOnce(db: Db, key: string, now: number): Promise<boolean> {
  const deleted = await db
    .deleteFrom('federation_single_use')
    .where('key', '=', key)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(deleted.numDeletedRows) === 1;
}

export async function deleteExpiredSingleUse(db: Db, now: number): Promise<number> {
  const deleted = await db
    .deleteFrom('federation_single_use')
    .where('expires_at', '<=', now)
    .executeTakeFirst();
  return Number(deleted.numDeletedRows);
}
