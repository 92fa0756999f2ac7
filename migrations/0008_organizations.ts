import { type MigrationDb, TIMESTAMP } from './support.js';

/**
 * Organizations (tenants): members, roles held within one organization, and e-mailed invitations (only a keyed
 * hash of the invitation token is kept). Adds the orgs:read and orgs:write permissions to the default roles.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('organizations')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('slug', 'text', (column) => column.notNull().unique())
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('updated_at', TIMESTAMP, (column) => column.notNull())
    .execute();

  await db.schema
    .createTable('organization_members')
    .addColumn('organization_id', 'text', (column) =>
      column.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('user_id', 'text', (column) => column.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addPrimaryKeyConstraint('organization_members_pk', ['organization_id', 'user_id'])
    .execute();
  await db.schema
    .createIndex('organization_members_user')
    .on('organization_members')
    .column('user_id')
    .execute();

  await db.schema
    .createTable('organization_roles')
    .addColumn('organization_id', 'text', (column) =>
      column.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('user_id', 'text', (column) => column.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role_id', 'text', (column) =>
      column.notNull().references('authz_roles.id').onDelete('cascade'),
    )
    .addPrimaryKeyConstraint('organization_roles_pk', ['organization_id', 'user_id', 'role_id'])
    .execute();

  await db.schema
    .createTable('organization_invitations')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('organization_id', 'text', (column) =>
      column.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('email', 'text', (column) => column.notNull())
    .addColumn('token_hash', 'text', (column) => column.notNull().unique())
    .addColumn('role_id', 'text', (column) => column.references('authz_roles.id').onDelete('set null'))
    .addColumn('invited_by', 'text')
    .addColumn('expires_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('accepted_at', TIMESTAMP)
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .execute();

  const now = Date.now();
  await db
    .insertInto('authz_permissions')
    .values([
      {
        name: 'orgs:read',
        description: 'See organizations, their members and invitations',
        builtin: 1,
        created_at: now,
      },
      {
        name: 'orgs:write',
        description: 'Create organizations, invite and remove members, give organization roles',
        builtin: 1,
        created_at: now,
      },
    ])
    .execute();
  await db
    .insertInto('authz_role_permissions')
    .values([
      { role_id: 'role_auditor', permission: 'orgs:read' },
      { role_id: 'role_admin', permission: 'orgs:write' },
    ])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db
    .deleteFrom('authz_role_permissions')
    .where('permission', 'in', ['orgs:read', 'orgs:write'])
    .execute();
  await db.deleteFrom('authz_permissions').where('name', 'in', ['orgs:read', 'orgs:write']).execute();
  for (const table of [
    'organization_invitations',
    'organization_roles',
    'organization_members',
    'organizations',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
