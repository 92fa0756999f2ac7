import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import type { AuditRecord } from './types.js';

/** An event before it has a position in the log: details are already redacted. */
export interface AuditDraft extends Omit<AuditRecord, 'seq' | 'details'> {
  readonly details: Readonly<Record<string, unknown>>;
}

export interface AuditWriterOptions {
  /** Appends the drafts, in order, in one transaction; returns them with their positions. */
  append(drafts: readonly AuditDraft[]): Promise<readonly AuditRecord[]>;
  /** Called with every committed batch (forwarding). Must not throw. */
  onCommitted?(records: readonly AuditRecord[]): void;
  readonly logger: Logger;
  readonly registry?: Registry | undefined;
  /** Events buffered before new requests are refused (503) until the writer catches up. */
  readonly maxBuffer: number;
  readonly maxBatch: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** Consecutive failed commits after which the writer reports itself failing (health, metric). */
  readonly failingAfter: number;
}

export interface AuditWriterState {
  readonly buffered: number;
  readonly failing: boolean;
  readonly consecutiveFailures: number;
  readonly lastError?: string | undefined;
}

export interface AuditWriter {
  /** The request path: queues the event and returns at once. */
  enqueue(draft: AuditDraft): void;
  /** For records that must be durable before the caller goes on: resolves once committed. */
  write(draft: AuditDraft): Promise<AuditRecord>;
  /** True while the buffer is full: new requests should be refused until it drains. */
  saturated(): boolean;
  state(): AuditWriterState;
  /** Resolves once everything queued so far is committed (or given up at close). */
  flush(): Promise<void>;
  /** Flushes; events still unwritten after `timeoutMs` are written to the log instead, never silently lost. */
  close(timeoutMs: number): Promise<void>;
}

interface Queued {
  readonly draft: AuditDraft;
  resolve?(record: AuditRecord): void;
  reject?(error: unknown): void;
}

/**
 * The batched audit writer. Requests only enqueue; one loop commits the buffer in batches, each in one
 * transaction, so the request path never waits for the database and thousands of events cost a few commits.
 * The buffer is bounded: at `maxBuffer` the app answers new requests 503 until the writer catches up, and
 * events of requests already running still queue up to twice that; beyond it an event goes to the error log
 * in full (and a metric), so none is dropped unseen. Failed commits are retried with backoff, forever while
 * the process lives; at shutdown what cannot be written in time is logged.
 */
export function createAuditWriter(options: AuditWriterOptions): AuditWriter {
  const registers = options.registry ? [options.registry] : [];
  const written = new Counter({
    name: 'gatehouse_audit_events_written_total',
    help: 'Audit events committed to the log.',
    registers,
  });
  const failures = new Counter({
    name: 'gatehouse_audit_write_failures_total',
    help: 'Audit batch commits that failed (and were retried).',
    registers,
  });
  const overflow = new Counter({
    name: 'gatehouse_audit_overflow_total',
    help: 'Audit events that did not fit the buffer or could not be written before shutdown, logged instead.',
    registers,
  });
  const batchSeconds = new Histogram({
    name: 'gatehouse_audit_batch_seconds',
    help: 'Time to commit one batch of audit events.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers,
  });

  let buffer: Queued[] = [];
  let running = false;
  let consecutiveFailures = 0;
  let lastError: string | undefined;
  let closingDeadline: number | undefined;
  let wake: (() => void) | undefined;
  let idle: { promise: Promise<void>; resolve(): void } | undefined;

  new Gauge({
    name: 'gatehouse_audit_buffer',
    help: 'Audit events waiting to be committed.',
    registers,
    collect() {
      this.set(buffer.length);
    },
  });
  new Gauge({
    name: 'gatehouse_audit_writer_failing',
    help: 'Whether the audit writer has failed its last commits (1) or not (0).',
    registers,
    collect() {
      this.set(consecutiveFailures >= options.failingAfter ? 1 : 0);
    },
  });

  const logInstead = (entries: readonly Queued[], reason: string) => {
    overflow.inc(entries.length);
    for (const entry of entries) {
      options.logger.error({ auditEvent: entry.draft, reason }, 'audit event not stored; logged instead');
      entry.reject?.(new Error(`audit event not stored: ${reason}`));
    }
  };

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      wake = undefined;
    });

  async function drain(): Promise<void> {
    while (buffer.length > 0) {
      if (closingDeadline !== undefined && Date.now() > closingDeadline) {
        const rest = buffer;
        buffer = [];
        logInstead(rest, 'shutdown before the database accepted it');
        break;
      }
      const batch = buffer.slice(0, options.maxBatch);
      const started = process.hrtime.bigint();
      try {
        const records = await options.append(batch.map((entry) => entry.draft));
        batchSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
        // By identity: close() may have logged and emptied the buffer while this batch was in flight.
        const taken = new Set(batch);
        buffer = buffer.filter((entry) => !taken.has(entry));
        written.inc(records.length);
        if (consecutiveFailures > 0) options.logger.info('audit writer recovered');
        consecutiveFailures = 0;
        lastError = undefined;
        for (const [index, entry] of batch.entries()) entry.resolve?.(records[index] as AuditRecord);
        try {
          options.onCommitted?.(records);
        } catch (error) {
          options.logger.error({ err: error }, 'audit forwarding hook failed');
        }
      } catch (error) {
        failures.inc();
        consecutiveFailures += 1;
        lastError = error instanceof Error ? error.message : String(error);
        if (consecutiveFailures === 1 || consecutiveFailures % 20 === 0) {
          options.logger.error(
            { err: error, buffered: buffer.length, attempts: consecutiveFailures },
            'audit events could not be committed; retrying',
          );
        }
        // A caller waiting for its record must not act without it: it hears of the failure now, and its
        // event leaves the buffer (what it describes will not happen). Queued events wait for the retry.
        const waiting = new Set(batch.filter((entry) => entry.reject));
        if (waiting.size > 0) {
          buffer = buffer.filter((entry) => !waiting.has(entry));
          for (const entry of waiting) entry.reject?.(error);
        }
        const backoff = Math.min(options.retryMaxMs, options.retryBaseMs * 2 ** (consecutiveFailures - 1));
        if (buffer.length === 0) continue;
        await pause(closingDeadline !== undefined ? 50 : backoff / 2 + Math.random() * (backoff / 2));
      }
    }
  }

  function kick(): void {
    if (running) return;
    running = true;
    setImmediate(() => {
      drain()
        .catch((error: unknown) => options.logger.error({ err: error }, 'audit writer stopped unexpectedly'))
        .finally(() => {
          running = false;
          if (buffer.length > 0) kick();
          else {
            idle?.resolve();
            idle = undefined;
          }
        });
    });
  }

  function push(entry: Queued): void {
    if (buffer.length >= options.maxBuffer * 2) {
      logInstead([entry], 'the audit buffer is full');
      return;
    }
    buffer.push(entry);
    kick();
  }

  return {
    enqueue(draft) {
      push({ draft });
    },
    write(draft) {
      return new Promise<AuditRecord>((resolve, reject) => {
        push({ draft, resolve, reject });
        // A waiting writer should not sit out a retry pause.
        wake?.();
      });
    },
    saturated: () => buffer.length >= options.maxBuffer,
    state: () => ({
      buffered: buffer.length,
      failing: consecutiveFailures >= options.failingAfter,
      consecutiveFailures,
      lastError,
    }),
    flush() {
      if (buffer.length === 0 && !running) return Promise.resolve();
      if (!idle) {
        let resolve!: () => void;
        const promise = new Promise<void>((done) => {
          resolve = done;
        });
        idle = { promise, resolve };
      }
      return idle.promise;
    },
    async close(timeoutMs) {
      closingDeadline = Date.now() + timeoutMs;
      wake?.();
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => {
        timer = setTimeout(() => resolve('expired'), timeoutMs);
      });
      try {
        if ((await Promise.race([this.flush(), expired])) === 'expired' && buffer.length > 0) {
          // The database has not answered in time: log what is left rather than hang the shutdown. A batch
          // still in flight may yet commit; logged twice beats lost.
          const rest = buffer;
          buffer = [];
          logInstead(rest, 'shutdown before the database accepted it');
        }
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
