import { type MigrationDb, TIMESTAMP } from './support.js';

/**
 * Honeytokens: which accounts, API keys, OAuth clients and reset links are decoys. The decoys themselves are
 * ordinary rows of their own tables (so nothing tells them apart); only this table knows. Reset links are
 * kept as the keyed hash of their token.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('security_decoys')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('ref', 'text', (column) => column.notNull())
    .addColumn('label', 'text', (column) => column.notNull().defaultTo(''))
    .addColumn('created_by', 'text')
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addUniqueConstraint('security_decoys_kind_ref', ['kind', 'ref'])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('security_decoys').execute();
}
