import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../../platform/db/tables.js';

export interface SamlAppsTable {
  id: string;
  name: string;
  entity_id: string;
  acs_url: string;
  name_id_format: string;
  /** JSON: SAML attribute name → what it carries. */
  attributes: string;
  sign_response: number;
  enabled: number;
  created_at: number;
  updated_at: number;
}

export interface SamlIdpKeysTable {
  id: string;
  certificate: string;
  /** Sealed by the keyring. */
  private_sealed: string;
  created_at: number;
}

declare module '../../platform/db/tables.js' {
  interface Tables {
    saml_apps: SamlAppsTable;
    saml_idp_keys: SamlIdpKeysTable;
  }
}

type Db = Kysely<Tables> | Transaction<Tables>;
export type SamlAppRow = SamlAppsTable;

export const idpKeyField = (id: string) => ({ table: 'saml_idp_keys', column: 'private_sealed', row: id });

export async function listApps(db: Db): Promise<SamlAppRow[]> {
  return db.selectFrom('saml_apps').selectAll().orderBy('created_at').execute();
}

export async function findApp(db: Db, idOrEntityId: string): Promise<SamlAppRow | undefined> {
  return db
    .selectFrom('saml_apps')
    .selectAll()
    .where((where) => where.or([where('id', '=', idOrEntityId), where('entity_id', '=', idOrEntityId)]))
    .executeTakeFirst();
}

export async function insertApp(db: Db, row: SamlAppRow): Promise<void> {
  await db.insertInto('saml_apps').values(row).execute();
}

export async function updateApp(
  db: Db,
  id: string,
  change: Partial<Omit<SamlAppRow, 'id' | 'created_at'>>,
): Promise<SamlAppRow | undefined> {
  return db.updateTable('saml_apps').set(change).where('id', '=', id).returningAll().executeTakeFirst();
}

export async function deleteApp(db: Db, id: string): Promise<boolean> {
  const result = await db.deleteFrom('saml_apps').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** The oldest key signs: nodes that raced to create one all settle on the same. */
export async function currentIdpKey(db: Db) {
  return db
    .selectFrom('saml_idp_keys')
    .selectAll()
    .orderBy('created_at')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
}

export async function insertIdpKey(db: Db, row: SamlIdpKeysTable): Promise<void> {
  await db.insertInto('saml_idp_keys').values(row).execute();
}
