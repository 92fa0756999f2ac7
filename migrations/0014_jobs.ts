import { type MigrationDb, TIMESTAMP } from './support.js';

/**
 * The durable job queue and the scheduler's state.
 *
 * `jobs`: one row per job. A worker claims due rows (`queued`, or `failed` and due for a retry, or `running`
 * with an expired lease: its worker died) in one statement that sets `running`, its lease and its own id, so
 * two workers never hold one job; on PostgreSQL the candidates are picked `FOR UPDATE SKIP LOCKED`. A job that
 * fails its last attempt becomes `dead` and stays for inspection and replay. `idempotency_key` is unique: a
 * second enqueue with the same key returns the first job.
 *
 * `job_schedules`: one row per scheduled task with the next time it is due. A node that sees the time has come
 * moves it forward with a compare-and-set, and only the node whose update took enqueues the run.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('jobs')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('type', 'text', (column) => column.notNull())
    .addColumn('payload', 'text', (column) => column.notNull())
    .addColumn('status', 'text', (column) => column.notNull())
    .addColumn('priority', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('run_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('attempts', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('max_attempts', 'integer', (column) => column.notNull())
    .addColumn('timeout_ms', 'integer', (column) => column.notNull())
    .addColumn('lease_until', TIMESTAMP)
    .addColumn('locked_by', 'text')
    .addColumn('idempotency_key', 'text', (column) => column.unique())
    .addColumn('last_error', 'text')
    .addColumn('created_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('updated_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('finished_at', TIMESTAMP)
    .execute();
  // The claim's scan: due work by status, then priority and time.
  await db.schema.createIndex('jobs_due').on('jobs').columns(['status', 'run_at', 'priority']).execute();
  await db.schema.createIndex('jobs_type_status').on('jobs').columns(['type', 'status']).execute();

  await db.schema
    .createTable('job_schedules')
    .addColumn('name', 'text', (column) => column.primaryKey())
    .addColumn('cron', 'text', (column) => column.notNull())
    .addColumn('timezone', 'text', (column) => column.notNull())
    .addColumn('next_run_at', TIMESTAMP, (column) => column.notNull())
    .addColumn('last_run_at', TIMESTAMP)
    .addColumn('last_job_id', 'text')
    .addColumn('updated_at', TIMESTAMP, (column) => column.notNull())
    .execute();

  // Operators act on the system (replay a dead job, clear the cache) with their own permission.
  await db
    .insertInto('authz_permissions')
    .values({
      name: 'system:write',
      description: 'Replay jobs and act on the running system (cache, checks)',
      builtin: 1,
      created_at: Date.now(),
    })
    .execute();
  await db
    .insertInto('authz_role_permissions')
    .values({ role_id: 'role_admin', permission: 'system:write' })
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.deleteFrom('authz_role_permissions').where('permission', '=', 'system:write').execute();
  await db.deleteFrom('authz_permissions').where('name', '=', 'system:write').execute();
  await db.schema.dropTable('job_schedules').execute();
  await db.schema.dropTable('jobs').execute();
}
