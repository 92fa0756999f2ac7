import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Transaction } from 'kysely';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { SealedBox } from '../crypto/sealed.js';
import type { DatabaseHandle } from '../db/connection.js';
import type { Tables } from '../db/tables.js';
import { GatehouseError } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import { JobErrors } from './errors.js';
import {
  claimJobs,
  deleteFinishedJobs,
  findJob,
  insertJob,
  type JobRow,
  type JobStatus,
  jobCounts,
  listJobs,
  oldestDue,
  requeueJob,
  settleJob,
} from './queries.js';
import type { JobSettings } from './settings.js';

/** What a handler learns about the run it is in. */
export interface JobContext {
  readonly id: string;
  readonly type: string;
  /** 1 on the first run. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Aborted when the job's time is up: stop, and let the queue retry it. */
  readonly signal: AbortSignal;
}

export type JobHandler<Payload> = (payload: Payload, context: JobContext) => Promise<void>;

export interface JobTypeOptions {
  /** Runs before the job is dead (default `jobs.defaults.maxAttempts`). */
  readonly maxAttempts?: number;
  /** One run's time limit (default `jobs.defaults.timeoutMs`). */
  readonly timeoutMs?: number;
  /** Retry delay: base × 2^(attempt−1), capped at max, then jittered to 50–100 % of that. */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  /** The payload carries secrets (a one-time code, a link with a token): sealed by the keyring at rest. */
  readonly sensitive?: boolean;
}

export interface EnqueueOptions {
  /** Not before this time (epoch ms). */
  readonly runAt?: number;
  /** Not before this many milliseconds from now. */
  readonly delayMs?: number;
  /** Higher runs first among due jobs (default 0). */
  readonly priority?: number;
  /** A second enqueue with the same key returns the first job instead of adding one. */
  readonly idempotencyKey?: string;
  readonly maxAttempts?: number;
  readonly timeoutMs?: number;
}

export interface JobView {
  readonly id: string;
  readonly type: string;
  readonly status: JobStatus;
  readonly priority: number;
  readonly runAt: number;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly lastError: string | null;
  readonly idempotencyKey: string | null;
  readonly createdAt: number;
  readonly finishedAt: number | null;
}

export type JobStats = Record<string, Record<'queued' | 'running' | 'failed' | 'dead' | 'succeeded', number>>;

interface Definition {
  readonly handler: JobHandler<unknown>;
  readonly options: Required<Omit<JobTypeOptions, 'sensitive'>> & { readonly sensitive: boolean };
}

export interface JobQueueDependencies {
  readonly database: DatabaseHandle;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: JobSettings;
  readonly registry?: Registry | undefined;
  /** Seals sensitive payloads; without it, types declared sensitive cannot be enqueued. */
  readonly sealedBox?: SealedBox | undefined;
  /** A number in [0, 1) for the jitter; tests pass a fixed one. */
  readonly random?: () => number;
  /** This worker's name in `locked_by` (default: host, pid and a random suffix). */
  readonly workerId?: string;
}

export type JobQueue = ReturnType<typeof createJobQueue>;

const view = (row: JobRow): JobView => ({
  id: row.id,
  type: row.type,
  status: row.status,
  priority: row.priority,
  runAt: row.run_at,
  attempts: row.attempts,
  maxAttempts: row.max_attempts,
  lastError: row.last_error,
  idempotencyKey: row.idempotency_key,
  createdAt: row.created_at,
  finishedAt: row.finished_at,
});

/** An error's message for the job row and logs, short and single-line; never a stack. */
const describeError = (error: unknown) =>
  (error instanceof Error ? `${error.name}: ${error.message}` : String(error))
    .replace(/\s+/g, ' ')
    .slice(0, 500);

/**
 * The durable job queue, in Gatehouse's own database so it works on the embedded SQLite default and across
 * nodes on PostgreSQL. Jobs are rows; workers claim due rows atomically with a lease, run them with a time
 * limit, and settle them: done, retried later with exponential backoff and jitter, or dead after the last
 * attempt. A worker that dies holding a job loses it when the lease runs out and another node takes it over.
 *
 * No library fitted: pg-boss and graphile-worker need PostgreSQL, BullMQ needs Redis, and the embedded default
 * has neither. What is here is small: one claim statement, one settle statement, a poll loop.
 */
export function createJobQueue(deps: JobQueueDependencies) {
  const { database, clock, logger, settings } = deps;
  const random = deps.random ?? Math.random;
  const workerId = deps.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const definitions = new Map<string, Definition>();
  const registers = deps.registry ? [deps.registry] : [];
  const outcomes = new Counter({
    name: 'gatehouse_jobs_total',
    help: 'Job runs by type and outcome (succeeded, retried, dead, lost: the lease passed to another worker).',
    labelNames: ['type', 'outcome'],
    registers,
  });
  const durations = new Histogram({
    name: 'gatehouse_job_duration_seconds',
    help: 'How long job runs take, by type.',
    labelNames: ['type'],
    buckets: [0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120],
    registers,
  });
  const activeGauge = new Gauge({
    name: 'gatehouse_jobs_active',
    help: 'Jobs this node is running now.',
    registers,
  });
  new Gauge({
    name: 'gatehouse_jobs_lag_seconds',
    help: 'How long the oldest due job has waited to be claimed (0 when none waits).',
    registers,
    async collect() {
      const oldest = await oldestDue(database.db, clock.now()).catch(() => undefined);
      this.set(oldest === undefined ? 0 : Math.max(0, clock.now() - oldest) / 1000);
    },
  });

  let active = 0;
  const running = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let started = false;
  let polling: Promise<unknown> | undefined;

  const definitionOf = (type: string): Definition => {
    const definition = definitions.get(type);
    if (!definition) throw new GatehouseError(JobErrors.job_type_unknown, `No job type ${type}`);
    return definition;
  };

  function buildRow(type: string, payload: unknown, options: EnqueueOptions): JobRow {
    const definition = definitionOf(type);
    const now = clock.now();
    const id = newId();
    let text = JSON.stringify(payload ?? null);
    if (definition.options.sensitive) {
      if (!deps.sealedBox) throw new Error(`job type ${type} is sensitive but the queue has no sealed box`);
      text = deps.sealedBox.seal(text, { table: 'jobs', column: 'payload', row: id });
    }
    return {
      id,
      type,
      payload: text,
      status: 'queued',
      priority: options.priority ?? 0,
      run_at: options.runAt ?? now + (options.delayMs ?? 0),
      attempts: 0,
      max_attempts: options.maxAttempts ?? definition.options.maxAttempts,
      timeout_ms: options.timeoutMs ?? definition.options.timeoutMs,
      lease_until: null,
      locked_by: null,
      idempotency_key: options.idempotencyKey ?? null,
      last_error: null,
      created_at: now,
      updated_at: now,
      finished_at: null,
    };
  }

  function payloadOf(row: JobRow, definition: Definition): unknown {
    const text = definition.options.sensitive
      ? deps.sealedBox!.open(row.payload, { table: 'jobs', column: 'payload', row: row.id })
      : row.payload;
    return JSON.parse(text) as unknown;
  }

  /** The delay before attempt `attempt + 1`, after `attempt` failed. */
  function retryDelay(definition: Definition, attempt: number): number {
    const { baseMs, maxMs } = definition.options.backoff;
    const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(ceiling * (0.5 + random() * 0.5));
  }

  async function run(row: JobRow): Promise<void> {
    const definition = definitions.get(row.type);
    const started = clock.now();
    const controller = new AbortController();
    let timeout: NodeJS.Timeout | undefined;
    let outcome: 'succeeded' | 'retried' | 'dead' | 'lost';
    try {
      if (!definition) throw new Error(`no handler for job type ${row.type} on this node`);
      if (row.attempts > row.max_attempts) {
        // Claimed again after its worker died on the last attempt: nothing left to try.
        throw new Error('the worker running the last attempt stopped before it finished');
      }
      const payload = payloadOf(row, definition);
      await Promise.race([
        definition.handler(payload, {
          id: row.id,
          type: row.type,
          attempt: row.attempts,
          maxAttempts: row.max_attempts,
          signal: controller.signal,
        }),
        new Promise<never>((_resolve, reject) => {
          timeout = setTimeout(() => {
            // Rejected before the abort: a handler that gives up on the signal must not count as done.
            reject(new Error(`timed out after ${row.timeout_ms} ms`));
            controller.abort();
          }, row.timeout_ms);
          timeout.unref();
        }),
      ]);
      const settled = await settleJob(database.db, row.id, workerId, {
        status: 'succeeded',
        updated_at: clock.now(),
        finished_at: clock.now(),
        last_error: null,
      });
      outcome = settled ? 'succeeded' : 'lost';
    } catch (error) {
      const now = clock.now();
      const last = row.attempts >= row.max_attempts || !definition;
      const message = describeError(error);
      const settled = await settleJob(
        database.db,
        row.id,
        workerId,
        last
          ? { status: 'dead', updated_at: now, finished_at: now, last_error: message }
          : {
              status: 'failed',
              updated_at: now,
              run_at: now + retryDelay(definition, row.attempts),
              last_error: message,
            },
      ).catch((settleError: unknown) => {
        logger.error(
          { err: settleError, jobId: row.id },
          'could not record a job failure; its lease will expire',
        );
        return false;
      });
      outcome = !settled ? 'lost' : last ? 'dead' : 'retried';
      const log = { jobId: row.id, type: row.type, attempt: row.attempts, error: message };
      if (outcome === 'dead') logger.error(log, 'job failed its last attempt and is dead');
      else
        logger.warn(
          log,
          outcome === 'lost' ? 'job failed after its lease passed on' : 'job failed; it will be retried',
        );
    } finally {
      clearTimeout(timeout);
    }
    outcomes.inc({ type: row.type, outcome });
    durations.observe({ type: row.type }, (clock.now() - started) / 1000);
  }

  /** Claims what this node has room for and starts it; resolves with the runs started. */
  async function claimAndStart(): Promise<Promise<void>[]> {
    const room = settings.concurrency - active;
    if (room <= 0 || definitions.size === 0) return [];
    const claimed = await claimJobs(database.db, database.dialect, {
      worker: workerId,
      types: [...definitions.keys()],
      limit: room,
      now: clock.now(),
      leaseMs: settings.leaseGraceMs,
    });
    return claimed.map((row) => {
      active += 1;
      activeGauge.set(active);
      const runOnce = run(row)
        .catch((error: unknown) => logger.error({ err: error, jobId: row.id }, 'job run crashed'))
        .finally(() => {
          active -= 1;
          activeGauge.set(active);
          running.delete(runOnce);
          // Room again: look for more work at once rather than at the next poll.
          if (started) wake();
        });
      running.add(runOnce);
      return runOnce;
    });
  }

  function schedule(delayMs: number) {
    if (!started) return;
    clearTimeout(timer);
    timer = setTimeout(() => void poll(), delayMs);
    timer.unref();
  }

  async function poll(): Promise<void> {
    if (polling) return;
    polling = claimAndStart()
      .catch((error: unknown) => logger.error({ err: error }, 'claiming jobs failed; trying again shortly'))
      .finally(() => {
        polling = undefined;
        schedule(settings.pollIntervalMs);
      });
    await polling;
  }

  function wake() {
    if (started && !polling) schedule(0);
  }

  return {
    workerId,

    /** Declares a job type and the handler this node runs it with. */
    define<Payload>(type: string, handler: JobHandler<Payload>, options: JobTypeOptions = {}): void {
      definitions.set(type, {
        handler: handler as JobHandler<unknown>,
        options: {
          maxAttempts: options.maxAttempts ?? settings.defaults.maxAttempts,
          timeoutMs: options.timeoutMs ?? settings.defaults.timeoutMs,
          backoff: options.backoff ?? settings.defaults.backoff,
          sensitive: options.sensitive ?? false,
        },
      });
    },

    /** Adds a job; durable once this resolves. */
    async enqueue(type: string, payload: unknown, options: EnqueueOptions = {}) {
      const result = await insertJob(database.db, buildRow(type, payload, options));
      if (result.created) wake();
      return { job: view(result.job), created: result.created };
    },

    /** Adds a job inside the caller's transaction: it exists only if the change it belongs to commits. */
    async enqueueWithin(
      trx: Transaction<Tables>,
      type: string,
      payload: unknown,
      options: EnqueueOptions = {},
    ) {
      const result = await insertJob(trx, buildRow(type, payload, options));
      return { job: view(result.job), created: result.created, afterCommit: wake };
    },

    /**
     * Claims the due jobs this node has room for, runs them and waits for them: what the poll loop does, as one
     * awaitable step for tests and the CLI. Returns how many ran.
     */
    async runDue(): Promise<number> {
      const runs = await claimAndStart();
      await Promise.all(runs);
      return runs.length;
    },

    start(): void {
      if (started || !settings.enabled) return;
      started = true;
      schedule(0);
    },

    /** Stops claiming and waits (up to `drainMs`) for the jobs running here; unfinished ones are retried elsewhere. */
    async stop(drainMs = settings.shutdownDrainMs): Promise<void> {
      started = false;
      clearTimeout(timer);
      await polling;
      if (running.size === 0) return;
      let drainTimer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(running),
        new Promise<void>((resolve) => {
          drainTimer = setTimeout(resolve, drainMs);
          drainTimer.unref();
        }),
      ]);
      clearTimeout(drainTimer);
      if (running.size > 0) {
        logger.warn(
          { running: running.size },
          'jobs still running at shutdown; their leases will expire and another node retries them',
        );
      }
    },

    async stats(): Promise<JobStats> {
      const stats: JobStats = {};
      for (const type of definitions.keys())
        stats[type] = { queued: 0, running: 0, failed: 0, dead: 0, succeeded: 0 };
      for (const { type, status, count } of await jobCounts(database.db)) {
        stats[type] ??= { queued: 0, running: 0, failed: 0, dead: 0, succeeded: 0 };
        stats[type][status] = count;
      }
      return stats;
    },

    async get(id: string): Promise<JobView> {
      const row = await findJob(database.db, id);
      if (!row) throw new GatehouseError(JobErrors.job_not_found, `No job ${id}`);
      return view(row);
    },

    async list(filter: { status?: JobStatus; type?: string; limit?: number; before?: string } = {}) {
      return (await listJobs(database.db, { ...filter, limit: Math.min(filter.limit ?? 50, 500) })).map(view);
    },

    /** Runs a dead (or failed, or finished) job again from its first attempt. */
    async retry(id: string): Promise<JobView> {
      const row = await requeueJob(database.db, id, clock.now());
      if (!row) {
        await this.get(id);
        throw new GatehouseError(JobErrors.job_not_retryable, `Job ${id} is queued or running already`);
      }
      wake();
      return view(row);
    },

    /** Deletes succeeded jobs (and dead ones) older than the retention settings. */
    async prune(): Promise<number> {
      const now = clock.now();
      const day = 86_400_000;
      return (
        (await deleteFinishedJobs(database.db, now - settings.retention.succeededDays * day, ['succeeded'])) +
        (settings.retention.deadDays > 0
          ? await deleteFinishedJobs(database.db, now - settings.retention.deadDays * day, ['dead'])
          : 0)
      );
    },

    get active() {
      return active;
    },
  };
}
