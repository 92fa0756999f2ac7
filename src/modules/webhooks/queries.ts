import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../../platform/db/tables.js';

export interface WebhooksTable {
  id: string;
  name: string;
  url: string;
  /** JSON array of event patterns: an exact name, a prefix ending in `.` or `*`, or `*`. */
  events: string;
  /** Sealed by the keyring: read back to sign each request. */
  secret: string;
  enabled: number;
  created_by: string | null;
  created_at: number;
  updated_at: number;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'dead';

export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  event_id: string;
  event_name: string;
  /** The exact JSON body sent (and signed) on every try, so a replay sends the same bytes. */
  body: string;
  status: DeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface WebhookAttemptsTable {
  id: string;
  delivery_id: string;
  at: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

declare module '../../platform/db/tables.js' {
  interface Tables {
    webhooks: WebhooksTable;
    webhook_deliveries: WebhookDeliveriesTable;
    webhook_attempts: WebhookAttemptsTable;
  }
}

type Db = Kysely<Tables> | Transaction<Tables>;
export type WebhookRow = WebhooksTable;
export type DeliveryRow = WebhookDeliveriesTable;
export type AttemptRow = WebhookAttemptsTable;

export async function insertWebhook(db: Db, row: WebhookRow): Promise<void> {
  await db.insertInto('webhooks').values(row).execute();
}

export async function findWebhook(db: Db, id: string): Promise<WebhookRow | undefined> {
  return db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listWebhooks(db: Db, options: { enabledOnly?: boolean } = {}): Promise<WebhookRow[]> {
  let query = db.selectFrom('webhooks').selectAll();
  if (options.enabledOnly) query = query.where('enabled', '=', 1);
  return query.orderBy('created_at').execute();
}

export async function updateWebhook(
  db: Db,
  id: string,
  change: Partial<Pick<WebhookRow, 'name' | 'url' | 'events' | 'secret' | 'enabled' | 'updated_at'>>,
): Promise<WebhookRow | undefined> {
  return db.updateTable('webhooks').set(change).where('id', '=', id).returningAll().executeTakeFirst();
}

export async function deleteWebhook(db: Db, id: string): Promise<boolean> {
  const result = await db.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

/** Adds a delivery unless this webhook already has one for this event (a batch handed over twice). */
export async function insertDelivery(db: Db, row: DeliveryRow): Promise<boolean> {
  const inserted = await db
    .insertInto('webhook_deliveries')
    .values(row)
    .onConflict((conflict) => conflict.columns(['webhook_id', 'event_id']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function findDelivery(db: Db, id: string): Promise<DeliveryRow | undefined> {
  return db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listDeliveries(
  db: Db,
  webhookId: string,
  filter: { status?: DeliveryStatus | undefined; limit: number; before?: string | undefined },
): Promise<DeliveryRow[]> {
  let query = db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.before) query = query.where('id', '<', filter.before);
  return query.orderBy('id', 'desc').limit(filter.limit).execute();
}

export async function updateDelivery(
  db: Db,
  id: string,
  change: Partial<
    Pick<DeliveryRow, 'status' | 'attempts' | 'last_status_code' | 'last_error' | 'updated_at'>
  >,
): Promise<void> {
  await db.updateTable('webhook_deliveries').set(change).where('id', '=', id).execute();
}

export async function insertAttempt(db: Db, row: AttemptRow): Promise<void> {
  await db.insertInto('webhook_attempts').values(row).execute();
}

export async function listAttempts(db: Db, deliveryId: string): Promise<AttemptRow[]> {
  return db
    .selectFrom('webhook_attempts')
    .selectAll()
    .where('delivery_id', '=', deliveryId)
    .orderBy('at')
    .execute();
}
