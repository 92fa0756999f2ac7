import { Cron } from 'croner';
import type { Clock } from '../clock.js';
import type { DatabaseHandle } from '../db/connection.js';
import { GatehouseError } from '../errors.js';
import type { Logger } from '../logger.js';
import { JobErrors } from './errors.js';
import { advanceSchedule, listSchedules, upsertSchedule } from './queries.js';
import type { JobQueue } from './queue.js';

export interface ScheduledTask {
  /** Stable name: the schedule's row and the job's idempotency key are derived from it. */
  readonly name: string;
  /** Cron expression (five fields, or six with seconds); empty: the task is off. */
  readonly cron: string;
  readonly timezone: string;
  /** The job each run enqueues. */
  readonly jobType: string;
  readonly payload?: unknown;
}

export interface ScheduleView {
  readonly name: string;
  readonly cron: string;
  readonly timezone: string;
  readonly nextRunAt: number;
  readonly lastRunAt: number | null;
  readonly lastJobId: string | null;
}

/**
 * Runs each scheduled task once per due time across all nodes. Every node ticks; a node that finds a task due
 * moves its next time forward with a compare-and-set on `job_schedules` and, only if its update took, enqueues
 * the run as a job (idempotency key `schedule:<name>:<due time>`), in the same transaction. Runs missed while
 * every node was down are not replayed one by one: the next tick runs the task once and moves on.
 *
 * croner reads the expressions (time zones included, through Intl); it is small, has no dependencies and is
 * kept up to date.
 */
export function createScheduler(deps: {
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  queue: JobQueue;
  tasks: readonly ScheduledTask[];
  /** How often a node looks for due tasks. */
  tickMs?: number;
}) {
  const { database, clock, logger, queue } = deps;
  const active = deps.tasks.filter((task) => task.cron.trim() !== '');
  const crons = new Map<string, Cron>();
  for (const task of active) {
    try {
      crons.set(task.name, new Cron(task.cron, { timezone: task.timezone, paused: true }));
    } catch (error) {
      throw new GatehouseError(
        JobErrors.schedule_invalid,
        `jobs.schedules.${task.name}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  const nextAfter = (name: string, time: number): number => {
    const next = crons.get(name)!.nextRun(new Date(time));
    if (!next)
      throw new GatehouseError(JobErrors.schedule_invalid, `jobs.schedules.${name} never runs again`);
    return next.getTime();
  };

  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<string[]> | undefined;
  let registered = false;

  async function register(): Promise<void> {
    const now = clock.now();
    for (const task of active) {
      await upsertSchedule(database.db, {
        name: task.name,
        cron: task.cron,
        timezone: task.timezone,
        next_run_at: nextAfter(task.name, now),
        last_run_at: null,
        last_job_id: null,
        updated_at: now,
      });
    }
    registered = true;
  }

  /** Enqueues every task that is due and that no other node took first; returns their names. */
  async function tick(): Promise<string[]> {
    if (!registered) await register();
    const now = clock.now();
    const rows = new Map((await listSchedules(database.db)).map((row) => [row.name, row]));
    const enqueued: string[] = [];
    for (const task of active) {
      const row = rows.get(task.name);
      if (!row || row.next_run_at > now) continue;
      const due = row.next_run_at;
      const took = await database
        .transaction(async (trx) => {
          const { job, afterCommit } = await queue.enqueueWithin(trx, task.jobType, task.payload ?? {}, {
            idempotencyKey: `schedule:${task.name}:${due}`,
            runAt: due,
          });
          const advanced = await advanceSchedule(trx, {
            name: task.name,
            due,
            next: nextAfter(task.name, now),
            now,
            jobId: job.id,
          });
          // Another node moved the schedule first: roll back this node's copy of the run.
          if (!advanced) throw new LostRace();
          return afterCommit;
        })
        .catch((error: unknown) => {
          if (error instanceof LostRace) return undefined;
          throw error;
        });
      if (took) {
        took();
        enqueued.push(task.name);
        logger.info({ task: task.name, due: new Date(due).toISOString() }, 'scheduled task enqueued');
      }
    }
    return enqueued;
  }

  function loop(tickMs: number) {
    timer = setTimeout(() => {
      ticking ??= tick()
        .catch((error: unknown) => {
          logger.error({ err: error }, 'scheduler tick failed; trying again next time');
          return [];
        })
        .finally(() => {
          ticking = undefined;
        });
      void ticking.finally(() => loop(tickMs));
    }, tickMs);
    timer.unref();
  }

  return {
    tick,
    async list(): Promise<ScheduleView[]> {
      return (await listSchedules(database.db)).map((row) => ({
        name: row.name,
        cron: row.cron,
        timezone: row.timezone,
        nextRunAt: row.next_run_at,
        lastRunAt: row.last_run_at,
        lastJobId: row.last_job_id,
      }));
    },
    start(): void {
      if (timer || active.length === 0) return;
      loop(deps.tickMs ?? 15_000);
      void tick().catch((error: unknown) => logger.error({ err: error }, 'scheduler tick failed'));
    },
    async stop(): Promise<void> {
      clearTimeout(timer);
      timer = undefined;
      await ticking;
    },
  };
}

class LostRace extends Error {}
