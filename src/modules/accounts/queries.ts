import { type Kysely, sql, type Transaction } from 'kysely';
import type { Tables } from '../../platform/db/tables.js';

export type UserStatus = 'active' | 'disabled' | 'locked';

export interface UsersTable {
  id: string;
  email: string;
  email_verified_at: number | null;
  display_name: string | null;
  status: UserStatus;
  is_admin: number;
  /** JSON object. */
  metadata: string;
  failed_login_count: number;
  locked_until: number | null;
  lock_count: number;
  password_reset_required: number;
  mfa_required: number;
  created_at: number;
  updated_at: number;
  last_login_at: number | null;
}

export interface PasswordCredentialsTable {
  user_id: string;
  hash: string;
  updated_at: number;
}

export type EmailTokenPurpose = 'verify_email' | 'reset_password' | 'change_email' | 'invitation';

export interface EmailTokensTable {
  id: string;
  user_id: string | null;
  purpose: EmailTokenPurpose;
  token_hash: string;
  /** The address the token was sent to: the new one for a change, the invitee for an invitation. */
  email: string;
  created_by: string | null;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
}

declare module '../../platform/db/tables.js' {
  interface Tables {
    users: UsersTable;
    password_credentials: PasswordCredentialsTable;
    email_tokens: EmailTokensTable;
  }
}

export type UserRow = UsersTable;
type Db = Kysely<Tables> | Transaction<Tables>;

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findUserWithPassword(db: Db, email: string) {
  return db
    .selectFrom('users')
    .leftJoin('password_credentials', 'password_credentials.user_id', 'users.id')
    .selectAll('users')
    .select('password_credentials.hash as password_hash')
    .where('users.email', '=', email)
    .executeTakeFirst();
}

export async function findPasswordHash(db: Db, userId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('password_credentials')
    .select('hash')
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row?.hash;
}

export async function insertUser(db: Db, row: UserRow): Promise<void> {
  await db.insertInto('users').values(row).execute();
}

export async function updateUser(db: Db, id: string, values: Partial<Omit<UserRow, 'id'>>): Promise<void> {
  await db.updateTable('users').set(values).where('id', '=', id).execute();
}

export async function deleteUser(db: Db, id: string): Promise<boolean> {
  const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export async function upsertPasswordHash(db: Db, userId: string, hash: string, now: number): Promise<void> {
  await db
    .insertInto('password_credentials')
    .values({ user_id: userId, hash, updated_at: now })
    .onConflict((conflict) => conflict.column('user_id').doUpdateSet({ hash, updated_at: now }))
    .execute();
}

/**
 * Counts a failed password and, in the same statement, reads the new count back: concurrent failures from
 * many connections cannot lose increments.
 */
export async function incrementFailedLogins(db: Db, userId: string, now: number): Promise<number> {
  await db
    .updateTable('users')
    .set((eb) => ({ failed_login_count: eb('failed_login_count', '+', 1), updated_at: now }))
    .where('id', '=', userId)
    .execute();
  const row = await db
    .selectFrom('users')
    .select('failed_login_count')
    .where('id', '=', userId)
    .executeTakeFirst();
  return row?.failed_login_count ?? 0;
}

export interface UserSearch {
  readonly query?: string | undefined;
  readonly status?: UserStatus | undefined;
  /** Return users whose id sorts after this one (ids are UUIDv7, so this is creation order). */
  readonly after?: string | undefined;
  readonly limit: number;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

export async function searchUsers(db: Db, search: UserSearch): Promise<UserRow[]> {
  let query = db.selectFrom('users').selectAll().orderBy('id').limit(search.limit);
  if (search.after) query = query.where('id', '>', search.after);
  if (search.status) query = query.where('status', '=', search.status);
  if (search.query) {
    const pattern = `%${escapeLike(search.query.toLowerCase())}%`;
    // SQLite has no default LIKE escape character; name one so both dialects treat \% and \_ literally.
    query = query.where(
      sql<boolean>`(email like ${pattern} escape '\\' or lower(display_name) like ${pattern} escape '\\')`,
    );
  }
  return query.execute();
}

export async function insertEmailToken(db: Db, row: EmailTokensTable): Promise<void> {
  await db.insertInto('email_tokens').values(row).execute();
}

/**
 * Marks a live token used and returns it, atomically: of two concurrent uses of one token, one wins.
 */
export async function consumeEmailToken(
  db: Db,
  tokenHash: string,
  purpose: EmailTokenPurpose,
  now: number,
): Promise<EmailTokensTable | undefined> {
  const result = await db
    .updateTable('email_tokens')
    .set({ consumed_at: now })
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) return undefined;
  return db.selectFrom('email_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

export async function findLiveEmailToken(db: Db, tokenHash: string, purpose: EmailTokenPurpose, now: number) {
  return db
    .selectFrom('email_tokens')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/** Older unused tokens of the same kind stop working when a new one is issued. */
export async function retireEmailTokens(
  db: Db,
  userId: string,
  purpose: EmailTokenPurpose,
  now: number,
): Promise<void> {
  await db
    .updateTable('email_tokens')
    .set({ consumed_at: now })
    .where('user_id', '=', userId)
    .where('purpose', '=', purpose)
    .where('consumed_at', 'is', null)
    .execute();
}

export async function deleteExpiredEmailTokens(db: Db, now: number): Promise<number> {
  const result = await db.deleteFrom('email_tokens').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
