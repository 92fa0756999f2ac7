import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../../platform/db/tables.js';

export type MfaMethodType = 'totp' | 'webauthn' | 'email' | 'sms';
export type MfaMethodStatus = 'pending' | 'active';
export type ChallengeKind =
  | 'pending_login'
  | 'email_code'
  | 'sms_code'
  | 'webauthn_register'
  | 'webauthn_authenticate'
  | 'passkey_login';

export interface MfaMethodsTable {
  id: string;
  user_id: string;
  type: MfaMethodType;
  name: string;
  status: MfaMethodStatus;
  is_primary: number;
  /** TOTP seed, sealed with AES-256-GCM (`v1.<kid>.<iv>.<ciphertext>`), bound to this row's id. */
  secret_sealed: string | null;
  last_used_step: number | null;
  /** E.164, for SMS. */
  phone: string | null;
  created_at: number;
  confirmed_at: number | null;
  last_used_at: number | null;
}

export interface WebauthnCredentialsTable {
  id: string;
  method_id: string;
  user_id: string;
  /** COSE public key, base64url. */
  public_key: string;
  sign_count: number;
  /** JSON array. */
  transports: string;
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: number;
  aaguid: string | null;
  created_at: number;
}

export interface BackupCodesTable {
  id: string;
  user_id: string;
  code_hash: string;
  created_at: number;
  used_at: number | null;
}

export interface MfaChallengesTable {
  id: string;
  kind: ChallengeKind;
  user_id: string | null;
  method_id: string | null;
  /** Keyed hash of the code, token or WebAuthn challenge. */
  secret_hash: string;
  /** JSON: what the challenge is bound to (a pending sign-in or a session) and ceremony state. */
  data: string;
  attempts: number;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
}

export interface RememberedDevicesTable {
  id: string;
  user_id: string;
  token_hash: string;
  device: string;
  ip: string | null;
  created_at: number;
  last_used_at: number | null;
  expires_at: number;
}

declare module '../../platform/db/tables.js' {
  interface Tables {
    mfa_methods: MfaMethodsTable;
    webauthn_credentials: WebauthnCredentialsTable;
    backup_codes: BackupCodesTable;
    mfa_challenges: MfaChallengesTable;
    remembered_devices: RememberedDevicesTable;
  }
}

export type MfaMethodRow = MfaMethodsTable;
export type WebauthnCredentialRow = WebauthnCredentialsTable;
export type ChallengeRow = MfaChallengesTable;
export type RememberedDeviceRow = RememberedDevicesTable;
type Db = Kysely<Tables> | Transaction<Tables>;

// Methods ---------------------------------------------------------------------------------------------------

export async function listMethods(db: Db, userId: string): Promise<MfaMethodRow[]> {
  return db
    .selectFrom('mfa_methods')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export async function findMethod(
  db: Db,
  userId: string,
  methodId: string,
): Promise<MfaMethodRow | undefined> {
  return db
    .selectFrom('mfa_methods')
    .selectAll()
    .where('id', '=', methodId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

export async function insertMethod(db: Db, row: MfaMethodRow): Promise<void> {
  await db.insertInto('mfa_methods').values(row).execute();
}

export async function updateMethod(
  db: Db,
  methodId: string,
  values: Partial<Omit<MfaMethodRow, 'id' | 'user_id' | 'type'>>,
): Promise<void> {
  await db.updateTable('mfa_methods').set(values).where('id', '=', methodId).execute();
}

export async function setPrimaryMethod(db: Db, userId: string, methodId: string): Promise<void> {
  await db.updateTable('mfa_methods').set({ is_primary: 0 }).where('user_id', '=', userId).execute();
  await db
    .updateTable('mfa_methods')
    .set({ is_primary: 1 })
    .where('id', '=', methodId)
    .where('user_id', '=', userId)
    .execute();
}

/**
 * Accepts a TOTP step only if it is later than the last one accepted, in one conditional UPDATE, so two
 * nodes racing with the same code cannot both succeed.
 */
export async function claimTotpStep(db: Db, methodId: string, step: number, now: number): Promise<boolean> {
  const result = await db
    .updateTable('mfa_methods')
    .set({ last_used_step: step, last_used_at: now })
    .where('id', '=', methodId)
    .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function deleteMethod(db: Db, userId: string, methodId: string): Promise<number> {
  const result = await db
    .deleteFrom('mfa_methods')
    .where('id', '=', methodId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function deleteAllMfa(db: Db, userId: string): Promise<number> {
  await db.deleteFrom('backup_codes').where('user_id', '=', userId).execute();
  await db.deleteFrom('remembered_devices').where('user_id', '=', userId).execute();
  await db
    .deleteFrom('mfa_challenges')
    .where('user_id', '=', userId)
    .where('kind', '!=', 'pending_login')
    .execute();
  const result = await db.deleteFrom('mfa_methods').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function deletePendingMethodsOlderThan(db: Db, cutoff: number): Promise<void> {
  await db
    .deleteFrom('mfa_methods')
    .where('status', '=', 'pending')
    .where('created_at', '<', cutoff)
    .execute();
}

// WebAuthn credentials ----------------------------------------------------------------------------------------

export async function insertCredential(db: Db, row: WebauthnCredentialRow): Promise<void> {
  await db.insertInto('webauthn_credentials').values(row).execute();
}

export async function credentialsOfUser(
  db: Db,
  userId: string,
  activeOnly = true,
): Promise<WebauthnCredentialRow[]> {
  let query = db
    .selectFrom('webauthn_credentials')
    .innerJoin('mfa_methods', 'mfa_methods.id', 'webauthn_credentials.method_id')
    .selectAll('webauthn_credentials')
    .where('webauthn_credentials.user_id', '=', userId);
  if (activeOnly) query = query.where('mfa_methods.status', '=', 'active');
  return query.execute();
}

export async function findActiveCredential(
  db: Db,
  credentialId: string,
): Promise<WebauthnCredentialRow | undefined> {
  return db
    .selectFrom('webauthn_credentials')
    .innerJoin('mfa_methods', 'mfa_methods.id', 'webauthn_credentials.method_id')
    .selectAll('webauthn_credentials')
    .where('webauthn_credentials.id', '=', credentialId)
    .where('mfa_methods.status', '=', 'active')
    .executeTakeFirst();
}

export async function recordCredentialUse(
  db: Db,
  credential: { id: string; methodId: string },
  values: { signCount: number; backedUp: boolean; now: number },
): Promise<void> {
  await db
    .updateTable('webauthn_credentials')
    .set({ sign_count: values.signCount, backed_up: values.backedUp ? 1 : 0 })
    .where('id', '=', credential.id)
    .execute();
  await db
    .updateTable('mfa_methods')
    .set({ last_used_at: values.now })
    .where('id', '=', credential.methodId)
    .execute();
}

// Backup codes ------------------------------------------------------------------------------------------------

export async function replaceBackupCodes(
  db: Db,
  userId: string,
  rows: readonly { id: string; code_hash: string }[],
  now: number,
): Promise<void> {
  await db.deleteFrom('backup_codes').where('user_id', '=', userId).execute();
  await db
    .insertInto('backup_codes')
    .values(rows.map((row) => ({ ...row, user_id: userId, created_at: now, used_at: null })))
    .execute();
}

/** Spends a backup code: true for exactly one caller, however many race with the same code. */
export async function spendBackupCode(
  db: Db,
  userId: string,
  codeHash: string,
  now: number,
): Promise<boolean> {
  const result = await db
    .updateTable('backup_codes')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('code_hash', '=', codeHash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function countUnusedBackupCodes(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom('backup_codes')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function deleteBackupCodes(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('backup_codes').where('user_id', '=', userId).execute();
}

// Challenges (pending sign-ins, codes, WebAuthn ceremonies) ---------------------------------------------------

export async function insertChallenge(db: Db, row: ChallengeRow): Promise<void> {
  await db.insertInto('mfa_challenges').values(row).execute();
}

/** An unspent, unexpired challenge of one kind, by id or by the hash of its secret. */
export async function findLiveChallenge(
  db: Db,
  kind: ChallengeKind,
  key: { id: string } | { secretHash: string },
  now: number,
): Promise<ChallengeRow | undefined> {
  const query = db.selectFrom('mfa_challenges').selectAll().where('kind', '=', kind);
  return ('id' in key ? query.where('id', '=', key.id) : query.where('secret_hash', '=', key.secretHash))
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/** The newest unspent code challenge of a method for one binding (a pending sign-in or a session). */
export async function latestCodeChallenge(
  db: Db,
  methodId: string,
  now: number,
): Promise<ChallengeRow | undefined> {
  return db
    .selectFrom('mfa_challenges')
    .selectAll()
    .where('method_id', '=', methodId)
    .where('kind', 'in', ['email_code', 'sms_code'])
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirst();
}

export async function lastCodeSentAt(db: Db, methodId: string): Promise<number | undefined> {
  const row = await db
    .selectFrom('mfa_challenges')
    .select('created_at')
    .where('method_id', '=', methodId)
    .where('kind', 'in', ['email_code', 'sms_code'])
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
  return row?.created_at;
}

/** Marks a challenge spent: true for exactly one caller. */
export async function consumeChallenge(db: Db, id: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('mfa_challenges')
    .set({ consumed_at: now })
    .where('id', '=', id)
    .where('consumed_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Counts one wrong answer and returns the new total. */
export async function countChallengeAttempt(db: Db, id: string): Promise<number> {
  await db
    .updateTable('mfa_challenges')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('id', '=', id)
    .execute();
  const row = await db
    .selectFrom('mfa_challenges')
    .select('attempts')
    .where('id', '=', id)
    .executeTakeFirst();
  return row?.attempts ?? Number.MAX_SAFE_INTEGER;
}

export async function deleteExpiredChallenges(db: Db, now: number): Promise<number> {
  const result = await db.deleteFrom('mfa_challenges').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}

// Remembered devices ------------------------------------------------------------------------------------------

export async function insertRememberedDevice(db: Db, row: RememberedDeviceRow): Promise<void> {
  await db.insertInto('remembered_devices').values(row).execute();
}

export async function findRememberedDevice(
  db: Db,
  id: string,
  tokenHash: string,
  now: number,
): Promise<RememberedDeviceRow | undefined> {
  return db
    .selectFrom('remembered_devices')
    .selectAll()
    .where('id', '=', id)
    .where('token_hash', '=', tokenHash)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

export async function touchRememberedDevice(db: Db, id: string, now: number): Promise<void> {
  await db.updateTable('remembered_devices').set({ last_used_at: now }).where('id', '=', id).execute();
}

export async function listRememberedDevices(
  db: Db,
  userId: string,
  now: number,
): Promise<RememberedDeviceRow[]> {
  return db
    .selectFrom('remembered_devices')
    .selectAll()
    .where('user_id', '=', userId)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .execute();
}

export async function deleteRememberedDevice(db: Db, userId: string, id: string): Promise<number> {
  const result = await db
    .deleteFrom('remembered_devices')
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function deleteRememberedDevicesOfUser(db: Db, userId: string): Promise<number> {
  const result = await db.deleteFrom('remembered_devices').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Where TOTP seeds are sealed (AES-GCM bound to this table, column and row; see platform/crypto/sealed.ts). */
export const mfaSeedField = (id: string) => ({
  table: 'mfa_methods',
  column: 'secret_sealed',
  row: id,
  legacyContext: id,
});
