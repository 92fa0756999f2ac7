import { type Kysely, sql, type Transaction } from 'kysely';
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
    security_sign_ins: SecuritySignInsTable;
    security_decoys: SecurityDecoysTable;
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

export interface SecuritySignInsTable {
  id: string;
  user_id: string | null;
  account_key: string;
  ip: string;
  network: string;
  country: string | null;
  city: string | null;
  latitude: number | null;
  longitude: number | null;
  device: string;
  user_agent: string | null;
  method: string;
  outcome: 'succeeded' | 'failed' | 'challenged' | 'refused';
  score: number;
  /** JSON array of reason codes. */
  reasons: string;
  action: string;
  created_at: number;
}

export type SignInRow = SecuritySignInsTable;

export async function insertSignIn(db: Db, row: SignInRow): Promise<void> {
  await db.insertInto('security_sign_ins').values(row).execute();
}

/** A user's recent successful sign-ins, newest first: what counts as known (devices, networks, countries). */
export async function recentSuccesses(db: Db, userId: string, limit: number): Promise<SignInRow[]> {
  return db
    .selectFrom('security_sign_ins')
    .selectAll()
    .where('user_id', '=', userId)
    .where('outcome', '=', 'succeeded')
    .orderBy('created_at', 'desc')
    .limit(limit)
    .execute();
}

export async function failuresSince(
  db: Db,
  by: { column: 'account_key' | 'ip'; value: string },
  since: number,
): Promise<number> {
  const row = await db
    .selectFrom('security_sign_ins')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where(by.column, '=', by.value)
    .where('outcome', '=', 'failed')
    .where('created_at', '>=', since)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** How many different accounts one IP has tried since `since` (credential stuffing). */
export async function accountsTriedFrom(db: Db, ip: string, since: number): Promise<number> {
  const row = await db
    .selectFrom('security_sign_ins')
    .select((eb) => eb.fn.count<number>('account_key').distinct().as('count'))
    .where('ip', '=', ip)
    .where('created_at', '>=', since)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Retention: sign-in history older than `before` goes (it only informs later assessments for so long). */
export async function deleteSignInsBefore(db: Db, before: number): Promise<number> {
  const result = await db.deleteFrom('security_sign_ins').where('created_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function signInHistory(
  db: Db,
  userId: string,
  page: { limit: number; offset: number },
): Promise<SignInRow[]> {
  return db
    .selectFrom('security_sign_ins')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
}

/** Whether this address ever tripped a honeypot (its earlier blocks say so). */
export async function wasHoneypotSource(db: Db, ip: string): Promise<boolean> {
  const row = await db
    .selectFrom('security_blocks')
    .select('id')
    .where('kind', '=', 'ip')
    .where('value', '=', ip)
    .where('source', '=', 'honeypot')
    .executeTakeFirst();
  return row !== undefined;
}

/** A sealed column, for re-encryption: which table, which id column, which column holds the ciphertext. */
export interface SealedColumn {
  readonly table:
    | 'mfa_methods'
    | 'signing_keys'
    | 'webhooks'
    | 'alert_rules'
    | 'identity_providers'
    | 'federated_identities'
    | 'saml_idp_keys';
  readonly idColumn: string;
  readonly column: string;
}

/** The next rows (by id, after `afterId`) whose sealed value is not in the current format and key. */
export async function sealedRowsToRewrite(
  db: Db,
  where: SealedColumn,
  currentPrefix: string,
  afterId: string,
  limit: number,
): Promise<{ id: string; sealed: string }[]> {
  const result = await sql<{ id: string; sealed: string }>`
    select ${sql.ref(where.idColumn)} as id, ${sql.ref(where.column)} as sealed
    from ${sql.table(where.table)}
    where ${sql.ref(where.column)} is not null
      and ${sql.ref(where.column)} not like ${`${currentPrefix}%`}
      and ${sql.ref(where.idColumn)} > ${afterId}
    order by ${sql.ref(where.idColumn)}
    limit ${limit}`.execute(db);
  return result.rows;
}

/** Replaces one sealed value, only if nobody changed it meanwhile (the rewrite runs while Gatehouse serves). */
export async function replaceSealed(
  db: Db,
  where: SealedColumn,
  id: string,
  previous: string,
  next: string,
): Promise<boolean> {
  const result = await sql`
    update ${sql.table(where.table)} set ${sql.ref(where.column)} = ${next}
    where ${sql.ref(where.idColumn)} = ${id} and ${sql.ref(where.column)} = ${previous}`.execute(db);
  return Number(result.numAffectedRows ?? 0n) === 1;
}

export interface SecurityDecoysTable {
  id: string;
  kind: 'account' | 'api_key' | 'client' | 'reset_link';
  /** The user id, API key id, client id, or the keyed hash of a reset link's token. */
  ref: string;
  label: string;
  created_by: string | null;
  created_at: number;
}

export type DecoyRow = SecurityDecoysTable;

export async function insertDecoy(db: Db, row: DecoyRow): Promise<void> {
  await db.insertInto('security_decoys').values(row).execute();
}

export async function listDecoys(db: Db): Promise<DecoyRow[]> {
  return db.selectFrom('security_decoys').selectAll().orderBy('created_at', 'desc').execute();
}

export async function deleteDecoy(db: Db, id: string): Promise<number> {
  const result = await db.deleteFrom('security_decoys').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows);
}
