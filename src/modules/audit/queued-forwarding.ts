import { Counter, type Registry } from 'prom-client';
import type { AuditRecord } from '../../platform/audit/types.js';
import type { JobQueue } from '../../platform/jobs/queue.js';
import type { Logger } from '../../platform/logger.js';
import type { Breakers } from '../../platform/outbound/breakers.js';
import type { Forwarder, Forwarding } from './forwarders.js';

/** Events per send. */
const BATCH_SIZE = 500;

/** The job type that sends batches to one forwarder. */
export const forwardJob = (forwarder: string) => `audit.forward.${forwarder}`;

/** Contiguous runs of positions, at most BATCH_SIZE long: the batches a committed set of records makes. */
export function batchesOf(records: readonly AuditRecord[]): { from: number; to: number }[] {
  const positions = [...new Set(records.map((record) => record.seq))].sort((a, b) => a - b);
  const batches: { from: number; to: number }[] = [];
  for (const seq of positions) {
    const last = batches.at(-1);
    if (last && seq === last.to + 1 && seq - last.from < BATCH_SIZE) last.to = seq;
    else batches.push({ from: seq, to: seq });
  }
  return batches;
}

/**
 * Audit forwarding through the durable job queue: each committed batch becomes one job per forwarder naming
 * its positions (`{from, to}`, idempotent), and the job reads those events back from the log and sends them.
 * So a collector that is down delays nobody (each forwarder has its own job type), failed sends are retried
 * with backoff across restarts and nodes, and a batch that fails every attempt is a dead job an operator can
 * replay. The events themselves are in the audit log before any of this starts.
 */
export function createQueuedForwarding(
  forwarders: readonly Forwarder[],
  options: {
    jobs: JobQueue;
    breakers: Breakers;
    readRange(from: number, to: number): Promise<readonly AuditRecord[]>;
    logger: Logger;
    registry?: Registry | undefined;
    maxAttempts: number;
    retryBaseMs: number;
  },
): Forwarding {
  const { jobs, logger } = options;
  const names = new Set<string>();
  for (const forwarder of forwarders) {
    if (names.has(forwarder.name)) throw new Error(`two audit forwarders are named ${forwarder.name}`);
    names.add(forwarder.name);
  }
  const registers = options.registry ? [options.registry] : [];
  const forwarded = new Counter({
    name: 'gatehouse_audit_forwarded_total',
    help: 'Audit events delivered to an external collector.',
    labelNames: ['forwarder'],
    registers,
  });
  const failures = new Counter({
    name: 'gatehouse_audit_forward_failures_total',
    help: 'Failed attempts to send a batch of audit events to an external collector.',
    labelNames: ['forwarder'],
    registers,
  });
  const dropped = new Counter({
    name: 'gatehouse_audit_forward_dropped_total',
    help: 'Audit events whose forwarding job failed every attempt (they remain in the audit log; the job can be replayed).',
    labelNames: ['forwarder'],
    registers,
  });
  const failing = new Map<string, string | undefined>();

  for (const forwarder of forwarders) {
    forwarded.inc({ forwarder: forwarder.name }, 0);
    failures.inc({ forwarder: forwarder.name }, 0);
    dropped.inc({ forwarder: forwarder.name }, 0);
    const breaker = options.breakers.get(`audit:${forwarder.name}`);
    jobs.define<{ from: number; to: number }>(
      forwardJob(forwarder.name),
      async ({ from, to }, context) => {
        const records = await options.readRange(from, to);
        if (records.length === 0) return;
        try {
          await breaker.execute(() => forwarder.send(records));
        } catch (error) {
          failures.inc({ forwarder: forwarder.name });
          failing.set(forwarder.name, error instanceof Error ? error.message : String(error));
          if (context.attempt >= context.maxAttempts) {
            dropped.inc({ forwarder: forwarder.name }, records.length);
            logger.error(
              { forwarder: forwarder.name, count: records.length, from, to, attempts: context.attempt },
              'audit forwarding gave up on a batch of events (they remain in the audit log; the job can be replayed)',
            );
          }
          throw error;
        }
        if (failing.has(forwarder.name))
          logger.info({ forwarder: forwarder.name }, 'audit forwarding recovered');
        failing.delete(forwarder.name);
        forwarded.inc({ forwarder: forwarder.name }, records.length);
      },
      { maxAttempts: options.maxAttempts, backoff: { baseMs: options.retryBaseMs, maxMs: 5 * 60_000 } },
    );
  }

  const pending = new Set<Promise<unknown>>();
  return {
    forward(records) {
      try {
        for (const { from, to } of batchesOf(records)) {
          for (const forwarder of forwarders) {
            const type = forwardJob(forwarder.name);
            const queued = jobs
              .enqueue(type, { from, to }, { idempotencyKey: `${type}:${from}-${to}`, priority: 5 })
              .catch((error: unknown) =>
                logger.error(
                  { err: error, forwarder: forwarder.name, from, to },
                  'audit forwarding could not be queued',
                ),
              )
              .finally(() => pending.delete(queued));
            pending.add(queued);
          }
        }
      } catch (error) {
        logger.error({ err: error }, 'audit forwarding could not be queued');
      }
    },
    async flush() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    async close() {
      await this.flush();
      await Promise.allSettled(forwarders.map((forwarder) => forwarder.close?.()));
    },
    state() {
      return Object.fromEntries(
        forwarders.map((forwarder) => [
          forwarder.name,
          {
            failing: failing.has(forwarder.name),
            ...(failing.get(forwarder.name) ? { lastError: failing.get(forwarder.name) as string } : {}),
          },
        ]),
      );
    },
  };
}
