import { type MigrationDb, TIMESTAMP } from './support.js';

/**
 * The OpenID Connect provider's storage: its artefacts (codes, tokens, grants, sessions, interactions),
 * our signing keys (private parts sealed), and registered clients (secrets as keyed hashes).
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('oidc_models')
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('id', 'text', (column) => column.notNull())
    .addColumn('payload', 'text', (column) => column.notNull())
    .addColumn('grant_id', 'text')
    .addColumn('uid', 'text')
    .addColumn('user_code', 'text')
    .addColumn('expires_at', TIMESTAMP)
    .addColumn('consumed_at', TIMESTAMP)
    .addPrimaryKeyConstraint('oidc_models_pk', ['kind', 'id'])
    .execute();
  await db.schema.createIndex('oidc_models_grant_id').on('oidc_models').column('grant_id').execute();
  await db.schema.createIndex('oidc_models_uid').on('oidc_models').column('uid').execute();
  await db.schema.createIndex('oidc_models_user_code').on('oidc_models').column('user_code').execute();
  await db.schema.createIndex('oidc_models_expires_at').on('oidc_models').column('expires_at').execute();

  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'text', (column) => column.primaryKey())
    .addColumn('alg', 'text', (column) => column.notNull())
    // active: signs and verifies; retiring: only verifies (in JWKS); retired: gone from JWKS.
    .addColumn('status', 'text', (column) => column.notNull())
    .addColumn('public_jwk', 'text', (column) => column.notNull())
    .addColumn('private_sealed', 'text', (column) => column.notNull())
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('rotated_at', TIMESTAMP)
    .addColumn('retire_after', TIMESTAMP)
    .execute();

  await db.schema
    .createTable('oauth_clients')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('secret_hash', 'text')
    // oidc-provider client metadata (redirect_uris, grant_types, token_endpoint_auth_method, scope…).
    .addColumn('metadata', 'text', (column) => column.notNull())
    .addColumn('first_party', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('enabled', 'integer', (column) => column.notNull().defaultTo(1))
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('updated_at', TIMESTAMP, (column) => column.notNull())
    .execute();

  // APIs that accept Gatehouse's access tokens: resource indicators (RFC 8707) and JWT access tokens (RFC 9068).
  await db.schema
    .createTable('oauth_resources')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('identifier', 'text', (column) => column.notNull().unique())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('scopes', 'text', (column) => column.notNull())
    .addColumn('access_token_ttl_seconds', 'integer')
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('oauth_resources').execute();
  await db.schema.dropTable('oauth_clients').execute();
  await db.schema.dropTable('signing_keys').execute();
  await db.schema.dropTable('oidc_models').execute();
}
