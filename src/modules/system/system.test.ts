import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp, withTestApp } from '../../../test/helpers/app.js';
import { createTestDatabase, describeEachDialect, TEST_REDIS_URL } from '../../../test/helpers/dialects.js';

const HEALTH_TOKEN = 'health-token-for-tests-0001';
const METRICS_TOKEN = 'metrics-token-for-tests-0001';

describeEachDialect('health and metrics', (testDatabase, dialect) => {
  let harness: TestApp;

  beforeAll(async () => {
    harness = await buildTestApp(testDatabase().url, {
      overrides: {
        health: { token: HEALTH_TOKEN },
        redis: { url: TEST_REDIS_URL, keyPrefix: 'gatehouse-test:' },
      },
    });
    await harness.app.ready();
  });

  afterAll(async () => {
    await harness.app.close();
  });

  it('reports liveness', async () => {
    const response = await harness.app.inject({ method: 'GET', url: '/health/live' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'up' });
  });

  it('is ready when the database, migrations and Redis are', async () => {
    const response = await harness.app.inject({ method: 'GET', url: '/health/ready' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'up', shuttingDown: false, failed: [] });
  });

  it('shows per-component status and latency to anyone, details only to operators', async () => {
    const anonymous = await harness.app.inject({ method: 'GET', url: '/health' });
    expect(anonymous.statusCode).toBe(200);
    const publicReport = anonymous.json();
    expect(Object.keys(publicReport.components).sort()).toEqual([
      'audit',
      'database',
      'jobs',
      'migrations',
      'outbound',
      'rate_limits',
      'redis',
    ]);
    expect(publicReport.components.database).toEqual({
      status: 'up',
      critical: true,
      latencyMs: expect.any(Number),
    });
    expect(publicReport.installationId).toBeUndefined();

    const wrongToken = await harness.app.inject({
      method: 'GET',
      url: '/health',
      headers: { authorization: 'Bearer health-token-for-tests-0002' },
    });
    expect(wrongToken.json().components.database.details).toBeUndefined();

    const operator = await harness.app.inject({
      method: 'GET',
      url: '/health',
      headers: { authorization: `Bearer ${HEALTH_TOKEN}` },
    });
    const report = operator.json();
    expect(report.components.database.details.dialect).toBe(dialect);
    expect(report.components.redis.details).toEqual({ mode: 'standalone', status: 'ready' });
    expect(report.components.migrations.details.applied).toBeGreaterThan(0);
    expect(report.components.audit).toMatchObject({
      status: 'up',
      details: { buffered: expect.any(Number) },
    });
    expect(report.components.outbound).toMatchObject({ status: 'up', critical: false });
    expect(report.components.jobs).toMatchObject({ status: 'up', critical: false, details: { dead: 0 } });
    expect(report.installationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps one installation id across restarts on the same database', async () => {
    const first = (
      await harness.app.inject({
        method: 'GET',
        url: '/health',
        headers: { authorization: `Bearer ${HEALTH_TOKEN}` },
      })
    ).json().installationId;
    const second = await buildTestApp(testDatabase().url, { overrides: { health: { token: HEALTH_TOKEN } } });
    try {
      const again = (
        await second.app.inject({
          method: 'GET',
          url: '/health',
          headers: { authorization: `Bearer ${HEALTH_TOKEN}` },
        })
      ).json().installationId;
      expect(again).toBe(first);
    } finally {
      await second.app.close();
    }
  });

  it('exposes Prometheus metrics with route templates, not raw URLs', async () => {
    await harness.app.inject({ method: 'GET', url: '/health/live' });
    await harness.app.inject({ method: 'GET', url: '/no/such/route/raw-url-marker' });
    const response = await harness.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    const text = response.body;
    expect(text).toMatch(
      /gatehouse_http_request_duration_seconds_count\{method="GET",route="\/health\/live",status_code="200"\} \d+/,
    );
    expect(text).toMatch(/route="unmatched",status_code="404"/);
    expect(text).not.toContain('raw-url-marker');
    expect(text).toContain('gatehouse_process_resident_memory_bytes');
    expect(text).toContain('gatehouse_db_query_duration_seconds_bucket');
    expect(text).toMatch(/^gatehouse_redis_up 1$/m);
    if (dialect === 'postgres')
      expect(text).toMatch(/gatehouse_db_pool_connections\{pool="primary",state="total"\} \d+/);
  });
});

describe('health failures', () => {
  it('is not ready, naming the component, when Redis is unreachable', async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const overrides = { redis: { url: 'redis://127.0.0.1:1', connectTimeoutMs: 500 } };
    await withTestApp('sqlite', { overrides }, async ({ app }) => {
      const response = await app.inject({ method: 'GET', url: '/health/ready' });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toEqual({ status: 'down', shuttingDown: false, failed: ['redis'] });
      expect((await app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(/^gatehouse_redis_up 0$/m);
    });
  });

  it('is not ready when the database is gone, and says so to operators', async () => {
    await withTestApp('postgres', { overrides: { health: { token: HEALTH_TOKEN } } }, async ({ app }) => {
      const { database } = app.gatehouse;
      const close = database.close;
      await close();
      // Closed already: the app's own close must not close it twice.
      database.close = async () => {};
      const ready = await app.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().failed).toEqual(['database', 'migrations']);
      const detailed = await app.inject({
        method: 'GET',
        url: '/health',
        headers: { authorization: `Bearer ${HEALTH_TOKEN}` },
      });
      expect(detailed.statusCode).toBe(503);
      expect(detailed.json().components.database.error).toEqual(expect.any(String));
    });
  });

  it('is not ready while migrations are pending and migrateOnStart is off', async () => {
    await withTestApp(
      'sqlite',
      { overrides: { database: { migrateOnStart: false } } },
      async ({ app, logs }) => {
        const response = await app.inject({ method: 'GET', url: '/health/ready' });
        expect(response.statusCode).toBe(503);
        expect(response.json().failed).toEqual(['migrations']);
        expect(logs.text).toContain('migrations are pending');
      },
    );
  });

  it('refuses to start on a database migrated by a newer Gatehouse', async () => {
    const database = await createTestDatabase('sqlite');
    try {
      const first = await buildTestApp(database.url);
      await first.app.gatehouse.database.db
        .insertInto('gatehouse_migrations' as never)
        .values({ name: '9999_future', timestamp: new Date().toISOString() } as never)
        .execute();
      await first.app.close();
      await expect(buildTestApp(database.url)).rejects.toMatchObject({ code: 'database_newer_than_code' });
    } finally {
      await database.drop();
    }
  });
});

describe('metrics token', () => {
  it('requires the bearer token when one is configured', async () => {
    await withTestApp('sqlite', { overrides: { metrics: { token: METRICS_TOKEN } } }, async ({ app }) => {
      const anonymous = await app.inject({ method: 'GET', url: '/metrics' });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      expect(anonymous.json().code).toBe('metrics_token_required');
      const wrong = await app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: 'Bearer nope' },
      });
      expect(wrong.statusCode).toBe(401);
      const authorized = await app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      });
      expect(authorized.statusCode).toBe(200);
    });
  });

  it('can be turned off', async () => {
    await withTestApp('sqlite', { overrides: { metrics: { enabled: false } } }, async ({ app }) => {
      expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
    });
  });
});
