import { type MigrationDb, TIMESTAMP } from './support.js';

/**
 * Every sign-in attempt with the risk engine's assessment: where from (network, country, coordinates), which
 * device, the score, its reasons and the action taken. Users see their own; administrators see anyone's.
 * Accounts are also keyed by a keyed hash of the e-mail, so attempts on unknown e-mails are counted too.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('security_sign_ins')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('user_id', 'text')
    .addColumn('account_key', 'text', (column) => column.notNull())
    .addColumn('ip', 'text', (column) => column.notNull())
    .addColumn('network', 'text', (column) => column.notNull())
    .addColumn('country', 'text')
    .addColumn('city', 'text')
    .addColumn('latitude', 'real')
    .addColumn('longitude', 'real')
    .addColumn('device', 'text', (column) => column.notNull())
    .addColumn('user_agent', 'text')
    .addColumn('method', 'text', (column) => column.notNull())
    .addColumn('outcome', 'text', (column) => column.notNull())
    .addColumn('score', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('reasons', 'text', (column) => column.notNull().defaultTo('[]'))
    .addColumn('action', 'text', (column) => column.notNull().defaultTo('allow'))
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .execute();
  await db.schema
    .createIndex('security_sign_ins_user')
    .on('security_sign_ins')
    .columns(['user_id', 'created_at'])
    .execute();
  await db.schema
    .createIndex('security_sign_ins_ip')
    .on('security_sign_ins')
    .columns(['ip', 'created_at'])
    .execute();
  await db.schema
    .createIndex('security_sign_ins_account')
    .on('security_sign_ins')
    .columns(['account_key', 'created_at'])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('security_sign_ins').execute();
}
