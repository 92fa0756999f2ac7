import { type MigrationDb, TIMESTAMP } from './support.js';

/**
 * Alert rules: a threshold over the count of matching audit events in a window (or the audit writer failing),
 * sent to channels (e-mail, Slack-compatible webhook, PagerDuty Events v2, signed generic webhook). Channels
 * hold secrets (webhook URLs with tokens, routing keys), so the list is sealed by the keyring. A rule fires at
 * most once per cool-down (`last_fired_at`, moved by compare-and-set); each firing is kept.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('alert_rules')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('enabled', 'integer', (column) => column.notNull().defaultTo(1))
    .addColumn('source', 'text', (column) => column.notNull())
    .addColumn('event_pattern', 'text')
    .addColumn('outcome', 'text')
    .addColumn('threshold', 'integer', (column) => column.notNull())
    .addColumn('window_seconds', 'integer', (column) => column.notNull())
    .addColumn('cooldown_seconds', 'integer', (column) => column.notNull())
    .addColumn('severity', 'text', (column) => column.notNull())
    .addColumn('channels', 'text', (column) => column.notNull())
    .addColumn('last_fired_at', TIMESTAMP)
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('updated_at', TIMESTAMP, (column) => column.notNull())
    .execute();
  await db.schema
    .createTable('alert_firings')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('rule_id', 'text', (column) =>
      column.notNull().references('alert_rules.id').onDelete('cascade'),
    )
    .addColumn('fired_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('count', 'integer', (column) => column.notNull())
    .addColumn('summary', 'text', (column) => column.notNull())
    .execute();
  await db.schema
    .createIndex('alert_firings_rule')
    .on('alert_firings')
    .columns(['rule_id', 'fired_at'])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('alert_firings').execute();
  await db.schema.dropTable('alert_rules').execute();
}
