import { type MigrationDb, TIMESTAMP } from './support.js';

/**
 * Service accounts (non-human principals that hold roles) and API keys for them and for users. A key is
 * `gh_<id>_<secret>`; only a keyed SHA-256 of the secret is kept, plus the previous one during a rotation's
 * overlap.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('service_accounts')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('name', 'text', (column) => column.notNull().unique())
    .addColumn('description', 'text', (column) => column.notNull().defaultTo(''))
    .addColumn('disabled', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('updated_at', TIMESTAMP, (column) => column.notNull())
    .execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('name', 'text', (column) => column.notNull())
    // 'user' or 'service_account'.
    .addColumn('principal_type', 'text', (column) => column.notNull())
    .addColumn('principal_id', 'text', (column) => column.notNull())
    .addColumn('secret_hash', 'text', (column) => column.notNull())
    .addColumn('previous_secret_hash', 'text')
    .addColumn('previous_valid_until', TIMESTAMP)
    // JSON array of permissions the key is limited to; empty: whatever its principal holds.
    .addColumn('scopes', 'text', (column) => column.notNull().defaultTo('[]'))
    .addColumn('expires_at', TIMESTAMP)
    .addColumn('last_used_at', TIMESTAMP)
    .addColumn('last_used_ip', 'text')
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('revoked_at', TIMESTAMP)
    .execute();
  await db.schema
    .createIndex('api_keys_principal')
    .on('api_keys')
    .columns(['principal_type', 'principal_id'])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('api_keys').execute();
  await db.schema.dropTable('service_accounts').execute();
}
