import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchesOf } from '../src/modules/audit/queued-forwarding.js';
import type { AuditRecord } from '../src/platform/audit/types.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { FakeClock } from './helpers/clock.js';
import { describeEachDialect } from './helpers/dialects.js';

describe('forwarding batches', () => {
  const at = (...positions: number[]) => positions.map((seq) => ({ seq }) as AuditRecord);
  it('makes contiguous runs of positions, at most 500 long', () => {
    expect(batchesOf(at(5, 3, 4, 9, 10, 4))).toEqual([
      { from: 3, to: 5 },
      { from: 9, to: 10 },
    ]);
    const many = batchesOf(at(...Array.from({ length: 1_201 }, (_, index) => index)));
    expect(many).toEqual([
      { from: 0, to: 499 },
      { from: 500, to: 999 },
      { from: 1_000, to: 1_200 },
    ]);
    expect(batchesOf([])).toEqual([]);
  });
});

describeEachDialect('audit forwarding through the job queue', (testDatabase) => {
  let harness: TestApp;
  let server: Server;
  const received: { events: { id: string; name: string; seq: number }[] }[] = [];
  let failuresLeft = 0;
  const clock = new FakeClock(Date.UTC(2026, 10, 23, 12));

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      request.on('end', () => {
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          response.writeHead(503).end();
          return;
        }
        received.push(JSON.parse(body));
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    harness = await buildTestApp(testDatabase().url, {
      clock,
      overrides: {
        audit: {
          forwarding: {
            webhook: {
              enabled: true,
              url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/audit`,
            },
            maxAttempts: 3,
            retryBaseMs: 1000,
          },
        },
        // The test runs the worker step by step.
        jobs: { enabled: false },
      },
    });
  });

  afterAll(async () => {
    await harness?.app.close();
    server?.close();
  });

  const jobs = () => harness.app.services.jobs;
  const record = (name: string) =>
    harness.app.services.events.recordDurably({ name, severity: 'low', outcome: 'success' });
  const forwardJobs = () => jobs().list({ type: 'audit.forward.webhook' });
  const nextAttempt = async () => {
    const [job] = (await forwardJobs()).filter((entry) => entry.status === 'failed');
    clock.set(Math.max(clock.now(), job!.runAt));
    return jobs().runDue();
  };

  it('sends committed events as a job that reads them back, retries a failing collector, and keeps a dead batch for replay', async () => {
    // Whatever the app recorded while starting is forwarded first, so the collector starts from a clean slate:
    // no forward job left, and the newest event in the log has reached the collector (its batch's job may be
    // enqueued a moment after the batch commits, so an empty queue alone does not say it was sent).
    await harness.app.services.auditWriter.flush();
    const [newest] = (await harness.app.services.audit.list({}, 1)).events;
    await expect
      .poll(async () => {
        await jobs().runDue();
        const pending = (await forwardJobs()).filter((job) => job.status !== 'succeeded').length;
        const caughtUp =
          newest === undefined ||
          received.some((body) => body.events.some((event) => event.seq >= newest.seq));
        return pending === 0 && caughtUp;
      })
      .toBe(true);
    received.length = 0;
    await record('test.forwarded.one');
    await expect
      .poll(async () => (await forwardJobs()).filter((job) => job.status === 'queued').length)
      .toBeGreaterThan(0);
    failuresLeft = 1;
    await jobs().runDue();
    expect(received).toHaveLength(0);
    await nextAttempt();
    const sent = received.flatMap((body) => body.events);
    expect(sent.map((event) => event.name)).toContain('test.forwarded.one');
    // What arrives is what the log holds at those positions.
    const stored = await harness.app.services.audit.list({ name: 'test.forwarded.one' }, 1);
    expect(sent.find((event) => event.name === 'test.forwarded.one')).toMatchObject({
      id: stored.events[0]!.id,
      seq: stored.events[0]!.seq,
    });

    // A collector down for every attempt: the batch's job is dead, counted, and can be replayed.
    received.length = 0;
    failuresLeft = 3;
    await record('test.forwarded.two');
    await expect
      .poll(async () => (await forwardJobs()).filter((job) => job.status === 'queued').length)
      .toBeGreaterThan(0);
    await jobs().runDue();
    await nextAttempt();
    await nextAttempt();
    const [dead] = (await forwardJobs()).filter((job) => job.status === 'dead');
    expect(dead).toBeDefined();
    expect(received).toHaveLength(0);
    const metrics = await harness.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/gatehouse_audit_forward_dropped_total\{forwarder="webhook"\} [1-9]/);
    await jobs().retry(dead!.id);
    await jobs().runDue();
    expect(received.flatMap((body) => body.events).map((event) => event.name)).toContain(
      'test.forwarded.two',
    );
  });
});
