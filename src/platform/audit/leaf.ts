import type { AuditRecord } from './types.js';

export const LEAF_FORMAT = 1;

/**
 * The bytes an event's Merkle leaf hashes: a JSON array of its fields in a fixed order, with the details as
 * the exact JSON text stored. Documented in docs/audit.md so anyone can recompute a leaf from an export.
 */
export function leafData(record: Omit<AuditRecord, 'seq' | 'details'>, detailsText: string | null): string {
  return JSON.stringify([
    LEAF_FORMAT,
    record.id,
    record.time,
    record.name,
    record.severity,
    record.outcome,
    record.actorType,
    record.actorId,
    record.targetType,
    record.targetId,
    record.organizationId,
    record.ip,
    record.userAgent,
    record.requestId,
    detailsText,
  ]);
}
