import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../test/helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/dialects.js';
import { createLogger, lazyChildLogger, maskEmail, redactUrl } from './logger.js';

const PASSWORD = 'correct-horse-battery-staple-91';

describe('logging', () => {
  let database: TestDatabase;
  let harness: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    harness = await buildTestApp(database.url, { overrides: { log: { level: 'trace' } } });
    const { app } = harness;
    app.post(
      '/test/login',
      { schema: { body: Type.Object({ email: Type.String(), password: Type.String({ minLength: 100 }) }) } },
      async () => ({ ok: true }),
    );
    app.post('/test/explode', async (request) => {
      request.log.info({ body: request.body }, 'handler saw the body');
      throw new Error('boom');
    });
    await app.ready();
  });

  afterAll(async () => {
    await harness.app.close();
    await database.drop();
  });

  it('never writes a password sent in a request to the log', async () => {
    const headers = { authorization: `Bearer ${PASSWORD}`, cookie: `session=${PASSWORD}` };
    const payload = { email: 'alice@example.com', password: PASSWORD };
    const rejected = await harness.app.inject({ method: 'POST', url: '/test/login', headers, payload });
    expect(rejected.statusCode).toBe(400);
    const failed = await harness.app.inject({
      method: 'POST',
      url: `/test/explode?token=${PASSWORD}`,
      headers,
      payload,
    });
    expect(failed.statusCode).toBe(500);

    // The lines exist (so the assertion below is about redaction, not about missing output)...
    expect(harness.logs.entries.some((entry) => entry.msg === 'handler saw the body')).toBe(true);
    expect(harness.logs.text).toContain('[redacted]');
    // ...and the secret is in none of them, nor the full e-mail address.
    expect(harness.logs.text).not.toContain(PASSWORD);
    expect(harness.logs.text).not.toContain('alice@example.com');
    expect(harness.logs.text).toContain('a***@example.com');
  });

  it('puts the request id on every line of a request and echoes it', async () => {
    const response = await harness.app.inject({
      method: 'GET',
      url: '/health/ready',
      headers: { 'x-request-id': 'trace-abc.123' },
    });
    expect(response.headers['x-request-id']).toBe('trace-abc.123');
    const unknown = await harness.app.inject({
      method: 'GET',
      url: '/nope',
      headers: { 'x-request-id': 'req-404' },
    });
    expect(unknown.headers['x-request-id']).toBe('req-404');
    const lines = harness.logs.entries.filter((entry) => entry.requestId === 'req-404');
    expect(lines.map((line) => line.msg)).toEqual([
      'incoming request',
      'request rejected',
      'request completed',
    ]);
  });

  it('replaces a malformed incoming request id', async () => {
    const forged = 'x\n{"level":60,"msg":"forged"}';
    const response = await harness.app.inject({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': forged },
    });
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const long = await harness.app.inject({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': 'a'.repeat(129) },
    });
    expect(long.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('log helpers', () => {
  it('masks e-mail addresses', () => {
    expect(maskEmail('bob.smith@example.org')).toBe('b***@example.org');
    expect(maskEmail('not-an-email')).toBe('[redacted]');
    expect(maskEmail(42)).toBe('[redacted]');
  });

  it('masks secret query parameters and keeps the rest', () => {
    expect(redactUrl('/cb?code=abc&state=xyz')).toBe('/cb?code=%5Bredacted%5D&state=xyz');
    expect(redactUrl('/plain')).toBe('/plain');
  });

  it('redacts nested secrets in any log call', () => {
    const lines: string[] = [];
    const logger = createLogger(
      { level: 'info', pretty: false },
      { write: (line: string) => lines.push(line) },
    );
    logger.info(
      { user: { email: 'carol@example.net', credentials: { password: 'p4ss', apiKey: 'k3y' } } },
      'nested',
    );
    expect(lines[0]).not.toMatch(/p4ss|k3y|carol@/);
    expect(JSON.parse(lines[0]!).user.email).toBe('c***@example.net');
  });

  it('hides every secret-named field at any depth', () => {
    const lines: string[] = [];
    const logger = createLogger(
      { level: 'info', pretty: false },
      { write: (line: string) => lines.push(line) },
    );
    const names = [
      'password',
      'currentPassword',
      'newPassword',
      'passwordHash',
      'secret',
      'clientSecret',
      'client_secret',
      'token',
      'accessToken',
      'access_token',
      'refreshToken',
      'refresh_token',
      'idToken',
      'id_token',
      'apiKey',
      'api_key',
      'x-api-key',
      'otp',
      'totp',
      'backupCode',
      'privateKey',
      'secretKey',
      'cookie',
      'authorization',
      'set-cookie',
    ];
    const secrets = Object.fromEntries(names.map((name, index) => [name, `value-${index}-zz`]));
    logger.info({ a: { b: { c: { d: secrets } } }, ...secrets }, 'secrets');
    expect(lines).toHaveLength(1);
    for (const line of lines) expect(line).not.toMatch(/value-\d+-zz/);
    expect(JSON.parse(lines[0]!).a.b.c.d.password).toBe('[redacted]');
  });

  it('masks card numbers, national IDs, keys and tokens in messages, fields and errors (DLP)', () => {
    const lines: string[] = [];
    const logger = createLogger(
      {
        level: 'info',
        pretty: false,
        redaction: { patterns: [{ name: 'ticket', pattern: 'TKT-\\d{5}' }], fieldNames: ['favouriteColour'] },
      },
      { write: (line: string) => lines.push(line) },
    );
    logger.info(
      { note: 'customer read out 4111 1111 1111 1111 and SSN 123-45-6789', favouriteColour: 'teal' },
      'support call TKT-12345 with key gh_0123456789abcdef_%s',
      'A'.repeat(43),
    );
    logger.error({ err: new Error('upstream said Bearer abcdefghijklmnopqrstu') }, 'failed');
    const first = JSON.parse(lines[0]!);
    expect(first.note).toBe('customer read out [card ****1111] and SSN [national id]');
    expect(first.favouriteColour).toBe('[redacted]');
    expect(first.msg).toBe('support call [ticket] with key gh_0123456789abcdef_[redacted]');
    expect(lines[1]).not.toContain('abcdefghijklmnopqrstu');
    expect(JSON.parse(lines[1]!).err.message).toBe('upstream said Bearer [redacted]');
  });

  it('makes a request logger only when it logs, with its bindings and the same redaction', () => {
    const lines: string[] = [];
    const parent = createLogger(
      { level: 'warn', pretty: false },
      { write: (line: string) => lines.push(line) },
    );
    let children = 0;
    const counting = new Proxy(parent, {
      get: (target, property) =>
        property === 'child'
          ? (...args: Parameters<typeof parent.child>) => {
              children += 1;
              return target.child(...args);
            }
          : Reflect.get(target, property, target),
    });
    const quiet = lazyChildLogger(counting, { requestId: 'r-1' }, {});
    // What Fastify's logger validation touches.
    for (const method of ['info', 'error', 'debug', 'fatal', 'warn', 'trace', 'child'] as const) {
      expect(typeof quiet[method]).toBe('function');
    }
    quiet.info('below the level');
    quiet.debug({ password: 'x' }, 'below the level');
    expect(children).toBe(0);
    expect(lines).toEqual([]);

    const marker = Symbol('marker');
    (quiet as unknown as Record<symbol, unknown>)[marker] = true;
    quiet.warn({ password: 'hunter2', email: 'dora@example.org' }, 'above the level');
    expect(children).toBe(1);
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({
      requestId: 'r-1',
      msg: 'above the level',
      password: '[redacted]',
      email: 'd***@example.org',
    });
    expect((quiet as unknown as Record<symbol, unknown>)[marker]).toBe(true);
    expect(quiet.isLevelEnabled('error')).toBe(true);

    // A route's own level wins over the parent's.
    const verbose = lazyChildLogger(parent, { requestId: 'r-2' }, { level: 'debug' });
    verbose.debug('route logs at debug');
    expect(JSON.parse(lines[1]!)).toMatchObject({ requestId: 'r-2', msg: 'route logs at debug' });
  });
});
