import type { Transaction } from 'kysely';
import { Counter, type Registry } from 'prom-client';
import type { AuditRecord } from '../../platform/audit/types.js';
import type { Clock } from '../../platform/clock.js';
import type { SealedBox } from '../../platform/crypto/sealed.js';
import { randomToken } from '../../platform/crypto/tokens.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import type { Tables } from '../../platform/db/tables.js';
import { GatehouseError } from '../../platform/errors.js';
import { changeWithRecord, type EventRecorder, type SecurityEvent } from '../../platform/events.js';
import { newId } from '../../platform/ids.js';
import type { JobContext, JobQueue } from '../../platform/jobs/queue.js';
import type { Logger } from '../../platform/logger.js';
import type { Breakers } from '../../platform/outbound/breakers.js';
import { assertCallableUrl } from '../../platform/outbound/destinations.js';
import { postJson } from '../../platform/outbound/post.js';
import { signWebhookBody } from '../../platform/outbound/signature.js';
import type { PubSub } from '../../platform/pubsub.js';
import { WebhookErrors } from './errors.js';
import { WebhookEvents } from './events.js';
import {
  type AttemptRow,
  type DeliveryRow,
  type DeliveryStatus,
  deleteWebhook,
  findDelivery,
  findWebhook,
  insertAttempt,
  insertDelivery,
  insertWebhook,
  listAttempts,
  listDeliveries,
  listWebhooks,
  updateDelivery,
  updateWebhook,
  type WebhookRow,
} from './queries.js';

export const DELIVER_JOB = 'webhook.deliver';
const CHANGED_CHANNEL = 'webhooks.changed';

export interface WebhookView {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly events: readonly string[];
  readonly enabled: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface DeliveryView {
  readonly id: string;
  readonly webhookId: string;
  readonly eventId: string;
  readonly eventName: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly lastStatusCode: number | null;
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface WebhookInput {
  readonly name: string;
  readonly url: string;
  readonly events: readonly string[];
  readonly enabled?: boolean | undefined;
}

export interface WebhookActor {
  readonly actorUserId?: string | undefined;
}

/** `*`, an exact event name, or a prefix ending in `.` or `*` (`auth.` and `auth.*` alike). */
export function eventMatches(pattern: string, name: string): boolean {
  if (pattern === '*' || pattern === name) return true;
  if (pattern.endsWith('*')) return name.startsWith(pattern.slice(0, -1));
  return pattern.endsWith('.') && name.startsWith(pattern);
}

const PATTERN = /^(\*|[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*(\.|\.\*|\*)?)$/;

const webhookView = (row: WebhookRow): WebhookView => ({
  id: row.id,
  name: row.name,
  url: row.url,
  events: JSON.parse(row.events) as string[],
  enabled: row.enabled === 1,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const deliveryView = (row: DeliveryRow): DeliveryView => ({
  id: row.id,
  webhookId: row.webhook_id,
  eventId: row.event_id,
  eventName: row.event_name,
  status: row.status,
  attempts: row.attempts,
  lastStatusCode: row.last_status_code,
  lastError: row.last_error,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const attemptView = (row: AttemptRow) => ({
  at: row.at,
  statusCode: row.status_code,
  error: row.error,
  durationMs: row.duration_ms,
});

/**
 * Webhooks: operators subscribe HTTPS endpoints to audit and security events. Each committed event that a
 * webhook's patterns match becomes a delivery; the job queue sends it (signed with the webhook's secret, the
 * same `Gatehouse-Signature` scheme as audit forwarding), retries it with backoff, and marks it dead after the
 * last try. Every try is kept with what the endpoint answered; a delivery can be replayed. Calls go through
 * a circuit breaker per webhook, and to public addresses only unless `outbound.allowPrivateNetworks`.
 */
export function createWebhookService(deps: {
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  jobs: JobQueue;
  breakers: Breakers;
  sealedBox: SealedBox;
  events: EventRecorder;
  pubsub: PubSub;
  settings: { allowPrivateNetworks: boolean; timeoutMs: number; maxAttempts: number };
  registry?: Registry | undefined;
}) {
  const { database, clock, logger, jobs, breakers, sealedBox, settings } = deps;
  const deliveries = new Counter({
    name: 'gatehouse_webhook_deliveries_total',
    help: 'Webhook delivery tries by outcome (succeeded, failed).',
    labelNames: ['outcome'],
    registers: deps.registry ? [deps.registry] : [],
  });
  const sealedSecret = (id: string) => ({ table: 'webhooks', column: 'secret', row: id });

  async function require(id: string): Promise<WebhookRow> {
    const row = await findWebhook(database.db, id);
    if (!row) throw new GatehouseError(WebhookErrors.webhook_not_found, `No webhook ${id}`);
    return row;
  }

  async function validated(input: Partial<WebhookInput>): Promise<Partial<WebhookInput>> {
    if (input.url !== undefined) {
      await assertCallableUrl(input.url, {
        allowPrivateNetworks: settings.allowPrivateNetworks,
        field: 'url',
      });
    }
    if (input.events !== undefined) {
      const wrong = input.events.filter((pattern) => !PATTERN.test(pattern));
      if (input.events.length === 0 || wrong.length > 0) {
        throw new GatehouseError(
          WebhookErrors.webhook_invalid,
          wrong.length > 0
            ? `events: ${wrong.join(', ')} is not an event name, a prefix (auth. or auth.*) or *`
            : 'events: name at least one event, prefix or *',
        );
      }
    }
    return input;
  }

  /**
   * The enabled webhooks with their patterns, read once and kept until a webhook changes (here, or on another
   * node through pub/sub): dispatch runs after every committed audit batch and must not query for them each time.
   */
  let subscriptions: Promise<{ hook: WebhookRow; patterns: string[] }[]> | undefined;
  const enabledSubscriptions = () =>
    (subscriptions ??= listWebhooks(database.db, { enabledOnly: true })
      .then((hooks) => hooks.map((hook) => ({ hook, patterns: JSON.parse(hook.events) as string[] })))
      .catch((error: unknown) => {
        subscriptions = undefined;
        throw error;
      }));
  const forgetSubscriptions = () => {
    subscriptions = undefined;
  };
  const unsubscribe = deps.pubsub.subscribe(CHANGED_CHANNEL, forgetSubscriptions);

  /** A change and its audit record commit together; then every node reads the subscriptions again. */
  const audited = async <T>(event: SecurityEvent, work: (trx: Transaction<Tables>) => Promise<T>) => {
    const result = await changeWithRecord(database, deps.events, event, work);
    forgetSubscriptions();
    await deps.pubsub.publish(CHANGED_CHANNEL, String(clock.now())).catch((error: unknown) => {
      logger.warn(
        { err: error },
        'could not broadcast a webhook change; other nodes may send to the old list',
      );
    });
    return result;
  };

  const change = (name: string, id: string, actor: WebhookActor, details: Record<string, unknown> = {}) => ({
    name,
    severity: 'medium' as const,
    outcome: 'success' as const,
    actorUserId: actor.actorUserId,
    target: { type: 'webhook', id },
    details,
  });

  async function enqueueDeliveries(
    trx: Transaction<Tables>,
    items: { hook: WebhookRow; event: Pick<AuditRecord, 'id' | 'name'> & Record<string, unknown> }[],
  ) {
    const wakes: (() => void)[] = [];
    const created: DeliveryRow[] = [];
    for (const { hook, event } of items) {
      const now = clock.now();
      const id = newId();
      const row: DeliveryRow = {
        id,
        webhook_id: hook.id,
        event_id: event.id,
        event_name: event.name,
        body: JSON.stringify({ id, webhook: hook.id, event }),
        status: 'pending',
        attempts: 0,
        last_status_code: null,
        last_error: null,
        created_at: now,
        updated_at: now,
      };
      if (!(await insertDelivery(trx, row))) continue;
      const queued = await jobs.enqueueWithin(
        trx,
        DELIVER_JOB,
        { deliveryId: id },
        { idempotencyKey: `webhook:${id}` },
      );
      wakes.push(queued.afterCommit);
      created.push(row);
    }
    return { wakes, created };
  }

  async function deliver(deliveryId: string, context: JobContext): Promise<void> {
    const delivery = await findDelivery(database.db, deliveryId);
    if (!delivery) return; // its webhook was deleted
    const hook = await findWebhook(database.db, delivery.webhook_id);
    if (hook?.enabled !== 1) {
      await updateDelivery(database.db, deliveryId, {
        status: 'failed',
        last_error: 'the webhook is disabled',
        updated_at: clock.now(),
      });
      return;
    }
    const started = performance.now();
    let statusCode: number | null = null;
    let failure: unknown;
    try {
      const secret = sealedBox.open(hook.secret, sealedSecret(hook.id));
      await postJson(
        breakers,
        {
          target: `webhook:${hook.id}`,
          url: hook.url,
          body: delivery.body,
          headers: {
            'gatehouse-event': delivery.event_name,
            'gatehouse-delivery': delivery.id,
            'gatehouse-signature': signWebhookBody(secret, delivery.body, Math.floor(clock.now() / 1000)),
          },
          userAgent: 'Gatehouse-Webhooks',
          timeoutMs: settings.timeoutMs,
          allowPrivateNetworks: settings.allowPrivateNetworks,
        },
        (status) => {
          statusCode = status;
        },
      );
    } catch (error) {
      failure = error;
    }
    const now = clock.now();
    const error =
      failure === undefined
        ? null
        : (failure instanceof Error ? failure.message : String(failure)).slice(0, 500);
    await insertAttempt(database.db, {
      id: newId(),
      delivery_id: deliveryId,
      at: now,
      status_code: statusCode,
      error,
      duration_ms: Math.round(performance.now() - started),
    });
    const status: DeliveryStatus =
      failure === undefined ? 'succeeded' : context.attempt >= context.maxAttempts ? 'dead' : 'failed';
    await updateDelivery(database.db, deliveryId, {
      status,
      attempts: delivery.attempts + 1,
      last_status_code: statusCode,
      last_error: error,
      updated_at: now,
    });
    deliveries.inc({ outcome: failure === undefined ? 'succeeded' : 'failed' });
    if (failure !== undefined) {
      logger.warn({ webhookId: hook.id, deliveryId, statusCode, error }, 'webhook delivery failed');
      throw failure;
    }
  }

  jobs.define<{ deliveryId: string }>(
    DELIVER_JOB,
    ({ deliveryId }, context) => deliver(deliveryId, context),
    {
      maxAttempts: settings.maxAttempts,
      // The queue's limit sits above the call's own, which the breaker enforces.
      timeoutMs: settings.timeoutMs + 5_000,
    },
  );

  return {
    async close(): Promise<void> {
      await (await unsubscribe)();
    },

    /** Creates a webhook; the signing secret is returned this once. */
    async create(
      input: WebhookInput,
      actor: WebhookActor,
    ): Promise<{ webhook: WebhookView; secret: string }> {
      await validated(input);
      const now = clock.now();
      const id = newId();
      const secret = `whsec_${randomToken(32)}`;
      const row: WebhookRow = {
        id,
        name: input.name,
        url: input.url,
        events: JSON.stringify([...new Set(input.events)]),
        secret: sealedBox.seal(secret, sealedSecret(id)),
        enabled: input.enabled === false ? 0 : 1,
        created_by: actor.actorUserId ?? null,
        created_at: now,
        updated_at: now,
      };
      await audited(
        change(WebhookEvents.created, id, actor, { url: input.url, events: input.events }),
        (trx) => insertWebhook(trx, row),
      );
      return { webhook: webhookView(row), secret };
    },

    async list(): Promise<WebhookView[]> {
      return (await listWebhooks(database.db)).map(webhookView);
    },

    async get(id: string): Promise<WebhookView> {
      return webhookView(await require(id));
    },

    async update(id: string, input: Partial<WebhookInput>, actor: WebhookActor): Promise<WebhookView> {
      await require(id);
      await validated(input);
      const row = await audited(change(WebhookEvents.updated, id, actor, { ...input }), (trx) =>
        updateWebhook(trx, id, {
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.url !== undefined ? { url: input.url } : {}),
          ...(input.events !== undefined ? { events: JSON.stringify([...new Set(input.events)]) } : {}),
          ...(input.enabled !== undefined ? { enabled: input.enabled ? 1 : 0 } : {}),
          updated_at: clock.now(),
        }),
      );
      return webhookView(row!);
    },

    /** A new signing secret, returned this once; the old one stops signing at once. */
    async rotateSecret(id: string, actor: WebhookActor): Promise<string> {
      await require(id);
      const secret = `whsec_${randomToken(32)}`;
      await audited(change(WebhookEvents.secretRotated, id, actor), (trx) =>
        updateWebhook(trx, id, { secret: sealedBox.seal(secret, sealedSecret(id)), updated_at: clock.now() }),
      );
      return secret;
    },

    async remove(id: string, actor: WebhookActor): Promise<void> {
      await require(id);
      await audited(change(WebhookEvents.deleted, id, actor), (trx) => deleteWebhook(trx, id));
    },

    /**
     * Turns committed audit records into deliveries for the webhooks that want them (called by the audit
     * writer after each commit, on the node that committed them; must not throw).
     */
    async dispatch(records: readonly AuditRecord[]): Promise<number> {
      try {
        const hooks = await enabledSubscriptions();
        if (hooks.length === 0) return 0;
        const items = records.flatMap((record) =>
          hooks
            .filter(({ patterns }) => patterns.some((pattern) => eventMatches(pattern, record.name)))
            .map(({ hook }) => ({ hook, event: record as AuditRecord & Record<string, unknown> })),
        );
        if (items.length === 0) return 0;
        const { wakes, created } = await database.transaction((trx) => enqueueDeliveries(trx, items));
        for (const wake of wakes) wake();
        return created.length;
      } catch (error) {
        logger.error({ err: error, events: records.length }, 'webhook deliveries could not be queued');
        return 0;
      }
    },

    /** Sends a `webhook.test` event to one webhook now (through the queue), whatever it subscribes to. */
    async test(id: string): Promise<DeliveryView> {
      const hook = await require(id);
      const event = { id: newId(), name: 'webhook.test', time: new Date(clock.now()).toISOString() };
      const { wakes, created } = await database.transaction((trx) =>
        enqueueDeliveries(trx, [{ hook, event }]),
      );
      for (const wake of wakes) wake();
      return deliveryView(created[0]!);
    },

    async deliveries(
      webhookId: string,
      filter: {
        status?: DeliveryStatus | undefined;
        limit?: number | undefined;
        before?: string | undefined;
      },
    ): Promise<DeliveryView[]> {
      await require(webhookId);
      const rows = await listDeliveries(database.db, webhookId, { ...filter, limit: filter.limit ?? 50 });
      return rows.map(deliveryView);
    },

    /** One delivery with every try: when, what the endpoint answered, how long it took. */
    async delivery(id: string) {
      const row = await findDelivery(database.db, id);
      if (!row) throw new GatehouseError(WebhookErrors.webhook_delivery_not_found, `No delivery ${id}`);
      return {
        ...deliveryView(row),
        body: row.body,
        tries: (await listAttempts(database.db, id)).map(attemptView),
      };
    },

    /** Sends a delivery again (the same body), whatever became of it. */
    async replay(id: string, actor: WebhookActor): Promise<DeliveryView> {
      const row = await findDelivery(database.db, id);
      if (!row) throw new GatehouseError(WebhookErrors.webhook_delivery_not_found, `No delivery ${id}`);
      const wake = await audited(
        change(WebhookEvents.replayed, row.webhook_id, actor, { deliveryId: id, event: row.event_name }),
        async (trx) => {
          await updateDelivery(trx, id, { status: 'pending', updated_at: clock.now() });
          return (await jobs.enqueueWithin(trx, DELIVER_JOB, { deliveryId: id })).afterCommit;
        },
      );
      wake();
      return deliveryView((await findDelivery(database.db, id))!);
    },
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;
