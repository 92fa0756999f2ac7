/** Shared shapes of the audit log: what a module records, and what the log stores and hands on. */

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

export type Outcome = 'success' | 'failure';

/** Who did it. `anonymous` is an unauthenticated request (a failed sign-in, say); `system` is Gatehouse itself. */
export type ActorType = 'user' | 'client' | 'api_key' | 'system' | 'anonymous';

export interface AuditActor {
  readonly type: ActorType;
  readonly id?: string | undefined;
}

/** What it was done to: a user, client, role, policy, key, block, organization... */
export interface AuditTarget {
  readonly type: string;
  readonly id: string;
}

/** One stored event, as the query API, exports, proofs and forwarders see it. */
export interface AuditRecord {
  /** Position in the log (0-based); the Merkle tree's leaf index. */
  readonly seq: number;
  /** UUIDv7. */
  readonly id: string;
  /** Epoch milliseconds, UTC. */
  readonly time: number;
  readonly name: string;
  readonly severity: Severity;
  readonly outcome: Outcome;
  readonly actorType: ActorType;
  readonly actorId: string | null;
  readonly targetType: string | null;
  readonly targetId: string | null;
  readonly organizationId: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
  /** Redacted by the DLP layer before storage; null once retention pruned the event. */
  readonly details: Readonly<Record<string, unknown>> | null;
}
