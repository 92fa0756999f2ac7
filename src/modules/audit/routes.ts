import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Static } from '@sinclair/typebox';
import type { AuditRecord } from '../../platform/audit/types.js';
import type { Clock } from '../../platform/clock.js';
import type { EventRecorder } from '../../platform/events.js';
import { problemResponses } from '../../platform/http/problem.js';
import { requires } from '../authz/routes.js';
import { AuditEvents } from './events.js';
import {
  ActivityQuery,
  AuditPage,
  AuditQuery,
  CheckpointResponse,
  CheckpointsResponse,
  ConsistencyQuery,
  ConsistencyResponse,
  ExportQuery,
  InclusionResponse,
  KeysResponse,
  ProofParams,
  ProofQuery,
  StatsQuery,
  StatsResponse,
  VerifyResponse,
} from './schemas.js';
import type { AuditFilter, AuditLog } from './service.js';

const iso = (ms: number) => new Date(ms).toISOString();

export function eventView(record: AuditRecord) {
  return {
    seq: record.seq,
    id: record.id,
    time: iso(record.time),
    name: record.name,
    severity: record.severity,
    outcome: record.outcome,
    actor: { type: record.actorType, id: record.actorId },
    target: record.targetType && record.targetId ? { type: record.targetType, id: record.targetId } : null,
    organizationId: record.organizationId,
    ip: record.ip,
    userAgent: record.userAgent,
    requestId: record.requestId,
    details: record.details,
  };
}

type Filters = Omit<Static<typeof ExportQuery>, 'format'>;

function filterOf(query: Filters): AuditFilter {
  return {
    from: query.from ? Date.parse(query.from) : undefined,
    to: query.to ? Date.parse(query.to) : undefined,
    name: query.name,
    actorId: query.actor,
    targetId: query.target,
    organizationId: query.organization,
    severity: query.severity,
    outcome: query.outcome,
    ip: query.ip,
  };
}

/**
 * The audit log (`/api/v1/admin/audit…`): search, export, proofs, checkpoints and verification; a user's own
 * activity (`/api/v1/me/activity`); and the security events view (`/api/v1/admin/security/events…`).
 */
export const auditRoutes: FastifyPluginAsyncTypebox<{
  audit: AuditLog;
  events: EventRecorder;
  clock: Clock;
  checkpointNow(): Promise<unknown>;
}> = async (app, { audit, events, clock, checkpointNow }) => {
  const tags = ['audit'];
  /** One page of matching events, newest first, starting before the previous page's cursor. */
  const pageOf = async (filter: AuditFilter, cursor: string | undefined, limit: number) => {
    const page = await audit.list(
      { ...filter, beforeSeq: cursor === undefined ? undefined : Number(cursor) },
      limit,
    );
    return { events: page.events.map(eventView), nextCursor: page.nextCursor };
  };

  app.get(
    '/api/v1/admin/audit',
    {
      config: requires('audit:read'),
      schema: {
        tags,
        summary: 'Search the audit log, newest first',
        querystring: AuditQuery,
        response: { 200: AuditPage, ...problemResponses },
      },
    },
    async (request) => {
      const { cursor, limit, ...filters } = request.query;
      return pageOf(filterOf(filters), cursor, limit);
    },
  );

  app.get(
    '/api/v1/admin/audit/export',
    {
      config: requires('audit:read'),
      schema: {
        tags,
        summary: 'Stream the matching events, oldest first, as CSV or NDJSON',
        querystring: ExportQuery,
        produces: ['text/csv', 'application/x-ndjson'],
      },
    },
    async (request, reply) => {
      const { format, ...filters } = request.query;
      await events.recordDurably({
        name: AuditEvents.exported,
        severity: 'medium',
        outcome: 'success',
        details: { format, filters },
      });
      const stamp = iso(clock.now()).replace(/[:.]/g, '-');
      reply
        .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="gatehouse-audit-${stamp}.${format}"`)
        .header('cache-control', 'no-store');
      return reply.send(Readable.from(audit.exportEvents(filterOf(filters), format)));
    },
  );

  app.get(
    '/api/v1/admin/audit/proof/:id',
    {
      config: requires('audit:read'),
      schema: {
        tags,
        summary: 'Inclusion proof of one event in the latest (or a given) signed checkpoint',
        params: ProofParams,
        querystring: ProofQuery,
        response: { 200: InclusionResponse, ...problemResponses },
      },
    },
    async (request) => {
      const proof = await audit.inclusion(request.params.id, request.query.treeSize);
      return { ...proof, event: eventView(proof.event) };
    },
  );

  app.get(
    '/api/v1/admin/audit/consistency',
    {
      config: requires('audit:read'),
      schema: {
        tags,
        summary: 'Consistency proof between two checkpoints: the later log extends the earlier one unchanged',
        querystring: ConsistencyQuery,
        response: { 200: ConsistencyResponse, ...problemResponses },
      },
    },
    async (request) => audit.consistency(request.query.from, request.query.to),
  );

  app.get(
    '/api/v1/admin/audit/checkpoints',
    {
      config: requires('audit:read'),
      schema: {
        tags,
        summary: 'Signed tree heads, oldest first',
        response: { 200: CheckpointsResponse, ...problemResponses },
      },
    },
    async () => ({ checkpoints: await audit.checkpoints() }),
  );

  app.post(
    '/api/v1/admin/audit/checkpoints',
    {
      config: requires('audit:read'),
      schema: {
        tags,
        summary: 'Sign the current tree head now (it is also done periodically)',
        response: { 200: CheckpointResponse, ...problemResponses },
      },
    },
    async () => {
      await checkpointNow();
      const all = await audit.checkpoints();
      return { checkpoint: all.at(-1) ?? null };
    },
  );

  app.get(
    '/api/v1/admin/audit/keys',
    {
      config: requires('audit:read'),
      schema: {
        tags,
        summary: 'Public keys that sign checkpoints (compare the fingerprint out of band)',
        response: { 200: KeysResponse, ...problemResponses },
      },
    },
    async () => ({ keys: audit.publicKeys() }),
  );

  app.get(
    '/api/v1/admin/audit/verify',
    {
      config: requires('audit:read'),
      schema: {
        tags,
        summary: 'Recompute the log and check every event and checkpoint (as `gatehouse audit verify`)',
        response: { 200: VerifyResponse, ...problemResponses },
      },
    },
    async () => {
      const report = await audit.verify();
      events.record({
        name: AuditEvents.verified,
        severity: report.ok ? 'low' : 'critical',
        outcome: report.ok ? 'success' : 'failure',
        details: { events: report.events, findings: report.findings.length },
      });
      return { ...report, findings: [...report.findings] };
    },
  );

  app.get(
    '/api/v1/me/activity',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['me'],
        summary:
          'Your security activity: sign-ins, changes to your account, and what administrators did to it',
        querystring: ActivityQuery,
        response: { 200: AuditPage, ...problemResponses },
      },
    },
    async (request) => {
      const { cursor, limit, name } = request.query;
      return pageOf({ involving: request.session!.userId, name }, cursor, limit);
    },
  );

  app.get(
    '/api/v1/admin/security/events',
    {
      config: requires('security:read'),
      schema: {
        tags: ['admin'],
        summary: 'Security events (blocks, rate limits, risk, honeytokens…), newest first',
        querystring: AuditQuery,
        response: { 200: AuditPage, ...problemResponses },
      },
    },
    async (request) => {
      const { cursor, limit, ...filters } = request.query;
      const name = filters.name?.startsWith('security.') ? filters.name : 'security.';
      return pageOf({ ...filterOf(filters), name }, cursor, limit);
    },
  );

  app.get(
    '/api/v1/admin/security/events/stats',
    {
      config: requires('security:read'),
      schema: {
        tags: ['admin'],
        summary:
          'Counts of security events and failed sign-in steps by name and severity, and the busiest IPs',
        querystring: StatsQuery,
        response: { 200: StatsResponse, ...problemResponses },
      },
    },
    async (request) => {
      const since = clock.now() - request.query.hours * 3_600_000;
      const bucketMs = request.query.bucketMinutes * 60_000;
      const { counts, topIps, series } = await audit.stats({ from: since, name: 'security.' }, { bucketMs });
      const failures = await audit.stats({ from: since, name: 'auth.', outcome: 'failure' }, { bucketMs });
      const buckets = new Map<number, Record<string, number>>();
      for (const point of [...series, ...failures.series]) {
        const counted = buckets.get(point.bucket) ?? {};
        counted[point.name] = (counted[point.name] ?? 0) + point.count;
        buckets.set(point.bucket, counted);
      }
      const byName = [...counts, ...failures.counts].sort((a, b) => b.count - a.count);
      const bySeverity: Record<string, number> = {};
      for (const row of byName) bySeverity[row.severity] = (bySeverity[row.severity] ?? 0) + row.count;
      return {
        since: iso(since),
        total: byName.reduce((sum, row) => sum + row.count, 0),
        bySeverity,
        byName,
        // Addresses behind the most security events and failed sign-in steps together.
        topIps: [
          ...[...topIps, ...failures.topIps].reduce(
            (byIp, row) => byIp.set(row.ip, (byIp.get(row.ip) ?? 0) + row.count),
            new Map<string, number>(),
          ),
        ]
          .map(([ip, count]) => ({ ip, count }))
          .sort((a, b) => b.count - a.count)
          .slice(0, 10),
        series: [...buckets.entries()]
          .sort(([a], [b]) => a - b)
          .map(([bucket, counted]) => ({ start: iso(bucket * bucketMs), counts: counted })),
      };
    },
  );
};
