import { Counter, type Registry } from 'prom-client';
import { type RequestFacts, requestFacts } from './audit/context.js';
import type { AuditActor, AuditRecord, AuditTarget, Outcome, Severity } from './audit/types.js';
import type { AuditDraft, AuditWriter } from './audit/writer.js';
import type { Clock } from './clock.js';
import type { Transaction } from './db/connection.js';
import type { Tables } from './db/tables.js';
import { newId } from './ids.js';
import type { Logger } from './logger.js';
import type { Redactor } from './redaction.js';

export type { Severity } from './audit/types.js';

export interface SecurityEvent {
  /** A name from a module's `events.ts`, e.g. `auth.login.failed`. */
  readonly name: string;
  readonly severity: Severity;
  readonly outcome: Outcome;
  /** Who acted, when it is not the request's own caller (which is filled in by itself). */
  readonly actor?: AuditActor | undefined;
  /** Shorthand for a user actor. */
  readonly actorUserId?: string | undefined;
  readonly target?: AuditTarget | undefined;
  /** Shorthand for a user target. */
  readonly targetUserId?: string | undefined;
  readonly organizationId?: string | undefined;
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly requestId?: string | undefined;
  /** Safe, non-secret facts only; the DLP layer masks anything that looks like a secret anyway. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Where modules report security-relevant actions, with one call. */
export interface EventRecorder {
  /** Queues the event for the audit log and returns at once (the request path). */
  record(event: SecurityEvent): void;
  /**
   * Resolves once the event is committed: for admin changes, whose record must exist before they take
   * effect. Rejects (GatehouseError `audit_unavailable`) if the audit log cannot take it.
   */
  recordDurably(event: SecurityEvent): Promise<void>;
  /**
   * Appends the event inside the caller's transaction, so the change and its record commit together or not
   * at all (authorization changes). Call `afterCommit` once the transaction committed.
   */
  recordWithin(trx: Transaction<Tables>, event: SecurityEvent): Promise<CommittedEvent>;
}

export interface CommittedEvent {
  /** Hands the committed record on (forwarding). */
  afterCommit(): void;
}

const counter = (registry: Registry | undefined) =>
  registry
    ? new Counter({
        name: 'gatehouse_security_events_total',
        help: 'Security events recorded, by name, severity and outcome.',
        labelNames: ['name', 'severity', 'outcome'],
        registers: [registry],
      })
    : undefined;

/** An event as the audit log stores it: actor, target and request facts resolved, details redacted. */
export function draftOf(
  event: SecurityEvent,
  facts: RequestFacts | undefined,
  time: number,
  redactor: Redactor,
) {
  // An API key or a client token acting is named as such; otherwise the user the event names, then the
  // request's signed-in user, and without a request, Gatehouse itself.
  const callerActor = facts?.actor && facts.actor.type !== 'user' ? facts.actor : undefined;
  const actor: AuditActor = event.actor ??
    callerActor ??
    (event.actorUserId ? { type: 'user', id: event.actorUserId } : undefined) ??
    facts?.actor ?? { type: facts ? 'anonymous' : 'system' };
  const target = event.target ?? (event.targetUserId ? { type: 'user', id: event.targetUserId } : undefined);
  const draft: AuditDraft = {
    id: newId(),
    time,
    name: event.name,
    severity: event.severity,
    outcome: event.outcome,
    actorType: actor.type,
    actorId: actor.id ?? null,
    targetType: target?.type ?? null,
    targetId: target?.id ?? null,
    organizationId: event.organizationId ?? null,
    ip: event.ip ?? facts?.ip ?? null,
    userAgent: event.userAgent ?? facts?.userAgent ?? null,
    requestId: event.requestId ?? facts?.requestId ?? null,
    details: (event.details ? redactor.value(event.details) : {}) as Record<string, unknown>,
  };
  return draft;
}

function logEvent(logger: Logger, draft: AuditDraft): void {
  const level = draft.severity === 'low' ? 'info' : 'warn';
  logger[level]({ securityEvent: draft.name, ...draft, name: undefined }, draft.name);
}

/**
 * Events into the audit log (and, as before, one structured log line each and a Prometheus count). The
 * log line carries the same redacted content as the stored event.
 */
export function createAuditEventRecorder(options: {
  writer: AuditWriter;
  logger: Logger;
  redactor: Redactor;
  clock: Clock;
  registry?: Registry | undefined;
  /** Appends within a transaction (the same work the writer does for a batch). */
  appendWithin(trx: Transaction<Tables>, drafts: readonly AuditDraft[]): Promise<readonly AuditRecord[]>;
  /** Receives records committed outside the writer. */
  committed?(records: readonly AuditRecord[]): void;
  /** Turns a writer failure into the error callers see. */
  unavailable(cause: unknown): Error;
}): EventRecorder {
  const counted = counter(options.registry);
  const draft = (event: SecurityEvent) => {
    counted?.inc({ name: event.name, severity: event.severity, outcome: event.outcome });
    const result = draftOf(event, requestFacts.getStore()?.(), options.clock.now(), options.redactor);
    logEvent(options.logger, result);
    return result;
  };
  return {
    record(event) {
      options.writer.enqueue(draft(event));
    },
    async recordDurably(event) {
      try {
        await options.writer.write(draft(event));
      } catch (error) {
        throw options.unavailable(error);
      }
    },
    async recordWithin(trx, event) {
      let records: readonly AuditRecord[];
      try {
        records = await options.appendWithin(trx, [draft(event)]);
      } catch (error) {
        throw options.unavailable(error);
      }
      return { afterCommit: () => options.committed?.(records) };
    },
  };
}

/**
 * Runs `work` and appends `event` in one transaction: the change and its record commit together, or neither.
 * `event` may be made from what `work` returned (a count of what it removed, say).
 */
export async function changeWithRecord<T>(
  database: { transaction<R>(work: (trx: Transaction<Tables>) => Promise<R>): Promise<R> },
  events: EventRecorder,
  event: SecurityEvent | ((value: T) => SecurityEvent),
  work: (trx: Transaction<Tables>) => Promise<T>,
): Promise<T> {
  let committed: CommittedEvent | undefined;
  const result = await database.transaction(async (trx) => {
    const value = await work(trx);
    committed = await events.recordWithin(trx, typeof event === 'function' ? event(value) : event);
    return value;
  });
  committed?.afterCommit();
  return result;
}
