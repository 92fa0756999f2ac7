import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../../platform/db/tables.js';

export interface SecurityBlocksTable {
  id: string;
  kind: 'ip' | 'user_agent';
  /** An address or CIDR range (ip), or a case-insensitive substring (user_agent). */
  value: string;
  source: 'admin' | 'automatic' | 'honeypot';
  reason: string;
  created_by: string | null;
  created_at: number;
  expires_at: number | null;
  lifted_at: number | null;
}

declare module '../../platform/db/tables.js' {
  interface Tables {
    security_blocks: SecurityBlocksTable;
  }
}

type Db = Kysely<Tables> | Transaction<Tables>;
export type BlockRow = SecurityBlocksTable;

export async function insertBlock(db: Db, row: BlockRow): Promise<void> {
  await db.insertInto('security_blocks').values(row).execute();
}

/** Blocks in force at `now`: not lifted and not expired. */
export async function activeBlocks(db: Db, now: number): Promise<BlockRow[]> {
  return db
    .selectFrom('security_blocks')
    .selectAll()
    .where('lifted_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .orderBy('created_at', 'desc')
    .execute();
}

export async function listBlocks(
  db: Db,
  filter: { activeAt?: number | undefined; limit: number; offset: number },
): Promise<BlockRow[]> {
  let query = db.selectFrom('security_blocks').selectAll();
  if (filter.activeAt !== undefined) {
    const now = filter.activeAt;
    query = query
      .where('lifted_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]));
  }
  return query
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(filter.limit)
    .offset(filter.offset)
    .execute();
}

export async function findBlock(db: Db, id: string): Promise<BlockRow | undefined> {
  return db.selectFrom('security_blocks').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function liftBlock(db: Db, id: string, now: number): Promise<number> {
  const result = await db
    .updateTable('security_blocks')
    .set({ lifted_at: now })
    .where('id', '=', id)
    .where('lifted_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Earlier automatic blocks of this source since `since`: each one makes the next longer. */
export async function countAutomaticBlocks(db: Db, value: string, since: number): Promise<number> {
  const row = await db
    .selectFrom('security_blocks')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('kind', '=', 'ip')
    .where('value', '=', value)
    .where('source', '!=', 'admin')
    .where('created_at', '>=', since)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
