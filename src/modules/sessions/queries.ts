import type { Kysely } from 'kysely';
import type { Tables } from '../../platform/db/tables.js';

export interface SessionsTable {
  id: string;
  user_id: string;
  token_hash: string;
  ip: string | null;
  user_agent: string | null;
  /** JSON: { browser, os, platform }. */
  device: string;
  location: string | null;
  /** JSON array of authentication methods (RFC 8176), e.g. ["pwd"]. */
  amr: string;
  /** Assurance level: "1" one factor, "2" two factors, "3" phishing-resistant (a passkey or security key). */
  acr: string;
  /** `mfa_enrollment`: nothing but enrolling a second factor is allowed until one is active. */
  restriction: string | null;
  auth_time: number;
  created_at: number;
  last_seen_at: number;
  idle_expires_at: number;
  absolute_expires_at: number;
}

declare module '../../platform/db/tables.js' {
  interface Tables {
    sessions: SessionsTable;
  }
}

export type SessionRow = SessionsTable;

export interface SessionWithUser extends SessionRow {
  email: string;
  status: string;
  is_admin: number;
  password_reset_required: number;
}

export async function insertSession(db: Kysely<Tables>, row: SessionRow): Promise<void> {
  await db.insertInto('sessions').values(row).execute();
}

export async function findSessionByTokenHash(
  db: Kysely<Tables>,
  tokenHash: string,
): Promise<SessionWithUser | undefined> {
  return db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .selectAll('sessions')
    .select(['users.email', 'users.status', 'users.is_admin', 'users.password_reset_required'])
    .where('sessions.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export async function listSessionsOfUser(
  db: Kysely<Tables>,
  userId: string,
  now: number,
): Promise<SessionRow[]> {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('user_id', '=', userId)
    .where('absolute_expires_at', '>', now)
    .where('idle_expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .execute();
}

/** Ids of the user's sessions beyond the newest `keep`, oldest first. */
export async function sessionIdsBeyond(db: Kysely<Tables>, userId: string, keep: number): Promise<string[]> {
  const rows = await db
    .selectFrom('sessions')
    .select('id')
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .offset(keep)
    .limit(10_000)
    .execute();
  return rows.map((row) => row.id);
}

export async function countSessionsOfUser(db: Kysely<Tables>, userId: string, now: number): Promise<number> {
  const row = await db
    .selectFrom('sessions')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('user_id', '=', userId)
    .where('absolute_expires_at', '>', now)
    .where('idle_expires_at', '>', now)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function touchSession(
  db: Kysely<Tables>,
  id: string,
  values: { last_seen_at: number; idle_expires_at: number },
): Promise<void> {
  await db.updateTable('sessions').set(values).where('id', '=', id).execute();
}

export async function deleteSessions(db: Kysely<Tables>, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db.deleteFrom('sessions').where('id', 'in', ids).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function sessionIdsOfUser(
  db: Kysely<Tables>,
  userId: string,
  except?: string,
): Promise<string[]> {
  let query = db.selectFrom('sessions').select('id').where('user_id', '=', userId);
  if (except) query = query.where('id', '!=', except);
  return (await query.execute()).map((row) => row.id);
}

export async function deleteExpiredSessions(db: Kysely<Tables>, now: number): Promise<number> {
  const result = await db
    .deleteFrom('sessions')
    .where((eb) => eb.or([eb('absolute_expires_at', '<=', now), eb('idle_expires_at', '<=', now)]))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function updateSessionAuthentication(
  db: Kysely<Tables>,
  sessionId: string,
  values: Partial<Pick<SessionRow, 'amr' | 'acr' | 'auth_time' | 'restriction'>>,
): Promise<void> {
  await db.updateTable('sessions').set(values).where('id', '=', sessionId).execute();
}

export async function findSessionById(
  db: Kysely<Tables>,
  sessionId: string,
): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('id', '=', sessionId).executeTakeFirst();
}
