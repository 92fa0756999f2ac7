import { Counter, type Registry } from 'prom-client';
import type { Logger } from './logger.js';

export interface HousekeepingTask {
  /** Stable name, for logs and the metric label. */
  readonly name: string;
  /** Deletes what has expired; returns how many rows went. Must be safe to run on several nodes at once. */
  run(): Promise<number>;
}

/**
 * Clean-up of expired rows (sessions, e-mail tokens, MFA challenges…). The scheduler runs it as a job once per
 * `jobs.schedules.housekeeping` across all nodes; every task is an idempotent delete of what has expired, so an
 * overlapping run (an operator's, a retried job) does no harm.
 */
export function createHousekeeping(
  tasks: readonly HousekeepingTask[],
  options: { logger: Logger; registry?: Registry },
) {
  const deleted = new Counter({
    name: 'gatehouse_housekeeping_deleted_total',
    help: 'Expired rows deleted by housekeeping, by task.',
    labelNames: ['task'],
    registers: options.registry ? [options.registry] : [],
  });
  async function runOnce(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const task of tasks) {
      try {
        counts[task.name] = await task.run();
        deleted.inc({ task: task.name }, counts[task.name]);
      } catch (error) {
        options.logger.warn(
          { err: error, task: task.name },
          'housekeeping task failed; it runs again next time',
        );
      }
    }
    options.logger.debug({ deleted: counts }, 'housekeeping done');
    return counts;
  }

  return { runOnce };
}
