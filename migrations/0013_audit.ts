import { sql } from 'kysely';
import { isPostgres, type MigrationDb, TIMESTAMP } from './support.js';

/**
 * The tamper-evident audit log. `audit_events` holds one row per event at its position (`seq`, the Merkle
 * leaf index) with the leaf hash and an integrity tag (HMAC of position and leaf); `audit_tree` holds the size
 * and the compact frontier of the tree (one row, locked by every append so positions never collide across
 * nodes); `audit_checkpoints` holds the signed tree heads.
 *
 * Append-only is enforced in the database: deleting an event, or changing anything but pruning its content
 * (retention keeps the position, time, name, severity, hash and tag and clears the rest), is refused by a
 * trigger on both dialects.
 */
const PRUNABLE = [
  'actor_id',
  'target_type',
  'target_id',
  'organization_id',
  'ip',
  'user_agent',
  'request_id',
];
const KEPT = ['seq', 'id', 'time', 'name', 'severity', 'outcome', 'actor_type', 'leaf_hash', 'tag'];

export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('audit_events')
    .addColumn('seq', TIMESTAMP, (column) => column.primaryKey())
    .addColumn('id', 'text', (column) => column.notNull().unique())
    .addColumn('time', TIMESTAMP, (column) => column.notNull())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('severity', 'text', (column) => column.notNull())
    .addColumn('outcome', 'text', (column) => column.notNull())
    .addColumn('actor_type', 'text', (column) => column.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('target_type', 'text')
    .addColumn('target_id', 'text')
    .addColumn('organization_id', 'text')
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('request_id', 'text')
    .addColumn('details', 'text')
    .addColumn('leaf_hash', 'text', (column) => column.notNull())
    .addColumn('tag', 'text', (column) => column.notNull())
    .addColumn('pruned_at', TIMESTAMP)
    .execute();
  // Every index costs each append (on SQLite, appends slowed threefold past 150k rows with six); these are the
  // ones the API's common questions need. Filters by IP scan within the time range given.
  await db.schema.createIndex('audit_events_time').on('audit_events').column('time').execute();
  await db.schema.createIndex('audit_events_name').on('audit_events').columns(['name', 'seq']).execute();
  for (const column of ['actor_id', 'target_id', 'organization_id'] as const) {
    await db.schema
      .createIndex(`audit_events_${column.replace('_id', '')}`)
      .on('audit_events')
      .columns([column, 'seq'])
      .where(column, 'is not', null)
      .execute();
  }
  await db.schema
    .createTable('audit_tree')
    .addColumn('id', 'integer', (column) => column.primaryKey())
    .addColumn('size', TIMESTAMP, (column) => column.notNull())
    .addColumn('frontier', 'text', (column) => column.notNull())
    .addColumn('appends', TIMESTAMP, (column) => column.notNull().defaultTo(0))
    .execute();
  await db
    .insertInto('audit_tree')
    .values({ id: 1, size: 0, frontier: '{"size":0,"hashes":[]}', appends: 0 })
    .execute();
  await db.schema
    .createTable('audit_checkpoints')
    .addColumn('tree_size', TIMESTAMP, (column) => column.primaryKey())
    .addColumn('root_hash', 'text', (column) => column.notNull())
    .addColumn('time', TIMESTAMP, (column) => column.notNull())
    .addColumn('key_id', 'text', (column) => column.notNull())
    .addColumn('signature', 'text', (column) => column.notNull())
    .execute();

  const changedKept = KEPT.map((column) => `NEW.${column} IS DISTINCT FROM OLD.${column}`).join(' OR ');
  const stillHolding = [...PRUNABLE, 'details'].map((column) => `NEW.${column} IS NOT NULL`).join(' OR ');
  if (isPostgres(db)) {
    await sql
      .raw(`CREATE FUNCTION gatehouse_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR TG_OP = 'TRUNCATE' THEN
    RAISE EXCEPTION 'audit_events is append-only: events are never deleted';
  END IF;
  IF ${changedKept} OR NEW.pruned_at IS NULL OR ${stillHolding} THEN
    RAISE EXCEPTION 'audit_events is append-only: only retention may prune an event''s content';
  END IF;
  RETURN NEW;
END $$`)
      .execute(db);
    await sql
      .raw(`CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION gatehouse_audit_append_only()`)
      .execute(db);
    await sql
      .raw(`CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_audit_append_only()`)
      .execute(db);
  } else {
    const sqliteChanged = KEPT.map((column) => `NEW.${column} IS NOT OLD.${column}`).join(' OR ');
    await sql
      .raw(`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: events are never deleted'); END`)
      .execute(db);
    await sql
      .raw(`CREATE TRIGGER audit_events_prune_only BEFORE UPDATE ON audit_events
WHEN ${sqliteChanged} OR NEW.pruned_at IS NULL OR ${stillHolding}
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: only retention may prune an event''s content'); END`)
      .execute(db);
  }
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('audit_checkpoints').execute();
  await db.schema.dropTable('audit_tree').execute();
  await db.schema.dropTable('audit_events').execute();
  if (isPostgres(db)) await sql`DROP FUNCTION gatehouse_audit_append_only()`.execute(db);
}
