import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shutdown } from '../src/platform/shutdown.js';
import { buildTestApp } from './helpers/app.js';
import { createTestDatabase, type TestDatabase } from './helpers/dialects.js';

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('graceful shutdown', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });

  afterAll(async () => {
    await database.drop();
  });

  it('turns readiness to 503, refuses new connections, and lets an in-flight request finish', async () => {
    const { app } = await buildTestApp(database.url);
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    app.get('/test/slow', async () => {
      started();
      await released;
      // Uses the database after shutdown began: it must still be open for in-flight work.
      const rows = await app.gatehouse.database.db.selectFrom('settings').select('key').execute();
      return { done: true, settings: rows.length };
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;

    const inFlight = get(port, '/test/slow');
    await handlerStarted;

    app.gatehouse.health.beginShutdown();
    const readiness = await get(port, '/health/ready');
    expect(readiness.status).toBe(503);
    expect(JSON.parse(readiness.body)).toMatchObject({ status: 'down', shuttingDown: true });

    const stopping = shutdown(app, { delayMs: 0, timeoutMs: 10_000 });
    await expect(get(port, '/health/live')).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    release();
    const finished = await inFlight;
    expect(finished.status).toBe(200);
    // The installation id and the fingerprint of the configuration.
    expect(JSON.parse(finished.body)).toEqual({ done: true, settings: 2 });
    expect(await stopping).toEqual({ forced: false });
  });

  it('cuts requests that outlive the timeout', async () => {
    const { app } = await buildTestApp(database.url);
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    app.get('/test/stuck', async () => {
      started();
      await new Promise(() => {});
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    // The expectation is attached now: the connection may be cut before shutdown() returns.
    const cut = expect(get(port, '/test/stuck')).rejects.toMatchObject({ code: 'ECONNRESET' });
    await handlerStarted;
    expect(await shutdown(app, { delayMs: 0, timeoutMs: 50 })).toEqual({ forced: true });
    await cut;
  });
});
