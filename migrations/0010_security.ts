import { type MigrationDb, TIMESTAMP } from './support.js';

/**
 * Blocks of IP addresses, ranges and user agents: added by administrators or automatically (abuse, honeypots).
 * Lifted blocks are kept (lifted_at) so repeated automatic blocks of one source escalate.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('security_blocks')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('value', 'text', (column) => column.notNull())
    .addColumn('source', 'text', (column) => column.notNull())
    .addColumn('reason', 'text', (column) => column.notNull().defaultTo(''))
    .addColumn('created_by', 'text')
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('expires_at', TIMESTAMP)
    .addColumn('lifted_at', TIMESTAMP)
    .execute();
  await db.schema
    .createIndex('security_blocks_value')
    .on('security_blocks')
    .columns(['kind', 'value', 'created_at'])
    .execute();

  const now = Date.now();
  await db
    .insertInto('authz_permissions')
    .values([
      { name: 'security:read', description: 'See blocks and security events', builtin: 1, created_at: now },
      { name: 'security:write', description: 'Add and lift blocks', builtin: 1, created_at: now },
    ])
    .execute();
  await db
    .insertInto('authz_role_permissions')
    .values([
      { role_id: 'role_auditor', permission: 'security:read' },
      { role_id: 'role_admin', permission: 'security:write' },
    ])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db
    .deleteFrom('authz_role_permissions')
    .where('permission', 'in', ['security:read', 'security:write'])
    .execute();
  await db.deleteFrom('authz_permissions').where('name', 'in', ['security:read', 'security:write']).execute();
  await db.schema.dropTable('security_blocks').execute();
}
