import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../../test/helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/dialects.js';

describe('API documentation', () => {
  let database: TestDatabase;
  let harness: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    harness = await buildTestApp(database.url, {
      overrides: { server: { publicUrl: 'https://id.example.com' } },
    });
    await harness.app.ready();
  });

  afterAll(async () => {
    await harness.app.close();
    await database.drop();
  });

  it('publishes OpenAPI 3 generated from the route schemas, requests and responses', async () => {
    const response = await harness.app.inject({ method: 'GET', url: '/docs/openapi.json' });
    expect(response.statusCode).toBe(200);
    const document = response.json();
    expect(document.openapi).toBe('3.1.0');
    expect(document.servers).toEqual([{ url: 'https://id.example.com' }]);
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/health/live', '/health/ready', '/health', '/metrics']),
    );
    expect(document.paths['/docs/openapi.json']).toBeUndefined();
    const ready = document.paths['/health/ready'].get;
    expect(Object.keys(ready.responses)).toEqual(['200', '503']);
    expect(ready.responses['200'].content['application/json'].schema.properties.failed.type).toBe('array');
    expect(document.paths['/health'].get.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ in: 'header', name: 'authorization' })]),
    );
    expect(
      document.paths['/metrics'].get.responses['4XX'] ?? document.paths['/metrics'].get.responses['4xx'],
    ).toBeDefined();
  });

  it('serves a browsable UI that cannot be framed', async () => {
    const response = await harness.app.inject({ method: 'GET', url: '/docs/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
    expect(response.body).toContain('swagger-ui');
    expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  });
});
