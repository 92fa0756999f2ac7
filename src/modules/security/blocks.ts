import { BlockList } from 'node:net';
import type { Registry } from 'prom-client';
import { Counter } from 'prom-client';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Live } from '../../config/live.js';
import type { Clock } from '../../platform/clock.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import { GatehouseError } from '../../platform/errors.js';
import type { EventRecorder, SecurityEvent } from '../../platform/events.js';
import { newId } from '../../platform/ids.js';
import type { Logger } from '../../platform/logger.js';
import type { PubSub } from '../../platform/pubsub.js';
import type { RedisHandle } from '../../platform/redis.js';
import type { RequestContext } from '../sessions/service.js';
import { SecurityErrors } from './errors.js';
import { SecurityEvents } from './events.js';
import { inList, normalizeIp, parseRange, rangeList } from './ip.js';
import {
  activeBlocks,
  type BlockRow,
  countAutomaticBlocks,
  findBlock,
  insertBlock,
  liftBlock,
  listBlocks,
} from './queries.js';
import type { SecuritySettings } from './settings.js';

const CHANGED_CHANNEL = 'security.blocks.changed';
/** How far back earlier automatic blocks of a source count toward the next one's length. */
const ESCALATION_MEMORY_MS = 30 * 86_400_000;

export interface BlockView {
  readonly id: string;
  readonly kind: 'ip' | 'user_agent';
  readonly value: string;
  readonly source: 'admin' | 'automatic' | 'honeypot';
  readonly reason: string;
  readonly createdBy: string | null;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly liftedAt: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const toView = (row: BlockRow): BlockView => ({
  id: row.id,
  kind: row.kind,
  value: row.value,
  source: row.source,
  reason: row.reason,
  createdBy: row.created_by,
  createdAt: new Date(row.created_at).toISOString(),
  expiresAt: iso(row.expires_at),
  liftedAt: iso(row.lifted_at),
});

/** Why a request is refused before anything else runs. */
export type BlockMatch =
  | { readonly by: 'deny_list' | 'user_agent_list'; readonly value: string }
  | { readonly by: 'block'; readonly id: string; readonly value: string };

type Actor = RequestContext & { actorUserId?: string | undefined };

/**
 * IP allow and deny lists and the user-agent deny list (config, reloadable), blocks of IPs, ranges and user
 * agents (admin API, or automatic: abuse and honeypots), escalating for repeat offenders. Blocks live in the
 * database and in memory on every node; any change reloads them everywhere through pub/sub, and expiry needs
 * no reload (checked at match time).
 */
export function createBlockService(deps: {
  database: DatabaseHandle;
  clock: Clock;
  events: EventRecorder;
  pubsub: PubSub;
  logger: Logger;
  settings: SecuritySettings;
  /** The configured lists, read live (they reload); the rest of `settings` is read once. */
  lists: Live<Pick<SecuritySettings, 'allowList' | 'denyList' | 'userAgentDenyList'>>;
  redis?: RedisHandle | undefined;
  registry: Registry;
}) {
  const { database, clock, settings } = deps;
  const compile = (lists: Pick<SecuritySettings, 'allowList' | 'denyList' | 'userAgentDenyList'>) => ({
    allow: rangeList(lists.allowList),
    deny: rangeList(lists.denyList),
    denyAgents: lists.userAgentDenyList.map((agent) => agent.toLowerCase()),
  });
  let { allow, deny, denyAgents } = compile(deps.lists.get());
  deps.lists.onChange((next) => {
    ({ allow, deny, denyAgents } = compile(next));
  });

  interface Loaded {
    readonly ips: BlockList;
    readonly ipRows: readonly BlockRow[];
    readonly agents: readonly BlockRow[];
    /** The earliest expiry among the loaded blocks: past it, the in-memory lists are rebuilt. */
    readonly validUntil: number;
  }
  let loaded: Loaded = { ips: new BlockList(), ipRows: [], agents: [], validUntil: 0 };
  let loading: Promise<void> | undefined;

  const build = (rows: readonly BlockRow[], now: number): Loaded => {
    const live = rows.filter((row) => row.expires_at === null || row.expires_at > now);
    const ipRows = live.filter((row) => row.kind === 'ip');
    return {
      ips: rangeList(ipRows.map((row) => row.value)),
      ipRows,
      agents: live.filter((row) => row.kind === 'user_agent'),
      validUntil: Math.min(
        Number.POSITIVE_INFINITY,
        ...live.flatMap((row) => (row.expires_at === null ? [] : [row.expires_at])),
      ),
    };
  };
  let rows: readonly BlockRow[] = [];
  const reload = () => {
    const current = activeBlocks(database.db, clock.now()).then((fresh) => {
      rows = fresh;
      loaded = build(fresh, clock.now());
    });
    loading = current;
    current.catch((error: unknown) => deps.logger.error({ err: error }, 'could not load security blocks'));
    return current;
  };
  const changed = async () => {
    await reload();
    await deps.pubsub.publish(CHANGED_CHANNEL, '1').catch((error: unknown) => {
      deps.logger.warn(
        { err: error },
        'could not broadcast a block change; other nodes reload within a minute',
      );
    });
  };

  const hits = new Counter({
    name: 'gatehouse_security_blocked_requests_total',
    help: 'Requests refused by a block, by what matched.',
    labelNames: ['by'],
    registers: [deps.registry],
  });
  const blocksMade = new Counter({
    name: 'gatehouse_security_blocks_total',
    help: 'Blocks added, by source (admin, automatic, honeypot).',
    labelNames: ['source'],
    registers: [deps.registry],
  });

  const offenceOptions = {
    keyPrefix: 'security:offences',
    points: settings.autoBlock.offences,
    duration: settings.autoBlock.windowSeconds,
  };
  const offences = deps.redis
    ? new RateLimiterRedis({
        ...offenceOptions,
        storeClient: deps.redis.client,
        insuranceLimiter: new RateLimiterMemory(offenceOptions),
      })
    : new RateLimiterMemory(offenceOptions);

  async function add(
    input: {
      kind: 'ip' | 'user_agent';
      value: string;
      reason?: string | undefined;
      durationSeconds?: number | undefined;
    },
    source: BlockRow['source'],
    context: Actor,
  ): Promise<BlockView> {
    let value = input.value.trim();
    if (input.kind === 'ip') {
      const range = parseRange(value);
      if (!range)
        throw new GatehouseError(SecurityErrors.block_invalid, `${value} is not an IP address or CIDR range`);
      value = range.prefix === (range.family === 'ipv4' ? 32 : 128) ? normalizeIp(range.address) : value;
      if (inList(allow, normalizeIp(range.address))) {
        throw new GatehouseError(
          SecurityErrors.block_invalid,
          `${value} is on the allow list (security.allowList)`,
        );
      }
    } else {
      value = value.toLowerCase();
      if (value.length < 2)
        throw new GatehouseError(SecurityErrors.block_invalid, 'user agent pattern too short');
    }
    const now = clock.now();
    const row: BlockRow = {
      id: newId(),
      kind: input.kind,
      value,
      source,
      reason: input.reason ?? '',
      created_by: context.actorUserId ?? null,
      created_at: now,
      expires_at: input.durationSeconds ? now + input.durationSeconds * 1000 : null,
      lifted_at: null,
    };
    await insertBlock(database.db, row);
    blocksMade.inc({ source });
    const event: SecurityEvent = {
      name: input.kind === 'ip' ? SecurityEvents.ipBlocked : SecurityEvents.userAgentBlocked,
      severity: source === 'admin' ? 'medium' : 'high',
      outcome: 'success',
      actorUserId: context.actorUserId,
      ip: context.ip,
      userAgent: context.userAgent,
      requestId: context.requestId,
      details: { blockId: row.id, value, source, reason: row.reason, expiresAt: iso(row.expires_at) },
    };
    // An administrator's block waits for its record; automatic ones (on the request path) are queued.
    if (source === 'admin') await deps.events.recordDurably(event);
    else deps.events.record(event);
    await changed();
    return toView(row);
  }

  /** Blocks `ip` automatically: each earlier automatic block in the last 30 days makes this one longer. */
  async function blockAutomatically(
    ip: string,
    source: 'automatic' | 'honeypot',
    reason: string,
    context: Actor,
  ) {
    if ((source === 'automatic' && !settings.autoBlock.enabled) || inList(allow, ip)) return undefined;
    if (inList(loaded.ips, ip)) return undefined;
    const earlier = await countAutomaticBlocks(database.db, ip, clock.now() - ESCALATION_MEMORY_MS);
    const durations = settings.autoBlock.durationsSeconds;
    const durationSeconds = durations[Math.min(earlier, durations.length - 1)]!;
    return add({ kind: 'ip', value: ip, reason, durationSeconds }, source, context);
  }

  return {
    /** Loads the blocks and follows changes made on other nodes (and, as a backstop, every minute). */
    async start(): Promise<() => Promise<void>> {
      await reload();
      const unsubscribe = await deps.pubsub.subscribe(CHANGED_CHANNEL, () => {
        void reload();
      });
      const timer = setInterval(() => void reload(), 60_000);
      timer.unref();
      return async () => {
        clearInterval(timer);
        await unsubscribe();
      };
    },

    ready: () => loading,

    /** On the allow list: never blocked or rate limited. */
    allowed: (ip: string) => inList(allow, ip),

    /** Whether a request from `ip` with `userAgent` is refused, and by what. Synchronous: runs on every request. */
    match(ip: string, userAgent: string | undefined): BlockMatch | undefined {
      if (inList(deny, ip)) return { by: 'deny_list', value: ip };
      const now = clock.now();
      if (now >= loaded.validUntil) loaded = build(rows, now);
      if (loaded.ipRows.length > 0 && inList(loaded.ips, ip)) {
        const row = loaded.ipRows.find((candidate) => inList(rangeList([candidate.value]), ip));
        return { by: 'block', id: row?.id ?? 'unknown', value: row?.value ?? ip };
      }
      if (userAgent) {
        const agent = userAgent.toLowerCase();
        const listed = denyAgents.find((pattern) => agent.includes(pattern));
        if (listed) return { by: 'user_agent_list', value: listed };
        const row = loaded.agents.find((candidate) => agent.includes(candidate.value));
        if (row) return { by: 'block', id: row.id, value: row.value };
      }
      return undefined;
    },

    /** Records a refused request as a security event and a metric. */
    refused(match: BlockMatch, context: RequestContext & { path: string }) {
      hits.inc({ by: match.by });
      deps.events.record({
        name: SecurityEvents.blockedRequest,
        severity: 'medium',
        outcome: 'failure',
        ip: context.ip,
        userAgent: context.userAgent,
        requestId: context.requestId,
        details: {
          by: match.by,
          matched: match.value,
          path: context.path,
          ...('id' in match ? { blockId: match.id } : {}),
        },
      });
    },

    /**
     * Counts one offence (a 429, a denied user agent, a failed authentication) by `ip`; enough of them within
     * the window block the source automatically.
     */
    async offence(ip: string, reason: string, context: Actor): Promise<void> {
      if (!settings.autoBlock.enabled) return;
      try {
        await offences.consume(ip);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        await blockAutomatically(
          ip,
          'automatic',
          `${settings.autoBlock.offences} offences: ${reason}`,
          context,
        );
      }
    },

    blockAutomatically,

    /**
     * A decoy was used (a honeypot path, a decoy account, key, client or reset link): a critical event with
     * the request's context and, with `security.honeypotBlocks`, a block of the source.
     */
    async honeytokenUsed(context: RequestContext, details: Record<string, unknown>, reason: string) {
      deps.events.record({
        name: SecurityEvents.honeypotHit,
        severity: 'critical',
        outcome: 'failure',
        ip: context.ip,
        userAgent: context.userAgent,
        requestId: context.requestId,
        details,
      });
      if (settings.honeypotBlocks && context.ip) {
        await blockAutomatically(normalizeIp(context.ip), 'honeypot', reason, context);
      }
    },

    async list(filter: {
      active?: boolean | undefined;
      limit: number;
      offset: number;
    }): Promise<BlockView[]> {
      const found = await listBlocks(database.db, {
        activeAt: filter.active ? clock.now() : undefined,
        limit: filter.limit,
        offset: filter.offset,
      });
      return found.map(toView);
    },

    add: (
      input: {
        kind: 'ip' | 'user_agent';
        value: string;
        reason?: string | undefined;
        durationSeconds?: number | undefined;
      },
      context: Actor,
    ) => add(input, 'admin', context),

    async lift(id: string, context: Actor): Promise<void> {
      const row = await findBlock(database.db, id);
      if (!row || (await liftBlock(database.db, id, clock.now())) === 0) {
        throw new GatehouseError(SecurityErrors.block_not_found);
      }
      await deps.events.recordDurably({
        name: SecurityEvents.blockLifted,
        severity: 'medium',
        outcome: 'success',
        actorUserId: context.actorUserId,
        ip: context.ip,
        userAgent: context.userAgent,
        requestId: context.requestId,
        details: { blockId: id, kind: row.kind, value: row.value },
      });
      await changed();
    },
  };
}

export type BlockService = ReturnType<typeof createBlockService>;
