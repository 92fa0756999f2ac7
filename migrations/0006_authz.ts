import { type MigrationDb, TIMESTAMP } from './support.js';

/**
 * Authorization: permissions (`resource:action`), roles that include other roles, nested groups, and role
 * assignments to users and groups. Seeds Gatehouse's own permissions and the default roles, and turns the
 * interim `users.is_admin` flag into assignments of the `admin` role.
 */

// Frozen copy of the catalogue at the time of this migration (later ones add to it, never edit it here).
const PERMISSIONS: readonly [string, string][] = [
  ['users:read', 'See accounts, their sessions and factors'],
  ['users:write', 'Create, change, disable, unlock and delete accounts; end their sessions; reset factors'],
  ['clients:read', 'See OAuth clients and API resources'],
  ['clients:write', 'Register, change and remove OAuth clients and API resources'],
  ['authz:read', 'See permissions, roles, groups and assignments'],
  ['authz:write', 'Change permissions, roles, groups and assignments'],
  ['authz:check', 'Ask for authorization decisions about any subject'],
  ['audit:read', 'Read the audit log'],
  ['system:read', 'See settings and system status'],
];

const ROLES: readonly {
  id: string;
  name: string;
  description: string;
  permissions: string[];
  includes: string[];
}[] = [
  {
    id: 'role_user',
    name: 'user',
    description: 'Every signed-up account holds this role',
    permissions: [],
    includes: [],
  },
  {
    id: 'role_auditor',
    name: 'auditor',
    description: 'Reads everything, the audit log included, and changes nothing',
    permissions: ['users:read', 'clients:read', 'authz:read', 'audit:read', 'system:read'],
    includes: [],
  },
  {
    id: 'role_admin',
    name: 'admin',
    description: 'Runs Gatehouse day to day',
    permissions: ['users:write', 'clients:write', 'authz:write', 'authz:check'],
    includes: ['role_auditor'],
  },
  {
    id: 'role_owner',
    name: 'owner',
    description: 'Everything, including making other owners',
    permissions: ['*'],
    includes: ['role_admin'],
  },
];

export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('authz_permissions')
    .addColumn('name', 'text', (column) => column.primaryKey())
    .addColumn('description', 'text', (column) => column.notNull().defaultTo(''))
    .addColumn('builtin', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .execute();

  await db.schema
    .createTable('authz_roles')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('name', 'text', (column) => column.notNull().unique())
    .addColumn('description', 'text', (column) => column.notNull().defaultTo(''))
    .addColumn('builtin', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('updated_at', TIMESTAMP, (column) => column.notNull())
    .execute();

  await db.schema
    .createTable('authz_role_permissions')
    .addColumn('role_id', 'text', (column) =>
      column.notNull().references('authz_roles.id').onDelete('cascade'),
    )
    .addColumn('permission', 'text', (column) =>
      column.notNull().references('authz_permissions.name').onDelete('cascade'),
    )
    .addPrimaryKeyConstraint('authz_role_permissions_pk', ['role_id', 'permission'])
    .execute();

  await db.schema
    .createTable('authz_role_includes')
    .addColumn('role_id', 'text', (column) =>
      column.notNull().references('authz_roles.id').onDelete('cascade'),
    )
    .addColumn('included_role_id', 'text', (column) =>
      column.notNull().references('authz_roles.id').onDelete('cascade'),
    )
    .addPrimaryKeyConstraint('authz_role_includes_pk', ['role_id', 'included_role_id'])
    .execute();

  await db.schema
    .createTable('authz_groups')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('name', 'text', (column) => column.notNull().unique())
    .addColumn('description', 'text', (column) => column.notNull().defaultTo(''))
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('updated_at', TIMESTAMP, (column) => column.notNull())
    .execute();

  await db.schema
    .createTable('authz_group_members')
    .addColumn('group_id', 'text', (column) =>
      column.notNull().references('authz_groups.id').onDelete('cascade'),
    )
    .addColumn('user_id', 'text', (column) => column.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addPrimaryKeyConstraint('authz_group_members_pk', ['group_id', 'user_id'])
    .execute();
  await db.schema
    .createIndex('authz_group_members_user')
    .on('authz_group_members')
    .column('user_id')
    .execute();

  // A row says: group_id sits inside parent_id (its members are members of the parent too).
  await db.schema
    .createTable('authz_group_parents')
    .addColumn('group_id', 'text', (column) =>
      column.notNull().references('authz_groups.id').onDelete('cascade'),
    )
    .addColumn('parent_id', 'text', (column) =>
      column.notNull().references('authz_groups.id').onDelete('cascade'),
    )
    .addPrimaryKeyConstraint('authz_group_parents_pk', ['group_id', 'parent_id'])
    .execute();

  // principal_type 'user' or 'group'. No foreign key on principal_id (two possible tables); deleting a user or
  // a group deletes its assignments in the service, in the same transaction.
  await db.schema
    .createTable('authz_role_assignments')
    .addColumn('role_id', 'text', (column) =>
      column.notNull().references('authz_roles.id').onDelete('cascade'),
    )
    .addColumn('principal_type', 'text', (column) => column.notNull())
    .addColumn('principal_id', 'text', (column) => column.notNull())
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addPrimaryKeyConstraint('authz_role_assignments_pk', ['principal_type', 'principal_id', 'role_id'])
    .execute();

  const now = Date.now();
  await db
    .insertInto('authz_permissions')
    .values(PERMISSIONS.map(([name, description]) => ({ name, description, builtin: 1, created_at: now })))
    .execute();
  await db
    .insertInto('authz_permissions')
    .values({ name: '*', description: 'Every permission', builtin: 1, created_at: now })
    .execute();
  await db
    .insertInto('authz_roles')
    .values(
      ROLES.map((role) => ({
        id: role.id,
        name: role.name,
        description: role.description,
        builtin: 1,
        created_at: now,
        updated_at: now,
      })),
    )
    .execute();
  const grants = ROLES.flatMap((role) =>
    role.permissions.map((permission) => ({ role_id: role.id, permission })),
  );
  if (grants.length > 0) await db.insertInto('authz_role_permissions').values(grants).execute();
  const includes = ROLES.flatMap((role) =>
    role.includes.map((included) => ({ role_id: role.id, included_role_id: included })),
  );
  if (includes.length > 0) await db.insertInto('authz_role_includes').values(includes).execute();

  const admins = (await db.selectFrom('users').select('id').where('is_admin', '=', 1).execute()) as {
    id: string;
  }[];
  if (admins.length > 0) {
    await db
      .insertInto('authz_role_assignments')
      .values(
        admins.map((admin) => ({
          role_id: 'role_admin',
          principal_type: 'user',
          principal_id: admin.id,
          created_at: now,
        })),
      )
      .execute();
  }
}

export async function down(db: MigrationDb): Promise<void> {
  for (const table of [
    'authz_role_assignments',
    'authz_group_parents',
    'authz_group_members',
    'authz_groups',
    'authz_role_includes',
    'authz_role_permissions',
    'authz_roles',
    'authz_permissions',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
