import { type MigrationDb, TIMESTAMP } from './support.js';

/**
 * Second factors, the sign-ins waiting for one, remembered devices, and how each session was authenticated.
 * Secrets are never stored in the clear: TOTP seeds sealed (AES-256-GCM), codes and tokens as keyed hashes.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('mfa_methods')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('user_id', 'text', (column) => column.notNull().references('users.id').onDelete('cascade'))
    // totp | webauthn | email | sms
    .addColumn('type', 'text', (column) => column.notNull())
    .addColumn('name', 'text', (column) => column.notNull())
    // pending until its first successful use, then active
    .addColumn('status', 'text', (column) => column.notNull())
    .addColumn('is_primary', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('secret_sealed', 'text')
    // The last TOTP time step accepted: codes from it or earlier are replays.
    .addColumn('last_used_step', 'bigint')
    .addColumn('phone', 'text')
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('confirmed_at', TIMESTAMP)
    .addColumn('last_used_at', TIMESTAMP)
    .execute();
  await db.schema.createIndex('mfa_methods_user_id').on('mfa_methods').column('user_id').execute();

  await db.schema
    .createTable('webauthn_credentials')
    // The credential id (base64url), as the authenticator reports it.
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('method_id', 'text', (column) =>
      column.notNull().unique().references('mfa_methods.id').onDelete('cascade'),
    )
    .addColumn('user_id', 'text', (column) => column.notNull().references('users.id').onDelete('cascade'))
    .addColumn('public_key', 'text', (column) => column.notNull())
    .addColumn('sign_count', 'bigint', (column) => column.notNull().defaultTo(0))
    .addColumn('transports', 'text', (column) => column.notNull().defaultTo('[]'))
    // singleDevice (a hardware key) | multiDevice (a synced passkey)
    .addColumn('device_type', 'text', (column) => column.notNull())
    .addColumn('backed_up', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('aaguid', 'text')
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .execute();
  await db.schema
    .createIndex('webauthn_credentials_user_id')
    .on('webauthn_credentials')
    .column('user_id')
    .execute();

  await db.schema
    .createTable('backup_codes')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('user_id', 'text', (column) => column.notNull().references('users.id').onDelete('cascade'))
    .addColumn('code_hash', 'text', (column) => column.notNull().unique())
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('used_at', TIMESTAMP)
    .execute();
  await db.schema.createIndex('backup_codes_user_id').on('backup_codes').column('user_id').execute();

  // A correct password waiting for its second factor, or a WebAuthn ceremony waiting for its answer.
  await db.schema
    .createTable('mfa_challenges')
    .addColumn('id', 'text', (column) => column.primaryKey())
    // pending_login | email_code | sms_code | webauthn_register | webauthn_authenticate | passkey_login
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('user_id', 'text', (column) => column.references('users.id').onDelete('cascade'))
    .addColumn('method_id', 'text', (column) => column.references('mfa_methods.id').onDelete('cascade'))
    .addColumn('secret_hash', 'text', (column) => column.notNull().unique())
    .addColumn('data', 'text', (column) => column.notNull().defaultTo('{}'))
    .addColumn('attempts', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('expires_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('consumed_at', TIMESTAMP)
    .execute();
  await db.schema.createIndex('mfa_challenges_user_id').on('mfa_challenges').column('user_id').execute();
  await db.schema.createIndex('mfa_challenges_method_id').on('mfa_challenges').column('method_id').execute();
  await db.schema
    .createIndex('mfa_challenges_expires_at')
    .on('mfa_challenges')
    .column('expires_at')
    .execute();

  await db.schema
    .createTable('remembered_devices')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('user_id', 'text', (column) => column.notNull().references('users.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (column) => column.notNull().unique())
    .addColumn('device', 'text', (column) => column.notNull().defaultTo('{}'))
    .addColumn('ip', 'text')
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('last_used_at', TIMESTAMP)
    .addColumn('expires_at', TIMESTAMP, (column) => column.notNull())
    .execute();
  await db.schema
    .createIndex('remembered_devices_user_id')
    .on('remembered_devices')
    .column('user_id')
    .execute();

  await db.schema
    .alterTable('sessions')
    .addColumn('acr', 'text', (column) => column.notNull().defaultTo('1'))
    .execute();
  // mfa_enrollment: the user must enrol a second factor before the session can do anything else.
  await db.schema.alterTable('sessions').addColumn('restriction', 'text').execute();
  await db.schema
    .alterTable('users')
    .addColumn('mfa_required', 'integer', (column) => column.notNull().defaultTo(0))
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.alterTable('users').dropColumn('mfa_required').execute();
  await db.schema.alterTable('sessions').dropColumn('restriction').execute();
  await db.schema.alterTable('sessions').dropColumn('acr').execute();
  await db.schema.dropTable('remembered_devices').execute();
  await db.schema.dropTable('mfa_challenges').execute();
  await db.schema.dropTable('backup_codes').execute();
  await db.schema.dropTable('webauthn_credentials').execute();
  await db.schema.dropTable('mfa_methods').execute();
}
