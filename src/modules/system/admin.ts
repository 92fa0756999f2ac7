import { hostname } from 'node:os';
import type { Clock } from '../../platform/clock.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import { migrationStatus } from '../../platform/db/migrate.js';
import { GatehouseError } from '../../platform/errors.js';
import type { EventRecorder } from '../../platform/events.js';
import type { Logger } from '../../platform/logger.js';
import type { PubSub } from '../../platform/pubsub.js';
import type { RedisHandle } from '../../platform/redis.js';
import type { AuthenticatedSession } from '../sessions/service.js';
import { SystemAdminErrors } from './errors.js';
import { SystemEvents } from './events.js';
import { databaseBytes, tableCounts } from './queries.js';

const CLEAR_CHANNEL = 'system.caches.clear';

/** `INFO` output as fields (`used_memory:1234` lines). */
function infoFields(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split(/\r?\n/)
      .filter((line) => line.includes(':') && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
  );
}

/**
 * What operators ask of a running installation (`/api/v1/admin/system`): version and uptime, migration
 * state, the database (a round trip, size, pool, rows per table), Redis (a round trip, memory, clients,
 * keys), and clearing every node's in-process caches.
 */
export async function createSystemAdmin(deps: {
  database: DatabaseHandle;
  redis?: RedisHandle | undefined;
  pubsub: PubSub;
  clock: Clock;
  logger: Logger;
  events: EventRecorder;
  version: string;
  startedAt: number;
  recentAuthSeconds: number;
  /** Clears this node's caches; returns what each held. */
  clearLocalCaches(): Record<string, number>;
}) {
  const { database, redis, clock } = deps;
  const unsubscribe = await deps.pubsub.subscribe(CLEAR_CHANNEL, () => {
    deps.logger.info({ cleared: deps.clearLocalCaches() }, 'caches cleared at an operator’s request');
  });

  const timed = async (work: () => Promise<unknown>) => {
    const started = performance.now();
    await work();
    return Math.round((performance.now() - started) * 100) / 100;
  };

  return {
    async overview() {
      const status = await migrationStatus(database.db);
      return {
        version: deps.version,
        node: { hostname: hostname(), pid: process.pid, nodeVersion: process.version },
        startedAt: deps.startedAt,
        uptimeSeconds: Math.round((clock.now() - deps.startedAt) / 1000),
        database: database.dialect,
        redis: redis ? redis.mode : 'none',
        migrations: {
          applied: status.applied.length,
          latest: status.applied.at(-1) ?? null,
          pending: [...status.pending],
          unknown: [...status.unknown],
        },
      };
    },

    async database() {
      const latencyMs = await timed(() => database.ping());
      return {
        dialect: database.dialect,
        driver: database.driver,
        latencyMs,
        sizeBytes: await databaseBytes(database.db, database.dialect),
        pool: database.poolStats() ?? null,
        tables: await tableCounts(database.db, database.dialect),
      };
    },

    async cache() {
      if (!redis) return { configured: false as const };
      try {
        const latencyMs = await timed(() => redis.ping());
        const fields = infoFields(await redis.client.info());
        return {
          configured: true as const,
          mode: redis.mode,
          status: redis.status(),
          latencyMs,
          version: fields.redis_version ?? null,
          usedMemoryBytes: Number(fields.used_memory ?? 0),
          connectedClients: Number(fields.connected_clients ?? 0),
          keys: redis.mode === 'cluster' ? null : await redis.client.dbsize(),
        };
      } catch (error) {
        return {
          configured: true as const,
          mode: redis.mode,
          status: redis.status(),
          error: error instanceof Error ? error.message : String(error),
        };
      }
    },

    /**
     * Clears the in-process caches (sessions, authorization decisions, OAuth clients) on every node: they
     * are read again from the database. Rate-limit budgets and lockouts are security state, not a cache, and
     * stay. Needs a session with a second factor in the last `mfa.recentAuthSeconds`.
     */
    async clearCaches(session: AuthenticatedSession | undefined) {
      const recent = session && clock.now() - session.authTime <= deps.recentAuthSeconds * 1000;
      if (!session || !recent || !session.amr.includes('mfa')) {
        throw new GatehouseError(
          SystemAdminErrors.step_up_required,
          'Clearing the caches needs a sign-in with a second factor in the last few minutes: sign in again (or step up) and retry',
        );
      }
      const cleared = deps.clearLocalCaches();
      await deps.pubsub.publish(CLEAR_CHANNEL, JSON.stringify({ at: clock.now() }));
      await deps.events.recordDurably({
        name: SystemEvents.cachesCleared,
        severity: 'medium',
        outcome: 'success',
        details: { cleared },
      });
      return { cleared };
    },

    close: unsubscribe,
  };
}

export type SystemAdmin = Awaited<ReturnType<typeof createSystemAdmin>>;
