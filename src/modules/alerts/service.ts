import type { Transaction } from 'kysely';
import { Counter, type Registry } from 'prom-client';
import type { Clock } from '../../platform/clock.js';
import type { SealedBox } from '../../platform/crypto/sealed.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import type { Tables } from '../../platform/db/tables.js';
import { GatehouseError } from '../../platform/errors.js';
import { changeWithRecord, type EventRecorder, type SecurityEvent } from '../../platform/events.js';
import { escapeHtml } from '../../platform/html.js';
import { newId } from '../../platform/ids.js';
import type { JobQueue } from '../../platform/jobs/queue.js';
import type { Logger } from '../../platform/logger.js';
import type { Breakers } from '../../platform/outbound/breakers.js';
import { assertCallableUrl } from '../../platform/outbound/destinations.js';
import { postJson } from '../../platform/outbound/post.js';
import { signWebhookBody } from '../../platform/outbound/signature.js';
import { AlertErrors } from './errors.js';
import { AlertEvents } from './events.js';
import {
  deleteRule,
  type FiringRow,
  findFiring,
  findRule,
  insertFiring,
  insertRule,
  listFirings,
  listRules,
  markFired,
  type RuleRow,
  updateRule,
} from './queries.js';

export const NOTIFY_JOB = 'alert.notify';
export const EVALUATE_JOB = 'alerts.evaluate';
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

export type AlertChannel =
  | { readonly type: 'email'; readonly to: string }
  | { readonly type: 'slack'; readonly url: string }
  | { readonly type: 'pagerduty'; readonly routingKey: string; readonly url?: string | undefined }
  | { readonly type: 'webhook'; readonly url: string; readonly secret?: string | undefined };

export interface AlertRuleInput {
  readonly name: string;
  readonly enabled?: boolean | undefined;
  /** `events`: a threshold over matching audit events; `audit_writer`: the audit log cannot commit. */
  readonly source: 'events' | 'audit_writer';
  /** For `events`: an event name, a prefix (`auth.` / `auth.*`) or `*`. */
  readonly eventPattern?: string | undefined;
  readonly outcome?: 'success' | 'failure' | undefined;
  /** Fires when more than this many events match in the window (0: any). */
  readonly threshold?: number | undefined;
  readonly windowSeconds?: number | undefined;
  /** At most one firing per rule in this long (de-duplication and rate limit). */
  readonly cooldownSeconds?: number | undefined;
  readonly severity?: 'info' | 'warning' | 'critical' | undefined;
  readonly channels: readonly AlertChannel[];
}

export interface AlertRuleView {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly source: 'events' | 'audit_writer';
  readonly eventPattern: string | null;
  readonly outcome: string | null;
  readonly threshold: number;
  readonly windowSeconds: number;
  readonly cooldownSeconds: number;
  readonly severity: 'info' | 'warning' | 'critical';
  /** Channels with their secrets masked. */
  readonly channels: readonly { type: string; target: string }[];
  readonly lastFiredAt: number | null;
}

interface Firing {
  readonly id: string;
  readonly rule: RuleRow;
  readonly count: number;
  readonly summary: string;
  readonly firedAt: number;
}

const PATTERN = /^(\*|[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*(\.|\.\*|\*)?)$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Where a channel goes, without its secret: enough for an operator to recognise it. */
function maskedTarget(channel: AlertChannel): string {
  switch (channel.type) {
    case 'email':
      return channel.to;
    case 'pagerduty':
      return `routing key …${channel.routingKey.slice(-4)}`;
    default: {
      const url = new URL(channel.url);
      return `${url.origin}/…`;
    }
  }
}

/**
 * Alert rules over the audit log: "more than 50 failed sign-ins in 5 minutes", "any honeytoken use", "a
 * lockout storm", or the audit writer failing. Event rules are evaluated once a minute by one node (a
 * scheduled job); a rule that fires records a firing, is quiet for its cool-down (the compare-and-set on
 * `last_fired_at` makes each firing happen once), and notifies each channel through the job queue and a
 * circuit breaker. The audit-writer rule is checked by every node about its own writer and notifies
 * directly, since the database may be what is failing.
 */
export function createAlertService(deps: {
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  jobs: JobQueue;
  breakers: Breakers;
  sealedBox: SealedBox;
  events: EventRecorder;
  countEvents(filter: { name?: string; outcome?: string; from: number; to: number }): Promise<number>;
  sendMail(mail: { to: string; subject: string; text: string; html: string; tag: string }): Promise<unknown>;
  auditWriterFailing(): { failing: boolean; lastError?: string | undefined };
  settings: { allowPrivateNetworks: boolean; timeoutMs: number };
  productName: string;
  publicUrl: string;
  registry?: Registry | undefined;
}) {
  const { database, clock, logger, jobs, breakers, sealedBox, settings } = deps;
  const sealedChannels = (id: string) => ({ table: 'alert_rules', column: 'channels', row: id });
  const fired = new Counter({
    name: 'gatehouse_alerts_fired_total',
    help: 'Alert rules that fired, by severity.',
    labelNames: ['severity'],
    registers: deps.registry ? [deps.registry] : [],
  });
  const notified = new Counter({
    name: 'gatehouse_alert_notifications_total',
    help: 'Alert notifications by channel type and outcome.',
    labelNames: ['channel', 'outcome'],
    registers: deps.registry ? [deps.registry] : [],
  });
  /** Per node: when each audit-writer rule last fired here (that rule does not rely on the database). */
  const localFirings = new Map<string, number>();
  /** The audit-writer rules as last read, for when the database cannot be read. */
  let writerRules: readonly RuleRow[] = [];

  const channelsOf = (rule: RuleRow): AlertChannel[] =>
    JSON.parse(sealedBox.open(rule.channels, sealedChannels(rule.id))) as AlertChannel[];

  const view = (rule: RuleRow): AlertRuleView => ({
    id: rule.id,
    name: rule.name,
    enabled: rule.enabled === 1,
    source: rule.source,
    eventPattern: rule.event_pattern,
    outcome: rule.outcome,
    threshold: rule.threshold,
    windowSeconds: rule.window_seconds,
    cooldownSeconds: rule.cooldown_seconds,
    severity: rule.severity,
    channels: channelsOf(rule).map((channel) => ({ type: channel.type, target: maskedTarget(channel) })),
    lastFiredAt: rule.last_fired_at,
  });

  async function require(id: string): Promise<RuleRow> {
    const rule = await findRule(database.db, id);
    if (!rule) throw new GatehouseError(AlertErrors.alert_rule_not_found, `No alert rule ${id}`);
    return rule;
  }

  const invalid = (message: string) => new GatehouseError(AlertErrors.alert_rule_invalid, message);

  async function validated(input: AlertRuleInput): Promise<void> {
    if (input.source === 'events' && !(input.eventPattern && PATTERN.test(input.eventPattern))) {
      throw invalid('eventPattern: give an event name, a prefix (auth. or auth.*) or *');
    }
    if (input.channels.length === 0) throw invalid('channels: give at least one');
    for (const [index, channel] of input.channels.entries()) {
      const field = `channels[${index}]`;
      if (channel.type === 'email') {
        if (!EMAIL.test(channel.to)) throw invalid(`${field}.to must be an e-mail address`);
      } else if (channel.type === 'pagerduty') {
        if (!/^[A-Za-z0-9]{20,64}$/.test(channel.routingKey)) {
          throw invalid(`${field}.routingKey must be a PagerDuty integration key`);
        }
        if (channel.url) await assertCallableUrl(channel.url, { ...settings, field: `${field}.url` });
      } else {
        await assertCallableUrl(channel.url, { ...settings, field: `${field}.url` });
        if (channel.type === 'webhook' && channel.secret !== undefined && channel.secret.length < 16) {
          throw invalid(`${field}.secret must be at least 16 characters`);
        }
      }
    }
  }

  const change = (
    name: string,
    id: string,
    actorUserId: string | undefined,
    details = {},
  ): SecurityEvent => ({
    name,
    severity: 'medium',
    outcome: 'success',
    actorUserId,
    target: { type: 'alert_rule', id },
    details,
  });
  const audited = <T>(event: SecurityEvent, work: (trx: Transaction<Tables>) => Promise<T>) =>
    changeWithRecord(database, deps.events, event, work);

  function message(firing: Firing) {
    const { rule } = firing;
    const title = `[${rule.severity}] ${rule.name}`;
    return {
      title,
      text: `${title}: ${firing.summary}`,
      details: {
        rule: { id: rule.id, name: rule.name, source: rule.source, eventPattern: rule.event_pattern },
        count: firing.count,
        threshold: rule.threshold,
        windowSeconds: rule.window_seconds,
        firedAt: new Date(firing.firedAt).toISOString(),
        firingId: firing.id,
        console: `${deps.publicUrl}/admin#/audit`,
      },
    };
  }

  /** Sends one notification on one channel (through that channel's circuit breaker). */
  async function send(channel: AlertChannel, firing: Firing, index: number): Promise<void> {
    const text = message(firing);
    try {
      if (channel.type === 'email') {
        await deps.sendMail({
          to: channel.to,
          subject: `${deps.productName} alert: ${text.title}`,
          text: `${text.text}\n\n${JSON.stringify(text.details, null, 2)}\n`,
          html: `<p>${escapeHtml(text.text)}</p><pre>${escapeHtml(JSON.stringify(text.details, null, 2))}</pre>`,
          tag: 'alert',
        });
      } else {
        const post = (url: string, body: string, headers: Record<string, string> = {}) =>
          postJson(breakers, {
            target: `alert:${firing.rule.id}:${index}`,
            url,
            body,
            headers,
            userAgent: 'Gatehouse-Alerts',
            timeoutMs: settings.timeoutMs,
            allowPrivateNetworks: settings.allowPrivateNetworks,
            field: 'channel',
          });
        if (channel.type === 'slack') {
          await post(channel.url, JSON.stringify({ text: text.text }));
        } else if (channel.type === 'pagerduty') {
          // PagerDuty Events API v2: one open incident per rule (dedup_key) until it is resolved there.
          await post(
            channel.url ?? PAGERDUTY_EVENTS_URL,
            JSON.stringify({
              routing_key: channel.routingKey,
              event_action: 'trigger',
              dedup_key: `gatehouse:${firing.rule.id}`,
              payload: {
                summary: text.text.slice(0, 1024),
                source: new URL(deps.publicUrl).host,
                severity:
                  firing.rule.severity === 'warning'
                    ? 'warning'
                    : firing.rule.severity === 'info'
                      ? 'info'
                      : 'critical',
                timestamp: new Date(firing.firedAt).toISOString(),
                component: 'gatehouse',
                custom_details: text.details,
              },
            }),
          );
        } else {
          const body = JSON.stringify({
            alert: { title: text.title, summary: firing.summary, ...text.details },
          });
          await post(
            channel.url,
            body,
            channel.secret
              ? {
                  'gatehouse-signature': signWebhookBody(
                    channel.secret,
                    body,
                    Math.floor(clock.now() / 1000),
                  ),
                }
              : {},
          );
        }
      }
      notified.inc({ channel: channel.type, outcome: 'sent' });
    } catch (error) {
      notified.inc({ channel: channel.type, outcome: 'failed' });
      throw error;
    }
  }

  /** Records a firing (once per cool-down, whichever node gets there first) and queues its notifications. */
  async function fire(rule: RuleRow, count: number, summary: string): Promise<string | undefined> {
    const now = clock.now();
    const id = newId();
    const wakes = await database.transaction(async (trx) => {
      if (!(await markFired(trx, rule.id, rule.last_fired_at, now))) return undefined;
      await insertFiring(trx, { id, rule_id: rule.id, fired_at: now, count, summary });
      const queued = [];
      for (let index = 0; index < channelsOf(rule).length; index += 1) {
        queued.push(
          (await jobs.enqueueWithin(trx, NOTIFY_JOB, { firingId: id, channel: index }, { priority: 20 }))
            .afterCommit,
        );
      }
      await deps.events.recordWithin(trx, {
        name: AlertEvents.fired,
        severity: rule.severity === 'critical' ? 'high' : 'medium',
        outcome: 'success',
        target: { type: 'alert_rule', id: rule.id },
        details: { rule: rule.name, count, summary },
      });
      return queued;
    });
    if (!wakes) return undefined;
    for (const wake of wakes) wake();
    fired.inc({ severity: rule.severity });
    logger.warn({ rule: rule.name, count, summary }, 'alert fired');
    return id;
  }

  jobs.define<{ firingId: string; channel: number }>(
    NOTIFY_JOB,
    async ({ firingId, channel }) => {
      const firing = await findFiring(database.db, firingId);
      const rule = firing && (await findRule(database.db, firing.rule_id));
      if (!firing || !rule) return; // the rule was deleted since
      const target = channelsOf(rule)[channel];
      if (!target) return;
      await send(target, toFiring(firing, rule), channel);
    },
    { maxAttempts: 6 },
  );
  jobs.define(
    EVALUATE_JOB,
    async () => {
      await evaluate();
    },
    { maxAttempts: 1 },
  );

  const toFiring = (row: FiringRow, rule: RuleRow): Firing => ({
    id: row.id,
    rule,
    count: row.count,
    summary: row.summary,
    firedAt: row.fired_at,
  });

  /** Checks every enabled event rule against the audit log; returns the names of the rules that fired. */
  async function evaluate(): Promise<string[]> {
    const now = clock.now();
    const firedNow: string[] = [];
    for (const rule of await listRules(database.db, { enabledOnly: true })) {
      if (rule.source !== 'events' || !rule.event_pattern) continue;
      if (rule.last_fired_at !== null && now - rule.last_fired_at < rule.cooldown_seconds * 1000) continue;
      const count = await deps.countEvents({
        ...(rule.event_pattern === '*' ? {} : { name: rule.event_pattern }),
        ...(rule.outcome ? { outcome: rule.outcome } : {}),
        from: now - rule.window_seconds * 1000,
        // The filter's end is exclusive: include what happened this very millisecond.
        to: now + 1,
      });
      if (count <= rule.threshold) continue;
      const summary = `${count} ${rule.event_pattern}${rule.outcome ? ` (${rule.outcome})` : ''} events in the last ${rule.window_seconds / 60} minutes (threshold ${rule.threshold})`;
      if (await fire(rule, count, summary)) firedNow.push(rule.name);
    }
    return firedNow;
  }

  /** This node's audit writer, checked by this node: notifies directly (the database may be the problem). */
  async function checkAuditWriter(rules?: readonly RuleRow[]): Promise<string[]> {
    const state = deps.auditWriterFailing();
    if (!state.failing) return [];
    const now = clock.now();
    const candidates = rules ?? writerRules;
    const firedNow: string[] = [];
    for (const rule of candidates.filter((entry) => entry.source === 'audit_writer' && entry.enabled === 1)) {
      const last = localFirings.get(rule.id);
      if (last !== undefined && now - last < rule.cooldown_seconds * 1000) continue;
      localFirings.set(rule.id, now);
      const firing: Firing = {
        id: newId(),
        rule,
        count: 1,
        summary: `the audit log cannot commit on this node (${state.lastError ?? 'unknown error'}); events are buffered`,
        firedAt: now,
      };
      fired.inc({ severity: rule.severity });
      logger.error({ rule: rule.name }, 'alert fired: the audit writer is failing');
      await Promise.all(
        channelsOf(rule).map((channel, index) =>
          send(channel, firing, index).catch((error: unknown) =>
            logger.error({ err: error, rule: rule.name, channel: channel.type }, 'alert could not be sent'),
          ),
        ),
      );
      firedNow.push(rule.name);
    }
    return firedNow;
  }

  function rowFrom(id: string, input: AlertRuleInput, now: number): RuleRow {
    return {
      id,
      name: input.name,
      enabled: input.enabled === false ? 0 : 1,
      source: input.source,
      event_pattern: input.source === 'events' ? (input.eventPattern ?? null) : null,
      outcome: input.outcome ?? null,
      threshold: input.threshold ?? 0,
      window_seconds: input.windowSeconds ?? 300,
      cooldown_seconds: input.cooldownSeconds ?? 900,
      severity: input.severity ?? 'warning',
      channels: sealedBox.seal(JSON.stringify(input.channels), sealedChannels(id)),
      last_fired_at: null,
      created_at: now,
      updated_at: now,
    };
  }

  let localTimer: NodeJS.Timeout | undefined;

  return {
    evaluate,
    checkAuditWriter,
    async create(input: AlertRuleInput, actorUserId?: string): Promise<AlertRuleView> {
      await validated(input);
      const row = rowFrom(newId(), input, clock.now());
      await audited(change(AlertEvents.ruleCreated, row.id, actorUserId, { name: input.name }), (trx) =>
        insertRule(trx, row),
      );
      return view(row);
    },
    async list(): Promise<AlertRuleView[]> {
      return (await listRules(database.db)).map(view);
    },
    async get(id: string): Promise<AlertRuleView> {
      return view(await require(id));
    },
    /** Replaces a rule's definition (channels included: they are never shown back, so give them again). */
    async replace(id: string, input: AlertRuleInput, actorUserId?: string): Promise<AlertRuleView> {
      const existing = await require(id);
      await validated(input);
      const {
        id: _id,
        created_at: _created,
        last_fired_at: _last,
        ...fields
      } = rowFrom(id, input, clock.now());
      const row = await audited(
        change(AlertEvents.ruleUpdated, id, actorUserId, { name: input.name }),
        (trx) => updateRule(trx, id, fields),
      );
      return view(row ?? existing);
    },
    async remove(id: string, actorUserId?: string): Promise<void> {
      await require(id);
      await audited(change(AlertEvents.ruleDeleted, id, actorUserId), (trx) => deleteRule(trx, id));
    },
    async firings(id: string, limit = 50) {
      await require(id);
      return (await listFirings(database.db, id, limit)).map((row) => ({
        id: row.id,
        firedAt: row.fired_at,
        count: row.count,
        summary: row.summary,
      }));
    },
    /** Sends a test notification on every channel of the rule now, and says how each went. */
    async test(id: string): Promise<{ type: string; target: string; sent: boolean; error?: string }[]> {
      const rule = await require(id);
      const firing: Firing = {
        id: newId(),
        rule,
        count: 0,
        summary: 'a test notification',
        firedAt: clock.now(),
      };
      return Promise.all(
        channelsOf(rule).map(async (channel, index) => {
          try {
            await send(channel, firing, index);
            return { type: channel.type, target: maskedTarget(channel), sent: true };
          } catch (error) {
            return {
              type: channel.type,
              target: maskedTarget(channel),
              sent: false,
              error: error instanceof Error ? error.message : String(error),
            };
          }
        }),
      );
    },
    /** Every node watches its own audit writer. */
    startLocalChecks(intervalMs = 30_000): void {
      if (localTimer) return;
      localTimer = setInterval(async () => {
        try {
          writerRules = (await listRules(database.db, { enabledOnly: true }).catch(() => writerRules)).filter(
            (rule) => rule.source === 'audit_writer',
          );
          await checkAuditWriter();
        } catch (error) {
          logger.error({ err: error }, 'audit writer alert check failed');
        }
      }, intervalMs);
      localTimer.unref();
    },
    stopLocalChecks(): void {
      clearInterval(localTimer);
      localTimer = undefined;
    },
  };
}

export type AlertService = ReturnType<typeof createAlertService>;
