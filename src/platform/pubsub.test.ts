import { afterEach, describe, expect, it } from 'vitest';
import { TEST_REDIS_URL } from '../../test/helpers/dialects.js';
import { createLogger } from './logger.js';
import { createInProcessPubSub, createRedisPubSub, type PubSub } from './pubsub.js';
import { createRedis, type RedisHandle } from './redis.js';

const logger = createLogger({ level: 'silent', pretty: false });
const opened: { pubsub: PubSub; redis?: RedisHandle }[] = [];

afterEach(async () => {
  for (const { pubsub, redis } of opened.splice(0)) {
    await pubsub.close();
    await redis?.close();
  }
});

function nextMessage(pubsub: PubSub, channel: string): Promise<string> {
  return new Promise((resolve) => {
    void pubsub.subscribe(channel, resolve);
  });
}

async function redisNode(prefix: string): Promise<PubSub> {
  const redis = createRedis(
    { url: TEST_REDIS_URL, sentinels: [], clusterNodes: [], keyPrefix: prefix, connectTimeoutMs: 2000 },
    logger,
  )!;
  await redis.firstConnection();
  const pubsub = createRedisPubSub(redis, logger);
  opened.push({ pubsub, redis });
  return pubsub;
}

describe('pub/sub', () => {
  it('delivers in-process and stops after unsubscribe', async () => {
    const pubsub = createInProcessPubSub();
    opened.push({ pubsub });
    const received: string[] = [];
    const unsubscribe = await pubsub.subscribe('sessions', (message) => received.push(message));
    await pubsub.publish('sessions', 'a');
    await unsubscribe();
    await pubsub.publish('sessions', 'b');
    expect(received).toEqual(['a']);
  });

  it('delivers across nodes through Redis, only within one key prefix', async () => {
    const prefix = `gatehouse-test-${Date.now()}:`;
    const nodeA = await redisNode(prefix);
    const nodeB = await redisNode(prefix);
    const otherDeployment = await redisNode(`${prefix}other:`);
    const leaked: string[] = [];
    await otherDeployment.subscribe('sessions', (message) => leaked.push(message));

    const onB = new Promise<string>((resolve) => {
      void nodeB.subscribe('sessions', resolve).then(() => nodeA.publish('sessions', 'revoked:123'));
    });
    expect(await onB).toBe('revoked:123');
    // A round trip on the other deployment's channel proves its subscription was live while we published.
    const own = nextMessage(otherDeployment, 'sessions');
    await otherDeployment.publish('sessions', 'own');
    expect(await own).toBe('own');
    expect(leaked).toEqual(['own']);
  });
});
