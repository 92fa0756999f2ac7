import { type MigrationDb, TIMESTAMP } from './support.js';

/**
 * Federation: upstream identity providers (OpenID Connect, plain OAuth 2.0, SAML 2.0) and the accounts people
 * hold there, linked to ours.
 * - `identity_providers`: one row per provider added through the API or console (providers from the config
 *   file are not stored). `settings` holds the protocol's public settings as JSON; the client secret is sealed
 *   by the keyring. An organization's SAML connection names its organization.
 * - `federated_identities`: (provider, subject) → user. Upstream tokens, when a provider keeps them, are
 *   sealed. `granted_roles` remembers which roles the provider's group mapping gave, so a group that goes away
 *   takes its role with it. No foreign key to the provider: providers from the config file have no row.
 * - `federation_single_use`: keys that may be used once until they expire (SAML request ids, assertion ids),
 *   shared by every node.
 * - `saml_apps` and `saml_idp_keys`: Gatehouse as a SAML identity provider for applications that only speak
 *   SAML; the signing key is sealed, its certificate published in the metadata.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('identity_providers')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('slug', 'text', (column) => column.notNull().unique())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('preset', 'text', (column) => column.notNull())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('organization_id', 'text', (column) =>
      column.references('organizations.id').onDelete('cascade'),
    )
    .addColumn('settings', 'text', (column) => column.notNull())
    .addColumn('secret', 'text')
    .addColumn('mapping', 'text', (column) => column.notNull())
    .addColumn('auto_link', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('allow_signup', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('keep_tokens', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('enabled', 'integer', (column) => column.notNull().defaultTo(1))
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('updated_at', TIMESTAMP, (column) => column.notNull())
    .execute();
  await db.schema
    .createIndex('identity_providers_organization')
    .on('identity_providers')
    .column('organization_id')
    .execute();

  await db.schema
    .createTable('federated_identities')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('user_id', 'text', (column) => column.notNull().references('users.id').onDelete('cascade'))
    .addColumn('provider_id', 'text', (column) => column.notNull())
    .addColumn('subject', 'text', (column) => column.notNull())
    .addColumn('email', 'text')
    .addColumn('email_verified', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('display_name', 'text')
    .addColumn('tokens', 'text')
    .addColumn('granted_roles', 'text', (column) => column.notNull().defaultTo('[]'))
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('last_used_at', TIMESTAMP)
    .addUniqueConstraint('federated_identities_subject', ['provider_id', 'subject'])
    .execute();
  await db.schema
    .createIndex('federated_identities_user')
    .on('federated_identities')
    .column('user_id')
    .execute();

  await db.schema
    .createTable('federation_single_use')
    .addColumn('key', 'text', (column) => column.primaryKey())
    .addColumn('expires_at', TIMESTAMP, (column) => column.notNull())
    .execute();
  await db.schema
    .createIndex('federation_single_use_expiry')
    .on('federation_single_use')
    .column('expires_at')
    .execute();

  await db.schema
    .createTable('saml_apps')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('entity_id', 'text', (column) => column.notNull().unique())
    .addColumn('acs_url', 'text', (column) => column.notNull())
    .addColumn('name_id_format', 'text', (column) => column.notNull())
    .addColumn('attributes', 'text', (column) => column.notNull())
    .addColumn('sign_response', 'integer', (column) => column.notNull().defaultTo(1))
    .addColumn('enabled', 'integer', (column) => column.notNull().defaultTo(1))
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('updated_at', TIMESTAMP, (column) => column.notNull())
    .execute();

  await db.schema
    .createTable('saml_idp_keys')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('certificate', 'text', (column) => column.notNull())
    .addColumn('private_sealed', 'text', (column) => column.notNull())
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('saml_idp_keys').execute();
  await db.schema.dropTable('saml_apps').execute();
  await db.schema.dropTable('federation_single_use').execute();
  await db.schema.dropTable('federated_identities').execute();
  await db.schema.dropTable('identity_providers').execute();
}
