import { type MigrationDb, TIMESTAMP } from './support.js';

/** Attribute policies (Cedar), each one statement, with every earlier version kept. */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('authz_policies')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('name', 'text', (column) => column.notNull().unique())
    .addColumn('description', 'text', (column) => column.notNull().defaultTo(''))
    .addColumn('text', 'text', (column) => column.notNull())
    .addColumn('version', 'integer', (column) => column.notNull())
    .addColumn('enabled', 'integer', (column) => column.notNull().defaultTo(1))
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('updated_at', TIMESTAMP, (column) => column.notNull())
    .execute();
  await db.schema
    .createTable('authz_policy_versions')
    .addColumn('policy_id', 'text', (column) =>
      column.notNull().references('authz_policies.id').onDelete('cascade'),
    )
    .addColumn('version', 'integer', (column) => column.notNull())
    .addColumn('text', 'text', (column) => column.notNull())
    .addColumn('enabled', 'integer', (column) => column.notNull())
    .addColumn('changed_by', 'text')
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addPrimaryKeyConstraint('authz_policy_versions_pk', ['policy_id', 'version'])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('authz_policy_versions').execute();
  await db.schema.dropTable('authz_policies').execute();
}
