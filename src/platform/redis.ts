import { Cluster, Redis } from 'ioredis';
import type { Logger } from './logger.js';

export interface RedisSettings {
  readonly url?: string | undefined;
  readonly sentinels: readonly string[];
  readonly sentinelName?: string | undefined;
  readonly clusterNodes: readonly string[];
  readonly keyPrefix: string;
  readonly connectTimeoutMs: number;
}

export interface RedisHandle {
  readonly client: Redis | Cluster;
  readonly mode: 'standalone' | 'sentinel' | 'cluster';
  /** ioredis' own connection state: `ready` when commands are served. */
  status(): string;
  ping(): Promise<void>;
  /**
   * Resolves once the first connection attempt is over, whether it succeeded or not, so a node that starts
   * next to a healthy Redis reports ready at once and one whose Redis is down says so instead of hanging.
   */
  firstConnection(): Promise<void>;
  close(): Promise<void>;
}

function hostPort(entry: string): { host: string; port: number } {
  const index = entry.lastIndexOf(':');
  return { host: entry.slice(0, index), port: Number(entry.slice(index + 1)) };
}

export function isRedisConfigured(settings: RedisSettings): boolean {
  return Boolean(settings.url) || settings.sentinels.length > 0 || settings.clusterNodes.length > 0;
}

/**
 * Connects to Redis when one is configured. Commands fail fast while disconnected (no unbounded offline
 * queue), so callers can fall back to their in-process implementation instead of hanging.
 */
export function createRedis(settings: RedisSettings, logger: Logger): RedisHandle | undefined {
  if (!isRedisConfigured(settings)) return undefined;
  const common = {
    keyPrefix: settings.keyPrefix,
    connectTimeout: settings.connectTimeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 5_000),
  };
  let client: Redis | Cluster;
  let mode: RedisHandle['mode'];
  if (settings.clusterNodes.length > 0) {
    mode = 'cluster';
    client = new Cluster(settings.clusterNodes.map(hostPort), {
      keyPrefix: settings.keyPrefix,
      enableOfflineQueue: false,
      redisOptions: { connectTimeout: settings.connectTimeoutMs, maxRetriesPerRequest: 1 },
    });
  } else if (settings.sentinels.length > 0) {
    mode = 'sentinel';
    client = new Redis({
      ...common,
      sentinels: settings.sentinels.map(hostPort),
      name: settings.sentinelName ?? 'mymaster',
    });
  } else {
    mode = 'standalone';
    client = new Redis(settings.url!, common);
  }

  let lastError: string | undefined;
  client.on('error', (error: Error) => {
    // ioredis reconnects by itself; log each distinct failure once rather than on every retry.
    if (error.message !== lastError) logger.warn({ err: error, redisMode: mode }, 'redis connection error');
    lastError = error.message;
  });
  client.on('ready', () => {
    if (lastError) logger.info({ redisMode: mode }, 'redis connection restored');
    lastError = undefined;
  });

  const firstConnection = new Promise<void>((resolve) => {
    const done = () => {
      client.off('ready', done);
      client.off('error', done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, settings.connectTimeoutMs);
    timer.unref();
    client.once('ready', done);
    client.once('error', done);
  });

  return {
    client,
    mode,
    firstConnection: () => firstConnection,
    status: () => client.status,
    async ping() {
      await client.ping();
    },
    async close() {
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
