import type { Kysely } from 'kysely';
import type { Tables } from '../../platform/db/tables.js';

export interface SettingsTable {
  key: string;
  /** JSON text. */
  value: string;
  updated_at: number;
}

declare module '../../platform/db/tables.js' {
  interface Tables {
    settings: SettingsTable;
  }
}

export async function findSetting(db: Kysely<Tables>, key: string): Promise<string | undefined> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value;
}

/** Inserts the setting unless it exists; returns the value that is stored afterwards (first writer wins). */
export async function insertSettingIfAbsent(
  db: Kysely<Tables>,
  key: string,
  value: string,
  now: number,
): Promise<string> {
  await db
    .insertInto('settings')
    .values({ key, value, updated_at: now })
    .onConflict((conflict) => conflict.column('key').doNothing())
    .execute();
  return (await findSetting(db, key)) ?? value;
}

export async function saveSetting(
  db: Kysely<Tables>,
  key: string,
  value: string,
  now: number,
): Promise<void> {
  await db
    .insertInto('settings')
    .values({ key, value, updated_at: now })
    .onConflict((conflict) => conflict.column('key').doUpdateSet({ value, updated_at: now }))
    .execute();
}
