import { type MigrationDb, TIMESTAMP } from './support.js';

/** Accounts, their password credentials, sessions and single-use e-mail tokens. Booleans are 0/1 integers. */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (column) => column.primaryKey())
    // Normalized (NFKC, trimmed, lower-case), so uniqueness is case-insensitive on both dialects.
    .addColumn('email', 'text', (column) => column.notNull().unique())
    .addColumn('email_verified_at', TIMESTAMP)
    .addColumn('display_name', 'text')
    .addColumn('status', 'text', (column) => column.notNull().defaultTo('active'))
    .addColumn('is_admin', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('metadata', 'text', (column) => column.notNull().defaultTo('{}'))
    .addColumn('failed_login_count', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('locked_until', TIMESTAMP)
    .addColumn('lock_count', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('password_reset_required', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('updated_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('last_login_at', TIMESTAMP)
    .execute();

  await db.schema
    .createTable('password_credentials')
    .addColumn('user_id', 'text', (column) => column.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('hash', 'text', (column) => column.notNull())
    .addColumn('updated_at', TIMESTAMP, (column) => column.notNull())
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('user_id', 'text', (column) => column.notNull().references('users.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (column) => column.notNull().unique())
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('device', 'text', (column) => column.notNull().defaultTo('{}'))
    .addColumn('location', 'text')
    .addColumn('amr', 'text', (column) => column.notNull().defaultTo('[]'))
    .addColumn('auth_time', TIMESTAMP, (column) => column.notNull())
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('last_seen_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('idle_expires_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('absolute_expires_at', TIMESTAMP, (column) => column.notNull())
    .execute();
  await db.schema.createIndex('sessions_user_id').on('sessions').column('user_id').execute();
  await db.schema
    .createIndex('sessions_absolute_expires_at')
    .on('sessions')
    .column('absolute_expires_at')
    .execute();

  await db.schema
    .createTable('email_tokens')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('user_id', 'text', (column) => column.references('users.id').onDelete('cascade'))
    .addColumn('purpose', 'text', (column) => column.notNull())
    .addColumn('token_hash', 'text', (column) => column.notNull().unique())
    .addColumn('email', 'text', (column) => column.notNull())
    .addColumn('created_by', 'text')
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('expires_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('consumed_at', TIMESTAMP)
    .execute();
  await db.schema.createIndex('email_tokens_user_id').on('email_tokens').column('user_id').execute();
  await db.schema.createIndex('email_tokens_expires_at').on('email_tokens').column('expires_at').execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('email_tokens').execute();
  await db.schema.dropTable('sessions').execute();
  await db.schema.dropTable('password_credentials').execute();
  await db.schema.dropTable('users').execute();
}
