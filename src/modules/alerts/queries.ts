import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../../platform/db/tables.js';

export interface AlertRulesTable {
  id: string;
  name: string;
  enabled: number;
  source: 'events' | 'audit_writer';
  event_pattern: string | null;
  outcome: string | null;
  threshold: number;
  window_seconds: number;
  cooldown_seconds: number;
  severity: 'info' | 'warning' | 'critical';
  /** Sealed JSON array of channels (they carry webhook tokens and routing keys). */
  channels: string;
  last_fired_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface AlertFiringsTable {
  id: string;
  rule_id: string;
  fired_at: number;
  count: number;
  summary: string;
}

declare module '../../platform/db/tables.js' {
  interface Tables {
    alert_rules: AlertRulesTable;
    alert_firings: AlertFiringsTable;
  }
}

type Db = Kysely<Tables> | Transaction<Tables>;
export type RuleRow = AlertRulesTable;
export type FiringRow = AlertFiringsTable;

export async function insertRule(db: Db, row: RuleRow): Promise<void> {
  await db.insertInto('alert_rules').values(row).execute();
}

export async function findRule(db: Db, id: string): Promise<RuleRow | undefined> {
  return db.selectFrom('alert_rules').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listRules(db: Db, options: { enabledOnly?: boolean } = {}): Promise<RuleRow[]> {
  let query = db.selectFrom('alert_rules').selectAll();
  if (options.enabledOnly) query = query.where('enabled', '=', 1);
  return query.orderBy('created_at').execute();
}

export async function updateRule(
  db: Db,
  id: string,
  change: Partial<Omit<RuleRow, 'id' | 'created_at' | 'last_fired_at'>>,
): Promise<RuleRow | undefined> {
  return db.updateTable('alert_rules').set(change).where('id', '=', id).returningAll().executeTakeFirst();
}

export async function deleteRule(db: Db, id: string): Promise<void> {
  await db.deleteFrom('alert_rules').where('id', '=', id).execute();
}

/** Marks a rule fired, only if nobody else did since `previous` was read: each firing happens once. */
export async function markFired(db: Db, id: string, previous: number | null, now: number): Promise<boolean> {
  const result = await db
    .updateTable('alert_rules')
    .set({ last_fired_at: now })
    .where('id', '=', id)
    .where((eb) => (previous === null ? eb('last_fired_at', 'is', null) : eb('last_fired_at', '=', previous)))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function insertFiring(db: Db, row: FiringRow): Promise<void> {
  await db.insertInto('alert_firings').values(row).execute();
}

export async function findFiring(db: Db, id: string): Promise<FiringRow | undefined> {
  return db.selectFrom('alert_firings').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listFirings(db: Db, ruleId: string, limit: number): Promise<FiringRow[]> {
  return db
    .selectFrom('alert_firings')
    .selectAll()
    .where('rule_id', '=', ruleId)
    .orderBy('fired_at', 'desc')
    .limit(limit)
    .execute();
}
