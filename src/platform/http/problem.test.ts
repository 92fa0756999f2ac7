import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../../test/helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/dialects.js';
import { GatehouseError } from '../errors.js';

describe('errors as application/problem+json', () => {
  let database: TestDatabase;
  let harness: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    harness = await buildTestApp(database.url, { overrides: { server: { bodyLimitBytes: 2048 } } });
    const { app } = harness;
    app.post(
      '/test/echo',
      {
        schema: {
          body: Type.Object(
            { email: Type.String({ format: 'email' }), age: Type.Integer({ minimum: 0 }) },
            { additionalProperties: false },
          ),
        },
      },
      async (request) => request.body,
    );
    app.get('/test/crash', async () => {
      throw new Error('SELECT secret FROM users WHERE id = 1 at /srv/gatehouse/src/x.ts:12');
    });
    app.get('/test/conflict', async () => {
      throw new GatehouseError('conflict', 'That name is taken');
    });
    app.get('/test/hidden', async () => {
      throw new GatehouseError('config_invalid', 'internal detail that must not leak');
    });
    await app.ready();
  });

  afterAll(async () => {
    await harness.app.close();
    await database.drop();
  });

  const expectProblem = (
    response: { headers: Record<string, unknown>; json(): unknown },
    code: string,
    status: number,
  ) => {
    expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    const body = response.json() as Record<string, unknown>;
    expect(body).toMatchObject({ code, status, type: `urn:gatehouse:problem:${code}` });
    expect(body.requestId).toBe(response.headers['x-request-id']);
    return body;
  };

  it('answers 400 for malformed JSON', async () => {
    const response = await harness.app.inject({
      method: 'POST',
      url: '/test/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"email": ',
    });
    expect(response.statusCode).toBe(400);
    expectProblem(response, 'malformed_body', 400);
  });

  it('answers 400 with field paths for invalid input', async () => {
    const response = await harness.app.inject({
      method: 'POST',
      url: '/test/echo',
      payload: { email: 'not-an-email', age: -1, admin: true },
    });
    expect(response.statusCode).toBe(400);
    const body = expectProblem(response, 'validation_failed', 400);
    const paths = (body.errors as { path: string }[]).map((error) => error.path).sort();
    expect(paths).toEqual(['body.admin', 'body.age', 'body.email']);
  });

  it('names a missing field by its path', async () => {
    const response = await harness.app.inject({
      method: 'POST',
      url: '/test/echo',
      payload: { email: 'a@b.co' },
    });
    const body = expectProblem(response, 'validation_failed', 400);
    expect(body.errors).toEqual([{ path: 'body.age', message: "must have required property 'age'" }]);
  });

  it('answers 413 for a body over the limit', async () => {
    const response = await harness.app.inject({
      method: 'POST',
      url: '/test/echo',
      payload: { email: `${'a'.repeat(4096)}@example.com`, age: 1 },
    });
    expect(response.statusCode).toBe(413);
    expectProblem(response, 'body_too_large', 413);
  });

  it('answers 415 for an unsupported content type', async () => {
    const response = await harness.app.inject({
      method: 'POST',
      url: '/test/echo',
      headers: { 'content-type': 'application/x-unknown' },
      payload: 'x',
    });
    expect(response.statusCode).toBe(415);
    expectProblem(response, 'unsupported_media_type', 415);
  });

  it('answers 404 for an unknown route', async () => {
    const response = await harness.app.inject({ method: 'GET', url: '/no/such/thing' });
    expect(response.statusCode).toBe(404);
    expectProblem(response, 'not_found', 404);
  });

  it('answers 405 with Allow for a known route and a wrong method', async () => {
    const response = await harness.app.inject({ method: 'DELETE', url: '/test/echo' });
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe('POST');
    expectProblem(response, 'method_not_allowed', 405);
    const probe = await harness.app.inject({ method: 'POST', url: '/health/live' });
    expect(probe.statusCode).toBe(405);
    expect(probe.headers.allow).toBe('GET, HEAD');
  });

  it('shows the message of an exposable error', async () => {
    const response = await harness.app.inject({ method: 'GET', url: '/test/conflict' });
    expect(response.statusCode).toBe(409);
    expect(expectProblem(response, 'conflict', 409).detail).toBe('That name is taken');
  });

  it('answers 500 with no internals, and logs them in full', async () => {
    const response = await harness.app.inject({
      method: 'GET',
      url: '/test/crash',
      headers: { 'x-request-id': 'crash-1' },
    });
    expect(response.statusCode).toBe(500);
    const body = expectProblem(response, 'internal_error', 500);
    expect(body.detail).toBe('Internal server error');
    expect(response.body).not.toMatch(/SELECT|\/srv\/|\.ts|stack/i);
    const logged = harness.logs.entries.find(
      (entry) => entry.requestId === 'crash-1' && entry.msg === 'request failed',
    );
    expect(logged).toBeDefined();
    expect(JSON.stringify(logged)).toContain('SELECT secret FROM users');
    expect((logged!.err as { stack?: string }).stack).toContain('problem.test.ts');
  });

  it('uses the code title instead of the message for codes that are not exposable', async () => {
    const response = await harness.app.inject({ method: 'GET', url: '/test/hidden' });
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('must not leak');
    expect(expectProblem(response, 'config_invalid', 500).detail).toBe('Invalid configuration');
  });
});
