import { type Kysely, sql, type Transaction } from 'kysely';
import type { Dialect } from '../db/connection.js';
import type { Tables } from '../db/tables.js';

export type JobStatus = 'queued' | 'running' | 'failed' | 'succeeded' | 'dead';

export interface JobsTable {
  id: string;
  type: string;
  /** JSON; sealed (`sealed:v1…`) when the job carries secrets such as a one-time code or a link. */
  payload: string;
  status: JobStatus;
  priority: number;
  run_at: number;
  attempts: number;
  max_attempts: number;
  timeout_ms: number;
  lease_until: number | null;
  locked_by: string | null;
  idempotency_key: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export interface JobSchedulesTable {
  name: string;
  cron: string;
  timezone: string;
  next_run_at: number;
  last_run_at: number | null;
  last_job_id: string | null;
  updated_at: number;
}

declare module '../db/tables.js' {
  interface Tables {
    jobs: JobsTable;
    job_schedules: JobSchedulesTable;
  }
}

type Db = Kysely<Tables> | Transaction<Tables>;
export type JobRow = JobsTable;
export type ScheduleRow = JobSchedulesTable;

/** Inserts a job; with an idempotency key already used, nothing is inserted and the first job is returned. */
export async function insertJob(db: Db, row: JobRow): Promise<{ job: JobRow; created: boolean }> {
  const inserted = await db
    .insertInto('jobs')
    .values(row)
    .onConflict((conflict) => conflict.column('idempotency_key').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { job: inserted, created: true };
  const existing = await db
    .selectFrom('jobs')
    .selectAll()
    .where('idempotency_key', '=', row.idempotency_key)
    .executeTakeFirstOrThrow();
  return { job: existing, created: false };
}

/**
 * Claims up to `limit` due jobs of the given types for `worker`: queued or failed ones whose time has come,
 * and running ones whose lease expired (their worker died). One UPDATE…RETURNING, so the claim is atomic; on
 * PostgreSQL the candidates are locked `SKIP LOCKED`, so concurrent workers pick different rows instead of
 * waiting on each other. Each claim counts an attempt.
 */
export async function claimJobs(
  db: Db,
  dialect: Dialect,
  input: { worker: string; types: readonly string[]; limit: number; now: number; leaseMs: number },
): Promise<JobRow[]> {
  if (input.types.length === 0 || input.limit <= 0) return [];
  const candidates = db
    .selectFrom('jobs')
    .select('id')
    .where('type', 'in', input.types)
    .where((eb) =>
      eb.or([
        eb.and([eb('status', 'in', ['queued', 'failed']), eb('run_at', '<=', input.now)]),
        eb.and([eb('status', '=', 'running'), eb('lease_until', '<', input.now)]),
      ]),
    )
    .orderBy('priority', 'desc')
    .orderBy('run_at')
    .orderBy('id')
    .limit(input.limit);
  return (
    db
      .updateTable('jobs')
      .set((eb) => ({
        status: 'running',
        locked_by: input.worker,
        // The lease covers the job's own timeout and then some: a live worker always settles first. (The cast
        // keeps PostgreSQL from reading the epoch-milliseconds parameter as a 32-bit integer.)
        lease_until: sql<number>`cast(${input.now + input.leaseMs} as bigint) + ${sql.ref('timeout_ms')}`,
        attempts: eb('attempts', '+', 1),
        updated_at: input.now,
      }))
      .where('id', 'in', dialect === 'postgres' ? candidates.forUpdate().skipLocked() : candidates)
      // A row another worker claimed between the pick and the update (SQLite across processes) is left alone.
      .where((eb) =>
        eb.or([
          eb('status', 'in', ['queued', 'failed']),
          eb.and([eb('status', '=', 'running'), eb('lease_until', '<', input.now)]),
        ]),
      )
      .returningAll()
      .execute()
  );
}

/**
 * Settles a claimed job, but only while this worker still holds it: a worker that lost its lease (it ran too
 * long and another node took the job over) must not overwrite the newer outcome.
 */
export async function settleJob(
  db: Db,
  id: string,
  worker: string,
  change: Pick<JobRow, 'status' | 'updated_at'> &
    Partial<Pick<JobRow, 'run_at' | 'last_error' | 'finished_at'>>,
): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set({ ...change, lease_until: null, locked_by: null })
    .where('id', '=', id)
    .where('locked_by', '=', worker)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function findJob(db: Db, id: string): Promise<JobRow | undefined> {
  return db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listJobs(
  db: Db,
  filter: {
    status?: JobStatus | undefined;
    type?: string | undefined;
    limit: number;
    before?: string | undefined;
  },
): Promise<JobRow[]> {
  let query = db.selectFrom('jobs').selectAll();
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.type) query = query.where('type', '=', filter.type);
  if (filter.before) query = query.where('id', '<', filter.before);
  return query.orderBy('id', 'desc').limit(filter.limit).execute();
}

/** Counts by type and status. */
export async function jobCounts(db: Db): Promise<{ type: string; status: JobStatus; count: number }[]> {
  const rows = await db
    .selectFrom('jobs')
    .select(['type', 'status', (eb) => eb.fn.countAll<number>().as('count')])
    .groupBy(['type', 'status'])
    .execute();
  return rows.map((row) => ({ ...row, count: Number(row.count) }));
}

/** The oldest due job still waiting, for the queue's lag metric. */
export async function oldestDue(db: Db, now: number): Promise<number | undefined> {
  const row = await db
    .selectFrom('jobs')
    .select((eb) => eb.fn.min('run_at').as('oldest'))
    .where('status', 'in', ['queued', 'failed'])
    .where('run_at', '<=', now)
    .executeTakeFirst();
  return row?.oldest === null || row?.oldest === undefined ? undefined : Number(row.oldest);
}

/** Puts a dead (or failed) job back in the queue with its attempts reset. */
export async function requeueJob(db: Db, id: string, now: number): Promise<JobRow | undefined> {
  return db
    .updateTable('jobs')
    .set({ status: 'queued', attempts: 0, run_at: now, updated_at: now, finished_at: null, last_error: null })
    .where('id', '=', id)
    .where('status', 'in', ['dead', 'failed', 'succeeded'])
    .returningAll()
    .executeTakeFirst();
}

/** Deletes jobs of these finished statuses that finished before `before`. */
export async function deleteFinishedJobs(
  db: Db,
  before: number,
  statuses: readonly JobStatus[],
): Promise<number> {
  const result = await db
    .deleteFrom('jobs')
    .where('status', 'in', statuses)
    .where('finished_at', '<', before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

// Schedules -----------------------------------------------------------------------------------------------------

export async function listSchedules(db: Db): Promise<ScheduleRow[]> {
  return db.selectFrom('job_schedules').selectAll().orderBy('name').execute();
}

/** Registers a schedule, or updates its cron/time zone (and next run) when they changed. */
export async function upsertSchedule(db: Db, row: ScheduleRow): Promise<void> {
  await db
    .insertInto('job_schedules')
    .values(row)
    .onConflict((conflict) => conflict.column('name').doNothing())
    .execute();
  await db
    .updateTable('job_schedules')
    .set({ cron: row.cron, timezone: row.timezone, next_run_at: row.next_run_at, updated_at: row.updated_at })
    .where('name', '=', row.name)
    .where((eb) => eb.or([eb('cron', '!=', row.cron), eb('timezone', '!=', row.timezone)]))
    .execute();
}

/**
 * Moves a schedule from the run that came due to the next one, only if no other node did so first: the
 * compare-and-set that makes each run happen once across nodes.
 */
export async function advanceSchedule(
  db: Db,
  input: { name: string; due: number; next: number; now: number; jobId: string },
): Promise<boolean> {
  const result = await db
    .updateTable('job_schedules')
    .set({ next_run_at: input.next, last_run_at: input.due, last_job_id: input.jobId, updated_at: input.now })
    .where('name', '=', input.name)
    .where('next_run_at', '=', input.due)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
