import { appendFile } from 'node:fs/promises';
import { stringify } from 'csv-stringify/sync';
import type { Registry } from 'prom-client';
import {
  type AuditKeyring,
  type AuditPublicJwk,
  checkEventTag,
  checkpointSignatureValid,
  eventTag,
  signCheckpoint,
} from '../../platform/audit/keys.js';
import { leafData } from '../../platform/audit/leaf.js';
import {
  appendLeaf,
  consistencyProof,
  decodeFrontier,
  emptyFrontier,
  encodeFrontier,
  type Frontier,
  fromHex,
  frontierRoot,
  inclusionProof,
  leafHash,
  toHex,
} from '../../platform/audit/merkle.js';

/** A stored hash as bytes; a malformed one (edited by hand) becomes zeros, which matches nothing. */
function hashOf(hex: string): Buffer {
  try {
    return fromHex(hex);
  } catch {
    return Buffer.alloc(32);
  }
}

import type { AuditRecord, Severity } from '../../platform/audit/types.js';
import { SEVERITIES } from '../../platform/audit/types.js';
import type { AuditDraft } from '../../platform/audit/writer.js';
import type { Clock } from '../../platform/clock.js';
import type { DatabaseHandle, Transaction } from '../../platform/db/connection.js';
import type { Tables } from '../../platform/db/tables.js';
import { GatehouseError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import { AuditErrors } from './errors.js';
import {
  type AuditEventRow,
  type AuditFilter,
  appendRows,
  type CheckpointRow,
  checkpointOfSize,
  countEvents,
  countsOverTime,
  findEvent,
  insertCheckpoint,
  latestCheckpoint,
  leafHashes,
  listCheckpoints,
  listEvents,
  listEventsForward,
  lockTree,
  pruneEvents,
  readTree,
  topIps,
} from './queries.js';
import type { AuditSettings } from './settings.js';

export type { AuditFilter } from './queries.js';

const DAY_MS = 86_400_000;
const PAGE = 2_000;

interface PreparedEvent {
  readonly draft: AuditDraft;
  readonly detailsText: string;
  readonly leaf: Buffer;
  readonly hash: string;
}

export interface Checkpoint {
  readonly treeSize: number;
  readonly rootHash: string;
  readonly time: number;
  readonly keyId: string;
  readonly signature: string;
}

/** One thing `verify` found wrong, naming the event and position concerned. */
export interface AuditFinding {
  readonly kind:
    | 'changed'
    | 'deleted'
    | 'inserted'
    | 'reordered'
    | 'pruned_early'
    | 'unknown_key'
    | 'checkpoint_mismatch'
    | 'checkpoint_signature'
    | 'truncated';
  readonly seq?: number;
  readonly id?: string;
  readonly message: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly events: number;
  readonly checkpoints: number;
  readonly latestCheckpoint?: Checkpoint | undefined;
  /** Events after the latest checkpoint: checked one by one, not yet covered by a signature. */
  readonly uncheckpointed: number;
  readonly findings: readonly AuditFinding[];
}

export interface AuditLogDependencies {
  readonly database: DatabaseHandle;
  readonly clock: Clock;
  readonly keys: AuditKeyring;
  readonly logger: Logger;
  readonly settings: AuditSettings;
  readonly registry?: Registry | undefined;
  /** Sends a new checkpoint to the configured webhook (outside the database). */
  readonly postCheckpoint?: (url: string, checkpoint: Checkpoint) => Promise<void>;
}

const checkpointOf = (row: CheckpointRow): Checkpoint => ({
  treeSize: row.tree_size,
  rootHash: row.root_hash,
  time: row.time,
  keyId: row.key_id,
  signature: row.signature,
});

export function recordOf(row: AuditEventRow): AuditRecord {
  return {
    seq: row.seq,
    id: row.id,
    time: row.time,
    name: row.name,
    severity: row.severity as Severity,
    outcome: row.outcome as AuditRecord['outcome'],
    actorType: row.actor_type as AuditRecord['actorType'],
    actorId: row.actor_id,
    targetType: row.target_type,
    targetId: row.target_id,
    organizationId: row.organization_id,
    ip: row.ip,
    userAgent: row.user_agent,
    requestId: row.request_id,
    details: row.details === null ? null : (JSON.parse(row.details) as Record<string, unknown>),
  };
}

function leafOfRow(row: AuditEventRow): string {
  return leafData(recordOf(row), row.details);
}

/**
 * The tamper-evident audit log: appends (positions, leaf hashes, tags, tree frontier in one transaction),
 * signed checkpoints, verification, proofs, queries, exports and retention.
 */
export function createAuditLog(deps: AuditLogDependencies) {
  const { database, clock, keys, logger, settings } = deps;

  /** Appends drafts in order under the tree lock; the writer calls this with each batch. */
  /** What does not depend on the position (details text, leaf hash) is computed before the lock is taken. */
  const prepare = (draft: AuditDraft): PreparedEvent => {
    const detailsText = JSON.stringify(draft.details);
    const leaf = leafHash(leafData(draft, detailsText));
    return { draft, detailsText, leaf, hash: toHex(leaf) };
  };

  async function append(drafts: readonly AuditDraft[]): Promise<AuditRecord[]> {
    const prepared = drafts.map(prepare);
    return database.transaction((trx) => appendPrepared(trx, prepared));
  }

  /** The same, inside the caller's transaction: the records commit (or not) with the caller's change. */
  async function appendWithin(
    trx: Transaction<Tables>,
    drafts: readonly AuditDraft[],
  ): Promise<AuditRecord[]> {
    return appendPrepared(trx, drafts.map(prepare));
  }

  async function appendPrepared(
    trx: Transaction<Tables>,
    prepared: readonly PreparedEvent[],
  ): Promise<AuditRecord[]> {
    const tree = await lockTree(trx);
    let frontier = decodeFrontier(tree.frontier);
    const rows: AuditEventRow[] = [];
    const records: AuditRecord[] = [];
    prepared.forEach(({ draft, detailsText, leaf, hash }, index) => {
      const seq = tree.size + index;
      frontier = appendLeaf(frontier, leaf);
      rows.push({
        seq,
        id: draft.id,
        time: draft.time,
        name: draft.name,
        severity: draft.severity,
        outcome: draft.outcome,
        actor_type: draft.actorType,
        actor_id: draft.actorId,
        target_type: draft.targetType,
        target_id: draft.targetId,
        organization_id: draft.organizationId,
        ip: draft.ip,
        user_agent: draft.userAgent,
        request_id: draft.requestId,
        details: detailsText,
        leaf_hash: hash,
        tag: eventTag(keys.active, seq, hash),
        pruned_at: null,
      });
      records.push({ ...draft, seq });
    });
    await appendRows(trx, rows, { size: frontier.size, frontier: encodeFrontier(frontier) });
    return records;
  }

  async function exportCheckpoint(checkpoint: Checkpoint): Promise<void> {
    const line = { ...checkpoint, publicKey: keys.get(checkpoint.keyId)?.publicJwk };
    const { exportFile, exportWebhookUrl } = settings.checkpoints;
    if (exportFile) {
      await appendFile(exportFile, `${JSON.stringify(line)}\n`, { mode: 0o640 }).catch((error: unknown) =>
        logger.error({ err: error, file: exportFile }, 'audit checkpoint could not be written to its file'),
      );
    }
    if (exportWebhookUrl && deps.postCheckpoint) {
      await deps
        .postCheckpoint(exportWebhookUrl, checkpoint)
        .catch((error: unknown) =>
          logger.error({ err: error }, 'audit checkpoint could not be sent to its webhook'),
        );
    }
  }

  /** Signs the current tree head if the log grew since the last checkpoint. Safe on several nodes at once. */
  async function checkpoint(): Promise<Checkpoint | undefined> {
    const tree = await readTree(database.db);
    const latest = await latestCheckpoint(database.db);
    if (tree.size === 0 || (latest && latest.tree_size >= tree.size)) return latest && checkpointOf(latest);
    const rootHash = toHex(frontierRoot(decodeFrontier(tree.frontier)));
    const time = clock.now();
    const made: Checkpoint = {
      treeSize: tree.size,
      rootHash,
      time,
      keyId: keys.active.id,
      signature: signCheckpoint(keys.active, tree.size, rootHash, time),
    };
    const inserted = await insertCheckpoint(database.db, {
      tree_size: made.treeSize,
      root_hash: made.rootHash,
      time: made.time,
      key_id: made.keyId,
      signature: made.signature,
    });
    if (!inserted) {
      // Another node signed this size first; theirs is the one stored.
      const stored = await checkpointOfSize(database.db, tree.size);
      return stored && checkpointOf(stored);
    }
    logger.info({ treeSize: made.treeSize, rootHash }, 'audit checkpoint signed');
    await exportCheckpoint(made);
    return made;
  }

  function retentionCutoff(severity: Severity, now: number): number | undefined {
    const days = settings.retention[severity];
    return days > 0 ? now - days * DAY_MS : undefined;
  }

  /**
   * Recomputes every leaf from its row, checks every tag and every checkpoint's root and signature. Tags
   * (keyed by the keyring) say exactly which row is wrong; checkpoints prove the whole to anyone with the
   * public key, and catch rows removed from the end.
   */
  async function verify(): Promise<VerifyReport> {
    const findings: AuditFinding[] = [];
    const checkpoints = await listCheckpoints(database.db);
    let nextCheckpoint = 0;
    let frontier: Frontier = emptyFrontier();
    let expected = 0;
    const now = clock.now();
    // Rows whose tag does not match their position: moved ones match another position, forged ones none.
    const untagged: AuditEventRow[] = [];
    const missing: number[] = [];

    const checkCheckpoints = () => {
      while (
        nextCheckpoint < checkpoints.length &&
        checkpoints[nextCheckpoint]!.tree_size === frontier.size
      ) {
        const stored = checkpoints[nextCheckpoint]!;
        nextCheckpoint += 1;
        const key = keys.get(stored.key_id);
        if (!key) {
          findings.push({
            kind: 'unknown_key',
            message: `checkpoint at size ${stored.tree_size} is signed by key ${stored.key_id}, which the keyring does not hold`,
          });
        } else if (!checkpointSignatureValid(key, checkpointOf(stored))) {
          findings.push({
            kind: 'checkpoint_signature',
            message: `checkpoint at size ${stored.tree_size} has an invalid signature`,
          });
        }
        if (toHex(frontierRoot(frontier)) !== stored.root_hash) {
          findings.push({
            kind: 'checkpoint_mismatch',
            message: `the events up to position ${stored.tree_size - 1} do not hash to the root signed at size ${stored.tree_size}`,
          });
        }
      }
    };

    for (let page = await listEventsForward(database.db, {}, PAGE); page.length > 0; ) {
      for (const row of page) {
        while (expected < row.seq) {
          missing.push(expected);
          // The leaf is unknown; a placeholder keeps positions aligned so later checkpoints still compare.
          frontier = appendLeaf(frontier, Buffer.alloc(32));
          expected += 1;
          checkCheckpoints();
        }
        const tag = checkEventTag(keys, row.seq, row.leaf_hash, row.tag);
        let leaf = hashOf(row.leaf_hash);
        if (row.pruned_at === null) {
          const recomputed = leafHash(leafOfRow(row));
          if (toHex(recomputed) !== row.leaf_hash && tag === 'valid') {
            findings.push({
              kind: 'changed',
              seq: row.seq,
              id: row.id,
              message: `event ${row.id} (position ${row.seq}, ${row.name}) was changed after it was written`,
            });
          }
          leaf = recomputed;
        } else {
          const cutoff = retentionCutoff(row.severity as Severity, now);
          if (cutoff === undefined || row.time >= cutoff) {
            findings.push({
              kind: 'pruned_early',
              seq: row.seq,
              id: row.id,
              message: `event ${row.id} (position ${row.seq}) lost its content before its retention period ended`,
            });
          }
        }
        if (tag === 'unknown_key') {
          findings.push({
            kind: 'unknown_key',
            seq: row.seq,
            id: row.id,
            message: `event ${row.id} (position ${row.seq}) is tagged with a key the keyring does not hold`,
          });
        } else if (tag === 'invalid') {
          untagged.push(row);
        }
        frontier = appendLeaf(frontier, leaf);
        expected = row.seq + 1;
        checkCheckpoints();
      }
      const last = page.at(-1)!.seq;
      page = await listEventsForward(database.db, { afterSeq: last }, PAGE);
    }

    // Positions a tag names that no row holds: candidates for where a moved row came from.
    const candidates = new Set<number>([...missing, ...untagged.map((row) => row.seq)]);
    const explained = new Set<number>();
    for (const row of untagged.slice(0, 5_000)) {
      const nearby = [...candidates, row.seq - 1, row.seq + 1].filter((seq) => seq >= 0 && seq !== row.seq);
      const from = nearby.find((seq) => checkEventTag(keys, seq, row.leaf_hash, row.tag) === 'valid');
      if (from !== undefined) {
        explained.add(from);
        findings.push({
          kind: 'reordered',
          seq: row.seq,
          id: row.id,
          message: `event ${row.id} was written at position ${from} and now sits at position ${row.seq}`,
        });
      } else {
        findings.push({
          kind: 'inserted',
          seq: row.seq,
          id: row.id,
          message: `the row at position ${row.seq} (${row.id}) was not written by Gatehouse: inserted, or rewritten with its hash`,
        });
      }
    }
    for (const seq of missing) {
      if (explained.has(seq)) continue;
      findings.push({ kind: 'deleted', seq, message: `the event at position ${seq} was deleted` });
    }
    for (const stored of checkpoints.slice(nextCheckpoint)) {
      findings.push({
        kind: 'truncated',
        message: `checkpoint at size ${stored.tree_size} signed events up to position ${stored.tree_size - 1}, but the log ends at ${expected}: events were deleted from the end`,
      });
    }
    findings.sort((a, b) => (a.seq ?? Number.MAX_SAFE_INTEGER) - (b.seq ?? Number.MAX_SAFE_INTEGER));
    const latest = checkpoints.at(-1);
    return {
      ok: findings.length === 0,
      events: expected,
      checkpoints: checkpoints.length,
      latestCheckpoint: latest && checkpointOf(latest),
      uncheckpointed: Math.max(0, expected - (latest?.tree_size ?? 0)),
      findings,
    };
  }

  async function leavesUpTo(size: number): Promise<Buffer[]> {
    const rows = await leafHashes(database.db, size);
    if (rows.length !== size || rows.some((row, index) => row.seq !== index)) {
      throw new GatehouseError('internal_error', 'the audit log has gaps; run `gatehouse audit verify`');
    }
    return rows.map((row) => hashOf(row.leaf_hash));
  }

  function publicKeyOf(keyId: string): AuditPublicJwk | undefined {
    return keys.get(keyId)?.publicJwk;
  }

  /** An inclusion proof of one event in the latest checkpoint (or the one of `treeSize`). */
  async function inclusion(id: string, treeSize?: number) {
    const row = await findEvent(database.db, id);
    if (!row) throw new GatehouseError(AuditErrors.audit_event_not_found, `No audit event ${id}`);
    const stored =
      treeSize === undefined
        ? await latestCheckpoint(database.db)
        : await checkpointOfSize(database.db, treeSize);
    if (treeSize !== undefined && !stored) {
      throw new GatehouseError(AuditErrors.audit_checkpoint_not_found, `No checkpoint of size ${treeSize}`);
    }
    if (!stored || stored.tree_size <= row.seq) {
      throw new GatehouseError(
        AuditErrors.audit_event_not_checkpointed,
        `Event ${id} is at position ${row.seq}; the latest checkpoint covers ${stored?.tree_size ?? 0} events`,
      );
    }
    const leaves = await leavesUpTo(stored.tree_size);
    return {
      kind: 'inclusion' as const,
      event: recordOf(row),
      leafIndex: row.seq,
      leafData: row.pruned_at === null ? leafOfRow(row) : null,
      leafHash: row.leaf_hash,
      checkpoint: checkpointOf(stored),
      inclusionProof: inclusionProof(leaves, row.seq, stored.tree_size).map(toHex),
      publicKey: publicKeyOf(stored.key_id),
    };
  }

  /** A consistency proof between two checkpoints: the later tree extends the earlier one unchanged. */
  async function consistency(fromSize: number, toSize: number) {
    const [from, to] = await Promise.all([
      checkpointOfSize(database.db, fromSize),
      checkpointOfSize(database.db, toSize),
    ]);
    if (!from || !to) {
      throw new GatehouseError(
        AuditErrors.audit_checkpoint_not_found,
        `No checkpoint of size ${from ? toSize : fromSize}`,
      );
    }
    if (fromSize > toSize) {
      throw new GatehouseError(AuditErrors.audit_query_invalid, '`from` must not be larger than `to`');
    }
    const leaves = await leavesUpTo(toSize);
    return {
      kind: 'consistency' as const,
      from: checkpointOf(from),
      to: checkpointOf(to),
      consistencyProof: consistencyProof(leaves, fromSize, toSize).map(toHex),
      publicKeys: [...new Set([from.key_id, to.key_id])]
        .map(publicKeyOf)
        .filter((key): key is AuditPublicJwk => key !== undefined),
    };
  }

  async function list(filter: AuditFilter, limit: number) {
    const rows = await listEvents(database.db, filter, limit + 1);
    const page = rows.slice(0, limit).map(recordOf);
    return { events: page, nextCursor: rows.length > limit ? String(page.at(-1)!.seq) : undefined };
  }

  const CSV_COLUMNS = [
    'seq',
    'id',
    'time',
    'name',
    'severity',
    'outcome',
    'actorType',
    'actorId',
    'targetType',
    'targetId',
    'organizationId',
    'ip',
    'userAgent',
    'requestId',
    'details',
  ] as const;

  /**
   * The matching events oldest first, as CSV or NDJSON text chunks, one page at a time: memory stays
   * constant whatever the size of the log.
   */
  async function* exportEvents(filter: AuditFilter, format: 'csv' | 'ndjson'): AsyncGenerator<string> {
    if (format === 'csv') yield stringify([CSV_COLUMNS as unknown as string[]]);
    let after = filter.afterSeq;
    for (;;) {
      const rows = await listEventsForward(database.db, { ...filter, afterSeq: after }, PAGE);
      if (rows.length === 0) return;
      const records = rows.map(recordOf);
      if (format === 'ndjson') {
        yield records
          .map((record) => `${JSON.stringify({ ...record, time: new Date(record.time).toISOString() })}\n`)
          .join('');
      } else {
        yield stringify(
          records.map((record) =>
            CSV_COLUMNS.map((column) => {
              if (column === 'time') return new Date(record.time).toISOString();
              if (column === 'details') return record.details === null ? '' : JSON.stringify(record.details);
              return record[column] ?? '';
            }),
          ),
          // A cell starting with = + - @ would run as a formula in a spreadsheet.
          { escape_formulas: true },
        );
      }
      after = rows.at(-1)!.seq;
    }
  }

  /** Clears the content of events past their severity's retention. */
  async function prune(): Promise<Record<Severity, number>> {
    const now = clock.now();
    const counts = { low: 0, medium: 0, high: 0, critical: 0 };
    for (const severity of SEVERITIES) {
      const cutoff = retentionCutoff(severity, now);
      if (cutoff !== undefined) counts[severity] = await pruneEvents(database.db, severity, cutoff, now);
    }
    return counts;
  }

  async function stats(filter: AuditFilter, options: { top?: number; bucketMs?: number } = {}) {
    const [counts, ips, series] = await Promise.all([
      countEvents(database.db, filter),
      topIps(database.db, filter, options.top ?? 10),
      options.bucketMs ? countsOverTime(database.db, filter, options.bucketMs) : Promise.resolve([]),
    ]);
    return { counts, topIps: ips, series };
  }

  /** The events at positions `from` to `to`, both included, oldest first (forwarding reads its batches so). */
  async function range(from: number, to: number): Promise<AuditRecord[]> {
    const rows = await listEventsForward(
      database.db,
      { afterSeq: from - 1, beforeSeq: to + 1 },
      to - from + 1,
    );
    return rows.map(recordOf);
  }

  /** How many events match (alert rules count over a window with this). */
  async function count(filter: AuditFilter): Promise<number> {
    return (await countEvents(database.db, filter)).reduce((sum, row) => sum + row.count, 0);
  }

  return {
    append,
    appendWithin,
    count,
    range,
    checkpoint,
    verify,
    inclusion,
    consistency,
    list,
    exportEvents,
    prune,
    stats,
    publicKeys: () => keys.all.map((key) => ({ ...key.publicJwk, fingerprint: key.fingerprint })),
    treeSize: async () => (await readTree(database.db)).size,
    checkpoints: async () => (await listCheckpoints(database.db)).map(checkpointOf),
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
