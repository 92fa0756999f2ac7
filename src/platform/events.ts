import { Counter, type Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { createRedactor, type Redactor } from './redaction.js';

export type Severity = 'low' | 'medium' | 'high' | 'critical';

export interface SecurityEvent {
  /** A name from a module's `events.ts`, e.g. `auth.login.failed`. */
  readonly name: string;
  readonly severity: Severity;
  readonly outcome: 'success' | 'failure';
  readonly actorUserId?: string | undefined;
  readonly targetUserId?: string | undefined;
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly requestId?: string | undefined;
  /** Safe, non-secret facts only; the logger's redaction is the second line of defence. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * Where modules report security-relevant actions with one call. Today every event becomes one structured
 * log line (`securityEvent` field); the audit log plugs in here to make them durable and tamper-evident.
 */
export interface EventRecorder {
  record(event: SecurityEvent): void;
}

export function createLogEventRecorder(
  logger: Logger,
  redactor: Redactor = createRedactor(),
  registry?: Registry,
): EventRecorder {
  // Names come from the modules' catalogues (a few dozen), so the label set stays small.
  const counted = registry
    ? new Counter({
        name: 'gatehouse_security_events_total',
        help: 'Security events recorded, by name, severity and outcome.',
        labelNames: ['name', 'severity', 'outcome'],
        registers: [registry],
      })
    : undefined;
  return {
    record(event) {
      counted?.inc({ name: event.name, severity: event.severity, outcome: event.outcome });
      const level = event.severity === 'low' ? 'info' : 'warn';
      // Details pass the DLP layer here, so whatever stores events later receives them masked.
      const details = event.details ? redactor.value(event.details) : undefined;
      logger[level]({ securityEvent: event.name, ...event, details, name: undefined }, event.name);
    },
  };
}
