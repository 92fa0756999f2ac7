import { type Kysely, sql, type Transaction } from 'kysely';
import type { Tables } from '../../platform/db/tables.js';

export interface AuditEventsTable {
  seq: number;
  id: string;
  time: number;
  name: string;
  severity: string;
  outcome: string;
  actor_type: string;
  actor_id: string | null;
  target_type: string | null;
  target_id: string | null;
  organization_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: string | null;
  leaf_hash: string;
  tag: string;
  pruned_at: number | null;
}

export interface AuditTreeTable {
  id: number;
  size: number;
  frontier: string;
  appends: number;
}

export interface AuditCheckpointsTable {
  tree_size: number;
  root_hash: string;
  time: number;
  key_id: string;
  signature: string;
}

declare module '../../platform/db/tables.js' {
  interface Tables {
    audit_events: AuditEventsTable;
    audit_tree: AuditTreeTable;
    audit_checkpoints: AuditCheckpointsTable;
  }
}

type Db = Kysely<Tables> | Transaction<Tables>;
export type AuditEventRow = AuditEventsTable;
export type CheckpointRow = AuditCheckpointsTable;

// 18 columns per row: 500 rows stay far below both dialects' limits on bound parameters.
const INSERT_CHUNK = 500;

/**
 * Takes the tree's lock for the rest of the transaction and reads its state. An UPDATE first, so SQLite takes
 * its write lock at once (no deferred upgrade that could fail) and PostgreSQL locks the row until commit.
 */
export async function lockTree(trx: Transaction<Tables>): Promise<{ size: number; frontier: string }> {
  const row = await trx
    .updateTable('audit_tree')
    .set((eb) => ({ appends: eb('appends', '+', 1) }))
    .where('id', '=', 1)
    .returning(['size', 'frontier'])
    .executeTakeFirstOrThrow();
  return { size: Number(row.size), frontier: row.frontier };
}

export async function readTree(db: Db): Promise<{ size: number; frontier: string }> {
  const row = await db
    .selectFrom('audit_tree')
    .select(['size', 'frontier'])
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  return { size: Number(row.size), frontier: row.frontier };
}

export async function appendRows(
  trx: Transaction<Tables>,
  rows: readonly AuditEventRow[],
  tree: { size: number; frontier: string },
): Promise<void> {
  for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
    await trx
      .insertInto('audit_events')
      .values(rows.slice(start, start + INSERT_CHUNK))
      .execute();
  }
  await trx.updateTable('audit_tree').set(tree).where('id', '=', 1).execute();
}

const normalize = (row: AuditEventRow): AuditEventRow => ({
  ...row,
  seq: Number(row.seq),
  time: Number(row.time),
  pruned_at: row.pruned_at === null ? null : Number(row.pruned_at),
});

/** Leaf hashes of positions [0, size), in order: proofs are computed from them. */
export async function leafHashes(db: Db, size: number): Promise<{ seq: number; leaf_hash: string }[]> {
  const rows = await db
    .selectFrom('audit_events')
    .select(['seq', 'leaf_hash'])
    .where('seq', '<', size)
    .orderBy('seq')
    .execute();
  return rows.map((row) => ({ seq: Number(row.seq), leaf_hash: row.leaf_hash }));
}

export async function findEvent(db: Db, id: string): Promise<AuditEventRow | undefined> {
  const row = await db.selectFrom('audit_events').selectAll().where('id', '=', id).executeTakeFirst();
  return row && normalize(row);
}

export interface AuditFilter {
  readonly from?: number | undefined;
  readonly to?: number | undefined;
  /** An exact name, or a prefix ending in `.` or `*` (`auth.` / `auth.*`). */
  readonly name?: string | undefined;
  readonly actorId?: string | undefined;
  readonly targetId?: string | undefined;
  /** Events where this user acted or was acted upon. */
  readonly involving?: string | undefined;
  readonly organizationId?: string | undefined;
  readonly severity?: readonly string[] | undefined;
  readonly outcome?: string | undefined;
  readonly ip?: string | undefined;
  /** Only events before this position (the cursor of the previous page). */
  readonly beforeSeq?: number | undefined;
  /** Only events after this position (exports walk forwards). */
  readonly afterSeq?: number | undefined;
}

function filtered(db: Db, filter: AuditFilter) {
  let query = db.selectFrom('audit_events');
  if (filter.from !== undefined) query = query.where('time', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('time', '<', filter.to);
  if (filter.name !== undefined) {
    const prefix = filter.name.endsWith('*') ? filter.name.slice(0, -1) : filter.name;
    if (prefix.endsWith('.') || filter.name.endsWith('*')) {
      // Names are [a-z0-9_.] (checked by the schema), so no LIKE wildcard needs escaping.
      query = query.where('name', 'like', `${prefix}%`);
    } else {
      query = query.where('name', '=', filter.name);
    }
  }
  if (filter.actorId !== undefined) query = query.where('actor_id', '=', filter.actorId);
  if (filter.targetId !== undefined) query = query.where('target_id', '=', filter.targetId);
  if (filter.involving !== undefined) {
    const userId = filter.involving;
    query = query.where((eb) =>
      eb.or([
        eb.and([eb('actor_type', '=', 'user'), eb('actor_id', '=', userId)]),
        eb.and([eb('target_type', '=', 'user'), eb('target_id', '=', userId)]),
      ]),
    );
  }
  if (filter.organizationId !== undefined) query = query.where('organization_id', '=', filter.organizationId);
  if (filter.severity?.length) query = query.where('severity', 'in', [...filter.severity]);
  if (filter.outcome !== undefined) query = query.where('outcome', '=', filter.outcome);
  if (filter.ip !== undefined) query = query.where('ip', '=', filter.ip);
  if (filter.beforeSeq !== undefined) query = query.where('seq', '<', filter.beforeSeq);
  if (filter.afterSeq !== undefined) query = query.where('seq', '>', filter.afterSeq);
  return query;
}

/** Newest first. */
export async function listEvents(db: Db, filter: AuditFilter, limit: number): Promise<AuditEventRow[]> {
  const rows = await filtered(db, filter).selectAll().orderBy('seq', 'desc').limit(limit).execute();
  return rows.map(normalize);
}

/** Oldest first: exports and verification walk the log with these pages. */
export async function listEventsForward(
  db: Db,
  filter: AuditFilter,
  limit: number,
): Promise<AuditEventRow[]> {
  const rows = await filtered(db, filter).selectAll().orderBy('seq').limit(limit).execute();
  return rows.map(normalize);
}

export async function countEvents(
  db: Db,
  filter: AuditFilter,
): Promise<{ name: string; severity: string; outcome: string; count: number }[]> {
  const rows = await filtered(db, filter)
    .select(['name', 'severity', 'outcome', sql<number>`count(*)`.as('count')])
    .groupBy(['name', 'severity', 'outcome'])
    .execute();
  return rows.map((row) => ({ ...row, count: Number(row.count) }));
}

/** Counts per time bucket (epoch-aligned, `bucketMs` wide) and name, for charts. */
export async function countsOverTime(
  db: Db,
  filter: AuditFilter,
  bucketMs: number,
): Promise<{ bucket: number; name: string; count: number }[]> {
  const bucket = sql<number>`(${sql.ref('time')} / ${sql.lit(bucketMs)})`;
  const rows = await filtered(db, filter)
    .select([bucket.as('bucket'), 'name', sql<number>`count(*)`.as('count')])
    .groupBy([bucket, 'name'])
    .orderBy(bucket)
    .execute();
  return rows.map((row) => ({ bucket: Number(row.bucket), name: row.name, count: Number(row.count) }));
}

export async function topIps(
  db: Db,
  filter: AuditFilter,
  limit: number,
): Promise<{ ip: string; count: number }[]> {
  const rows = await filtered(db, filter)
    .where('ip', 'is not', null)
    .select(['ip', sql<number>`count(*)`.as('count')])
    .groupBy('ip')
    .orderBy(sql`count(*)`, 'desc')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ ip: row.ip as string, count: Number(row.count) }));
}

export async function insertCheckpoint(db: Db, row: CheckpointRow): Promise<boolean> {
  const result = await db
    .insertInto('audit_checkpoints')
    .values(row)
    .onConflict((conflict) => conflict.column('tree_size').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
}

const normalizeCheckpoint = (row: CheckpointRow): CheckpointRow => ({
  ...row,
  tree_size: Number(row.tree_size),
  time: Number(row.time),
});

export async function listCheckpoints(db: Db): Promise<CheckpointRow[]> {
  const rows = await db.selectFrom('audit_checkpoints').selectAll().orderBy('tree_size').execute();
  return rows.map(normalizeCheckpoint);
}

export async function latestCheckpoint(db: Db): Promise<CheckpointRow | undefined> {
  const row = await db
    .selectFrom('audit_checkpoints')
    .selectAll()
    .orderBy('tree_size', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && normalizeCheckpoint(row);
}

export async function checkpointOfSize(db: Db, size: number): Promise<CheckpointRow | undefined> {
  const row = await db
    .selectFrom('audit_checkpoints')
    .selectAll()
    .where('tree_size', '=', size)
    .executeTakeFirst();
  return row && normalizeCheckpoint(row);
}

/**
 * Retention: clears the content of events of `severity` older than `before` (position, time, name, severity,
 * hash and tag stay, so the tree still verifies). The database trigger allows exactly this change.
 */
export async function pruneEvents(db: Db, severity: string, before: number, now: number): Promise<number> {
  const result = await db
    .updateTable('audit_events')
    .set({
      actor_id: null,
      target_type: null,
      target_id: null,
      organization_id: null,
      ip: null,
      user_agent: null,
      request_id: null,
      details: null,
      pruned_at: now,
    })
    .where('severity', '=', severity)
    .where('time', '<', before)
    .where('pruned_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
