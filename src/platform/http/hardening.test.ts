import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildTestApp, type TestApp } from '../../../test/helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/dialects.js';
import { pageCsp } from './hardening.js';

let database: TestDatabase;
const apps: TestApp[] = [];

async function appWith(overrides: Record<string, unknown> = {}): Promise<TestApp> {
  const harness = await buildTestApp(database.url, { overrides });
  harness.app.get('/test/large', async () => ({
    items: Array.from({ length: 200 }, (_, index) => ({ index, name: 'item' })),
  }));
  harness.app.get('/test/page', async (_request, reply) =>
    reply.type('text/html').send(`<script nonce="${pageCsp(reply)}"></script>`),
  );
  await harness.app.ready();
  apps.push(harness);
  return harness;
}

beforeAll(async () => {
  database = await createTestDatabase('sqlite');
});

afterEach(async () => {
  for (const harness of apps.splice(0)) await harness.app.close();
});

afterAll(async () => {
  await database.drop();
});

describe('security headers', () => {
  it('sends a strict CSP with a fresh nonce per response, and the other hardening headers', async () => {
    const { app } = await appWith();
    const first = await app.inject({ method: 'GET', url: '/test/page' });
    const second = await app.inject({ method: 'GET', url: '/test/page' });
    const csp = String(first.headers['content-security-policy']);
    const nonce = /script-src 'self' 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeDefined();
    expect(first.body).toContain(`nonce="${nonce}"`);
    expect(second.headers['content-security-policy']).not.toContain(nonce);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    const api = await app.inject({ method: 'GET', url: '/health/live' });
    expect(api.headers['content-security-policy']).toBe(
      "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'",
    );
    expect(api.headers['referrer-policy']).toBe('no-referrer');
    expect(first.headers).toMatchObject({
      // Pages: same-origin, so their own form posts carry a real Origin for the CSRF check.
      'referrer-policy': 'same-origin',
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
    });
    expect(first.headers['permissions-policy']).toContain('camera=()');
    expect(first.headers['strict-transport-security']).toBeUndefined();
  });

  it('sends HSTS only when the public URL is https', async () => {
    const { app } = await appWith({ server: { publicUrl: 'https://id.example.com' } });
    const response = await app.inject({ method: 'GET', url: '/health/live' });
    expect(response.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
  });
});

describe('CORS', () => {
  it('sends no CORS headers by default', async () => {
    const { app } = await appWith();
    const response = await app.inject({
      method: 'GET',
      url: '/health/live',
      headers: { origin: 'https://evil.example' },
    });
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('allows only configured origins', async () => {
    const { app } = await appWith({
      http: { corsOrigins: ['https://app.example.com'], corsCredentials: true },
    });
    const allowed = await app.inject({
      method: 'OPTIONS',
      url: '/health/live',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' },
    });
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(allowed.headers['access-control-allow-credentials']).toBe('true');
    const denied = await app.inject({
      method: 'GET',
      url: '/health/live',
      headers: { origin: 'https://evil.example' },
    });
    expect(denied.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('compression', () => {
  it('compresses responses above the threshold with brotli or gzip', async () => {
    const { app } = await appWith();
    const brotli = await app.inject({
      method: 'GET',
      url: '/test/large',
      headers: { 'accept-encoding': 'br' },
    });
    expect(brotli.headers['content-encoding']).toBe('br');
    expect(JSON.parse(brotliDecompressSync(brotli.rawPayload).toString()).items).toHaveLength(200);
    const gzip = await app.inject({
      method: 'GET',
      url: '/test/large',
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(gzip.rawPayload).toString()).items).toHaveLength(200);
    const small = await app.inject({
      method: 'GET',
      url: '/health/live',
      headers: { 'accept-encoding': 'br, gzip' },
    });
    expect(small.headers['content-encoding']).toBeUndefined();
  });
});

describe('overload protection', () => {
  it('answers 503 problem+json with Retry-After while the event loop lags, but keeps probes answering', async () => {
    const { app } = await appWith({ http: { maxEventLoopDelayMs: 20, overloadRetryAfterSeconds: 7 } });
    // Keep the event loop busy in 100 ms bursts until under-pressure's next sample sees the lag.
    const busy = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until) {
        /* blocking on purpose */
      }
    };
    const rejected = await vi.waitFor(
      async () => {
        busy(100);
        const response = await app.inject({ method: 'GET', url: '/test/large' });
        expect(response.statusCode).toBe(503);
        // In the same overloaded moment, probes still answer.
        const probe = await app.inject({ method: 'GET', url: '/health/live' });
        expect(probe.statusCode).toBe(200);
        return response;
      },
      { timeout: 10_000, interval: 1 },
    );
    expect(rejected.headers['retry-after']).toBe('7');
    expect(rejected.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(rejected.json().code).toBe('overloaded');
  });
});

describe('proxies', () => {
  const ipLoggedFor = (harness: TestApp, requestId: string) =>
    (harness.logs.entries.find((entry) => entry.requestId === requestId)?.req as { ip?: string } | undefined)
      ?.ip;

  it('ignores X-Forwarded-For unless trustProxy says to believe it', async () => {
    const untrusted = await appWith();
    await untrusted.app.inject({
      method: 'GET',
      url: '/x',
      headers: { 'x-forwarded-for': '203.0.113.9', 'x-request-id': 'p-1' },
    });
    expect(ipLoggedFor(untrusted, 'p-1')).toBe('127.0.0.1');

    const trusted = await appWith({ server: { trustProxy: '127.0.0.1' } });
    await trusted.app.inject({
      method: 'GET',
      url: '/x',
      headers: { 'x-forwarded-for': '203.0.113.9', 'x-request-id': 'p-2' },
    });
    expect(ipLoggedFor(trusted, 'p-2')).toBe('203.0.113.9');
  });

  it('does not request-log probes', async () => {
    const harness = await appWith();
    await harness.app.inject({ method: 'GET', url: '/health/ready', headers: { 'x-request-id': 'probe-1' } });
    await harness.app.inject({ method: 'GET', url: '/x', headers: { 'x-request-id': 'other-1' } });
    expect(harness.logs.entries.some((entry) => entry.requestId === 'probe-1')).toBe(false);
    expect(harness.logs.entries.some((entry) => entry.requestId === 'other-1')).toBe(true);
  });
});
