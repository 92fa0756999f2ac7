import { EventEmitter } from 'node:events';
import { Cluster } from 'ioredis';
import type { Logger } from './logger.js';
import type { RedisHandle } from './redis.js';

export type MessageHandler = (message: string) => void;

/**
 * Messages every node must see (cache invalidation: a revoked session, a changed role). Without Redis there
 * is one node, and delivery is in-process; with Redis, every node subscribes on its own connection.
 */
export interface PubSub {
  readonly kind: 'in-process' | 'redis';
  publish(channel: string, message: string): Promise<void>;
  /** Returns a function that unsubscribes. */
  subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export function createInProcessPubSub(): PubSub {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    kind: 'in-process',
    async publish(channel, message) {
      emitter.emit(channel, message);
    },
    async subscribe(channel, handler) {
      emitter.on(channel, handler);
      return async () => {
        emitter.off(channel, handler);
      };
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}

export function createRedisPubSub(redis: RedisHandle, logger: Logger, subscribeWaitMs = 5_000): PubSub {
  // A connection in subscriber mode can do nothing else, so subscriptions get their own.
  // It queues SUBSCRIBE until connected, and re-subscribes by itself after a reconnect.
  const subscriber =
    redis.client instanceof Cluster
      ? redis.client.duplicate(undefined, {
          enableOfflineQueue: true,
          redisOptions: { maxRetriesPerRequest: null },
        })
      : redis.client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
  subscriber.on('error', (error: Error) => logger.warn({ err: error }, 'redis subscriber connection error'));
  const handlers = new Map<string, Set<MessageHandler>>();
  subscriber.on('message', (channel: string, message: string) => {
    for (const handler of handlers.get(channel) ?? []) {
      try {
        handler(message);
      } catch (error) {
        logger.error({ err: error, channel }, 'pub/sub handler failed');
      }
    }
  });
  // ioredis prefixes keys but not channels; prefix them ourselves so deployments sharing a Redis stay apart.
  const prefix = (redis.client.options as { keyPrefix?: string }).keyPrefix ?? '';
  return {
    kind: 'redis',
    async publish(channel, message) {
      await redis.client.publish(`${prefix}${channel}`, message);
    },
    async subscribe(channel, handler) {
      const full = `${prefix}${channel}`;
      let set = handlers.get(full);
      if (!set) {
        set = new Set();
        handlers.set(full, set);
        // While Redis is down the SUBSCRIBE waits in the queue and completes on reconnect; start-up does not
        // wait for it longer than a connection attempt (the caches' TTL bounds what is missed meanwhile).
        const subscribed = subscriber.subscribe(full).catch((error: unknown) => {
          logger.warn({ err: error, channel }, 'redis subscription failed');
        });
        await Promise.race([
          subscribed,
          new Promise((resolve) => setTimeout(resolve, subscribeWaitMs).unref()),
        ]);
      }
      set.add(handler);
      return async () => {
        set.delete(handler);
        if (set.size === 0) {
          handlers.delete(full);
          // Disconnected, the command would wait in the queue forever; the handler is gone either way.
          if (subscriber.status === 'ready') await subscriber.unsubscribe(full);
        }
      };
    },
    async close() {
      handlers.clear();
      subscriber.disconnect();
    },
  };
}
