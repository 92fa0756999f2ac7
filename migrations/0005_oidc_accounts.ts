import type { MigrationDb } from './support.js';

/**
 * Artefacts carry the account they belong to, so a user's connected apps (their grants) can be listed and
 * revoked. Existing grants are backfilled from their payloads.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema.alterTable('oidc_models').addColumn('account_id', 'text').execute();
  await db.schema.createIndex('oidc_models_account_id').on('oidc_models').column('account_id').execute();
  const rows = await db
    .selectFrom('oidc_models')
    .select(['kind', 'id', 'payload'])
    .where('kind', 'in', ['Grant', 'Session'])
    .execute();
  for (const row of rows as { kind: string; id: string; payload: string }[]) {
    const accountId = (JSON.parse(row.payload) as { accountId?: unknown }).accountId;
    if (typeof accountId !== 'string') continue;
    await db
      .updateTable('oidc_models')
      .set({ account_id: accountId })
      .where('kind', '=', row.kind)
      .where('id', '=', row.id)
      .execute();
  }
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropIndex('oidc_models_account_id').execute();
  await db.schema.alterTable('oidc_models').dropColumn('account_id').execute();
}
