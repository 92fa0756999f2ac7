import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Adapter } from 'oidc-provider';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FakeClock } from '../../../test/helpers/clock.js';
import { describeEachDialect, TEST_REDIS_URL } from '../../../test/helpers/dialects.js';
import { createDatabase, type DatabaseHandle } from '../../platform/db/connection.js';
import { migrateToLatest } from '../../platform/db/migrate.js';
import { createLogger } from '../../platform/logger.js';
import { createMetrics } from '../../platform/metrics.js';
import { createClientCache, createOidcAdapter } from './adapter.js';

describeEachDialect('OpenID storage adapter', (testDatabase) => {
  let handle: DatabaseHandle;
  let redis: Redis;
  const clock = new FakeClock(Date.UTC(2026, 10, 23, 12));
  const keyPrefix = `gatehouse-adapter-test-${randomUUID()}:`;

  beforeAll(async () => {
    const logger = createLogger({ level: 'silent', pretty: false });
    handle = createDatabase(
      { url: testDatabase().url, poolSize: 4, slowQueryMs: 10_000, busyTimeoutMs: 5_000 },
      { logger, metrics: createMetrics({ collectProcessMetrics: false }) },
    );
    await migrateToLatest(handle.db, logger);
    redis = new Redis(TEST_REDIS_URL, { keyPrefix });
  });

  afterAll(async () => {
    // KEYS takes the prefix on its pattern but answers whole names; DEL adds the prefix again.
    for (const key of await redis.keys('*')) await redis.del(key.slice(keyPrefix.length));
    redis.disconnect();
    await handle.close();
  });

  const adapterFor = (options: { withRedis?: boolean; graceSeconds?: number } = {}) => {
    const Adapter = createOidcAdapter({
      database: handle,
      clock,
      clientCache: createClientCache(handle),
      redis: options.withRedis ? redis : undefined,
      refreshTokenReuseGraceSeconds: options.graceSeconds ?? 5,
    });
    return (kind: string): Adapter => new Adapter(kind);
  };

  it('commits concurrent writes together, each visible once its promise resolves; the last write wins', async () => {
    const tokens = adapterFor()('AccessToken');
    const ids = Array.from({ length: 300 }, () => randomUUID());
    await Promise.all(
      ids.map((id, index) =>
        tokens.upsert(id, { jti: id, accountId: 'u-1', grantId: `g-${index % 3}` }, 600),
      ),
    );
    for (const id of ids) expect(await tokens.find(id)).toMatchObject({ jti: id, accountId: 'u-1' });
    const id = ids[0]!;
    await Promise.all([
      tokens.upsert(id, { jti: id, scope: 'first' }, 600),
      tokens.upsert(id, { jti: id, scope: 'second' }, 600),
    ]);
    expect(await tokens.find(id)).toMatchObject({ scope: 'second' });
    await tokens.revokeByGrantId('g-1');
    expect(await tokens.find(ids[1]!)).toBeUndefined();
    expect(await tokens.find(ids[2]!)).toBeDefined();
    const row = await handle.db
      .selectFrom('oidc_models')
      .select('account_id')
      .where('id', '=', ids[2]!)
      .executeTakeFirstOrThrow();
    expect(row.account_id).toBe('u-1');
  });

  it('hides expired artefacts', async () => {
    const tokens = adapterFor()('AccessToken');
    await tokens.upsert('short', { jti: 'short' }, 10);
    expect(await tokens.find('short')).toBeDefined();
    clock.advance(10_001);
    expect(await tokens.find('short')).toBeUndefined();
  });

  it('lets a refresh token be used again within the grace window only, counted from its first use', async () => {
    const refresh = adapterFor({ graceSeconds: 5 })('RefreshToken');
    await refresh.upsert('rt-1', { jti: 'rt-1', grantId: 'g-rt' }, 3_600);
    await refresh.consume('rt-1');
    expect((await refresh.find('rt-1'))?.consumed).toBeUndefined();
    clock.advance(3_000);
    // A second use does not restart the window.
    await refresh.consume('rt-1');
    clock.advance(2_001);
    expect((await refresh.find('rt-1'))?.consumed).toEqual(expect.any(Number));

    const strict = adapterFor({ graceSeconds: 0 })('RefreshToken');
    await strict.upsert('rt-2', { jti: 'rt-2' }, 3_600);
    await strict.consume('rt-2');
    expect((await strict.find('rt-2'))?.consumed).toEqual(expect.any(Number));
  });

  it('keeps short-lived kinds in Redis with their lifetime, user-code and grant indexes', async () => {
    const kinds = adapterFor({ withRedis: true });
    const deviceCodes = kinds('DeviceCode');
    await deviceCodes.upsert('dc-1', { jti: 'dc-1', userCode: 'WDJB-MJHT', grantId: 'g-dev' }, 600);
    expect(await deviceCodes.findByUserCode!('WDJB-MJHT')).toMatchObject({ jti: 'dc-1' });
    expect(await redis.pttl('oidc:DeviceCode:dc-1')).toBeGreaterThan(599_000);
    expect(await redis.pttl('oidc:DeviceCode:grant:g-dev')).toBeGreaterThan(599_000);
    const inDatabase = await handle.db
      .selectFrom('oidc_models')
      .select('id')
      .where('kind', '=', 'DeviceCode')
      .execute();
    expect(inDatabase).toEqual([]);

    await deviceCodes.consume('dc-1');
    expect((await deviceCodes.find('dc-1'))?.consumed).toBe(Math.floor(clock.now() / 1000));
    await deviceCodes.revokeByGrantId('g-dev');
    expect(await deviceCodes.find('dc-1')).toBeUndefined();
    expect(await redis.exists('oidc:DeviceCode:grant:g-dev')).toBe(0);

    // Long-lived kinds stay in the database even with Redis configured.
    const grants = kinds('Grant');
    await grants.upsert('grant-1', { jti: 'grant-1', accountId: 'u-2' }, 3_600);
    expect(await redis.exists('oidc:Grant:grant-1')).toBe(0);
    expect(await grants.find('grant-1')).toMatchObject({ accountId: 'u-2' });
  });
});
