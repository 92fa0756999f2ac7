import { randomBytes } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { FakeClock } from '../../../test/helpers/clock.js';
import { describeEachDialect } from '../../../test/helpers/dialects.js';
import { LogCapture } from '../../../test/helpers/logs.js';
import { createSealedBox, sealingKeysFrom } from '../crypto/sealed.js';
import { createDatabase, type DatabaseHandle } from '../db/connection.js';
import { migrateToLatest } from '../db/migrate.js';
import { createLogger } from '../logger.js';
import { createMetrics } from '../metrics.js';
import { claimJobs, settleJob } from './queries.js';
import { createJobQueue, type JobQueue } from './queue.js';
import { createScheduler } from './scheduler.js';
import { type JobSettings, JobSettingsSchema } from './settings.js';

const settings = (changes: Partial<JobSettings> = {}): JobSettings => ({
  ...(Value.Default(JobSettingsSchema, {}) as JobSettings),
  ...changes,
});

describeEachDialect('the durable job queue', (testDatabase, dialect) => {
  // Two nodes: two connections (two pools on PostgreSQL, two handles on one SQLite file).
  let nodeA: DatabaseHandle;
  let nodeB: DatabaseHandle;
  const clock = new FakeClock(Date.UTC(2026, 10, 23, 12, 1));
  const logs = new LogCapture();
  const logger = createLogger({ level: 'info', pretty: false }, logs);
  const sealedBox = createSealedBox(sealingKeysFrom([], randomBytes(32)));
  let counter = 0;
  /** A job type name no other test uses, so each test sees only its own jobs. */
  const typeName = (name: string) => {
    counter += 1;
    return `${name}.${counter}`;
  };
  const queueOn = (database: DatabaseHandle, changes: Partial<JobSettings> = {}, random = () => 0) =>
    createJobQueue({
      database,
      clock,
      logger,
      settings: settings(changes),
      registry: createMetrics({ collectProcessMetrics: false }).registry,
      sealedBox,
      random,
    });

  beforeAll(async () => {
    const open = () =>
      createDatabase(
        { url: testDatabase().url, poolSize: 4, slowQueryMs: 0, busyTimeoutMs: 5000 },
        { logger, metrics: createMetrics({ collectProcessMetrics: false }) },
      );
    nodeA = open();
    await migrateToLatest(nodeA.db, logger);
    nodeB = open();
  });

  afterAll(async () => {
    await nodeA?.close();
    await nodeB?.close();
  });

  beforeEach(() => {
    clock.set(Date.UTC(2026, 10, 23, 12, 1));
  });

  it('runs due jobs by priority, holds delayed ones until their time, and counts them by type', async () => {
    const queue = queueOn(nodeA, { concurrency: 1 });
    const type = typeName('greet');
    const seen: string[] = [];
    queue.define<{ name: string }>(type, async ({ name }, context) => {
      seen.push(`${name}#${context.attempt}`);
    });
    await queue.enqueue(type, { name: 'low' }, { priority: 0 });
    await queue.enqueue(type, { name: 'high' }, { priority: 5 });
    await queue.enqueue(type, { name: 'later' }, { delayMs: 60_000, priority: 9 });
    expect((await queue.stats())[type]).toMatchObject({ queued: 3, running: 0, failed: 0, dead: 0 });

    expect(await queue.runDue()).toBe(1);
    expect(await queue.runDue()).toBe(1);
    expect(await queue.runDue()).toBe(0);
    expect(seen).toEqual(['high#1', 'low#1']);
    clock.advance(60_000);
    expect(await queue.runDue()).toBe(1);
    expect(seen).toEqual(['high#1', 'low#1', 'later#1']);
    expect((await queue.stats())[type]).toMatchObject({ queued: 0, succeeded: 3 });
  });

  it('retries with exponential backoff and jitter, then leaves the job dead with its error, to be replayed', async () => {
    // random() = 0 takes the lowest jitter: half of base × 2^(attempt−1).
    const queue = queueOn(nodeA, {
      defaults: { maxAttempts: 3, timeoutMs: 1000, backoff: { baseMs: 1000, maxMs: 3000 } },
    });
    const type = typeName('flaky');
    let calls = 0;
    let healthy = false;
    queue.define(type, async () => {
      calls += 1;
      if (!healthy) throw new Error('provider said no');
    });
    const { job } = await queue.enqueue(type, {});
    const start = clock.now();

    await queue.runDue();
    let state = await queue.get(job.id);
    expect(state).toMatchObject({ status: 'failed', attempts: 1, lastError: 'Error: provider said no' });
    expect(state.runAt).toBe(start + 500);
    clock.advance(499);
    expect(await queue.runDue()).toBe(0);
    clock.advance(1);
    await queue.runDue();
    state = await queue.get(job.id);
    expect(state).toMatchObject({ status: 'failed', attempts: 2 });
    expect(state.runAt).toBe(clock.now() + 1000);

    clock.advance(1000);
    await queue.runDue();
    expect(await queue.get(job.id)).toMatchObject({ status: 'dead', attempts: 3 });
    expect(calls).toBe(3);
    clock.advance(3_600_000);
    expect(await queue.runDue()).toBe(0);
    expect(logs.entries.find((line) => line.msg === 'job failed its last attempt and is dead')).toMatchObject(
      {
        jobId: job.id,
      },
    );
    expect((await queue.stats())[type]).toMatchObject({ dead: 1 });

    // An operator replays it once the provider is back.
    healthy = true;
    expect(await queue.retry(job.id)).toMatchObject({ status: 'queued', attempts: 0 });
    await queue.runDue();
    expect(await queue.get(job.id)).toMatchObject({ status: 'succeeded', attempts: 1, lastError: null });
    await expect(queue.retry(job.id)).resolves.toMatchObject({ status: 'queued' });
    await queue.runDue();
  });

  it('caps the backoff and spreads retries with jitter', async () => {
    const high = queueOn(
      nodeA,
      {
        defaults: { maxAttempts: 20, timeoutMs: 1000, backoff: { baseMs: 1000, maxMs: 5000 } },
      },
      () => 0.999,
    );
    const type = typeName('capped');
    high.define(type, async () => {
      throw new Error('down');
    });
    const { job } = await high.enqueue(type, {});
    const delays: number[] = [];
    for (let attempt = 0; attempt < 5; attempt += 1) {
      await high.runDue();
      const state = await high.get(job.id);
      delays.push(state.runAt - clock.now());
      clock.set(state.runAt);
    }
    // 1 s, 2 s, 4 s, then the 5 s cap, each at 99.95 % of its ceiling with random() = 0.999.
    expect(delays).toEqual([1000, 1999, 3998, 4998, 4998]);
  });

  it('gives a job that runs too long its time limit, aborting its signal, and retries it', async () => {
    const queue = queueOn(nodeA);
    const type = typeName('slow');
    let aborted = false;
    queue.define(
      type,
      (_payload, context) =>
        new Promise<void>((resolve) => {
          context.signal.addEventListener('abort', () => {
            aborted = true;
            resolve();
          });
        }),
      { timeoutMs: 20 },
    );
    const { job } = await queue.enqueue(type, {});
    await queue.runDue();
    expect(aborted).toBe(true);
    expect(await queue.get(job.id)).toMatchObject({
      status: 'failed',
      lastError: 'Error: timed out after 20 ms',
    });
  });

  it('adds a job once per idempotency key', async () => {
    const queue = queueOn(nodeA);
    const type = typeName('once');
    queue.define(type, async () => {});
    const first = await queue.enqueue(type, { n: 1 }, { idempotencyKey: `key-${type}` });
    const second = await queue.enqueue(type, { n: 2 }, { idempotencyKey: `key-${type}` });
    expect(first.created).toBe(true);
    expect(second).toMatchObject({ created: false, job: { id: first.job.id } });
    expect((await queue.stats())[type]?.queued).toBe(1);
    await expect(queue.enqueue('no.such.type', {})).rejects.toMatchObject({ code: 'job_type_unknown' });
  });

  it('seals the payload of sensitive jobs at rest and opens it for the handler', async () => {
    const queue = queueOn(nodeA);
    const type = typeName('mail');
    let received: unknown;
    queue.define(
      type,
      async (payload) => {
        received = payload;
      },
      { sensitive: true },
    );
    const { job } = await queue.enqueue(type, { link: 'https://id.example/reset?token=s3cret' });
    const row = await nodeA.db
      .selectFrom('jobs')
      .select('payload')
      .where('id', '=', job.id)
      .executeTakeFirstOrThrow();
    expect(row.payload).not.toContain('s3cret');
    expect(row.payload).toMatch(/^v2\./);
    await queue.runDue();
    expect(received).toEqual({ link: 'https://id.example/reset?token=s3cret' });
  });

  it("gives a dead worker's job to another node once its lease runs out, and ignores the dead one's late word", async () => {
    const queue = queueOn(nodeB, { leaseGraceMs: 30_000 });
    const type = typeName('orphan');
    let ran = 0;
    queue.define(
      type,
      async () => {
        ran += 1;
      },
      { timeoutMs: 10_000 },
    );
    const { job } = await queue.enqueue(type, {});
    // A node claims it, then dies before settling.
    const [claimed] = await claimJobs(nodeA.db, dialect, {
      worker: 'node-that-died',
      types: [type],
      limit: 1,
      now: clock.now(),
      leaseMs: 30_000,
    });
    expect(claimed).toMatchObject({ id: job.id, status: 'running', attempts: 1 });
    expect(await queue.runDue()).toBe(0);
    clock.advance(40_000);
    expect(await queue.runDue()).toBe(0);
    clock.advance(1);
    expect(await queue.runDue()).toBe(1);
    expect(ran).toBe(1);
    expect(await queue.get(job.id)).toMatchObject({ status: 'succeeded', attempts: 2 });
    // The first worker comes back to life and tries to report: refused, the newer outcome stands.
    expect(
      await settleJob(nodeA.db, job.id, 'node-that-died', { status: 'failed', updated_at: clock.now() }),
    ).toBe(false);
    expect(await queue.get(job.id)).toMatchObject({ status: 'succeeded' });
  });

  it('never runs one job twice when two nodes work the same queue at once', async () => {
    const type = typeName('shared');
    const runs = new Map<number, number>();
    const handler = async ({ n }: { n: number }) => {
      runs.set(n, (runs.get(n) ?? 0) + 1);
      // Yield so the other node's claims interleave with this one's runs.
      await new Promise((resolve) => setImmediate(resolve));
    };
    const a: JobQueue = queueOn(nodeA, { concurrency: 4 });
    const b: JobQueue = queueOn(nodeB, { concurrency: 4 });
    a.define(type, handler);
    b.define(type, handler);
    const total = 120;
    for (let n = 0; n < total; n += 1) await a.enqueue(type, { n });
    const drain = async (queue: JobQueue) => {
      let ran = 0;
      for (let round = 0; round < 200; round += 1) {
        const count = await queue.runDue();
        ran += count;
        if (count === 0 && (await queue.stats())[type]?.queued === 0) break;
      }
      return ran;
    };
    const [byA, byB] = await Promise.all([drain(a), drain(b)]);
    expect(byA + byB).toBe(total);
    expect(byA).toBeGreaterThan(0);
    expect(byB).toBeGreaterThan(0);
    expect(runs.size).toBe(total);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    expect((await a.stats())[type]).toMatchObject({ succeeded: total, queued: 0, running: 0 });
  });

  it('runs a scheduled task once per due time across nodes, in its time zone', async () => {
    const type = typeName('nightly');
    const queues = [queueOn(nodeA), queueOn(nodeB)];
    for (const queue of queues) queue.define(type, async () => {});
    const name = `task-${type}`;
    const schedulers = [nodeA, nodeB].map((database, index) =>
      createScheduler({
        database,
        clock,
        logger,
        queue: queues[index]!,
        tasks: [
          { name, cron: '*/5 * * * *', timezone: 'UTC', jobType: type },
          { name: `${name}-paris`, cron: '0 3 * * *', timezone: 'Europe/Paris', jobType: type },
          { name: `${name}-off`, cron: '', timezone: 'UTC', jobType: type },
        ],
      }),
    );
    // 12:01: registered, next runs at 12:05 (UTC) and 03:00 in Paris, 02:00 UTC in November.
    expect(await schedulers[0]!.tick()).toEqual([]);
    const listed = await schedulers[0]!.list();
    expect(listed.find((entry) => entry.name === name)?.nextRunAt).toBe(Date.UTC(2026, 10, 23, 12, 5));
    expect(listed.find((entry) => entry.name === `${name}-paris`)?.nextRunAt).toBe(Date.UTC(2026, 10, 24, 2));
    expect(listed.some((entry) => entry.name === `${name}-off`)).toBe(false);

    // Both nodes tick at once on PostgreSQL. Two SQLite connections in one process cannot both hold write
    // transactions (the waiting one blocks the event loop the other needs to commit), so they take turns there,
    // as two processes on one file do through its lock.
    const tickAll = async () =>
      dialect === 'postgres'
        ? Promise.all(schedulers.map((scheduler) => scheduler.tick()))
        : [await schedulers[0]!.tick(), await schedulers[1]!.tick()];
    clock.set(Date.UTC(2026, 10, 23, 12, 4, 59));
    expect(await tickAll()).toEqual([[], []]);
    clock.set(Date.UTC(2026, 10, 23, 12, 5, 30));
    const ticks = await tickAll();
    expect(ticks.flat()).toEqual([name]);
    expect((await queues[0]!.stats())[type]).toMatchObject({ queued: 1 });
    const after = (await schedulers[1]!.list()).find((entry) => entry.name === name);
    expect(after).toMatchObject({
      lastRunAt: Date.UTC(2026, 10, 23, 12, 5),
      nextRunAt: Date.UTC(2026, 10, 23, 12, 10),
    });

    // Every node down for an hour: one run when they come back, not twelve.
    clock.set(Date.UTC(2026, 10, 23, 13, 7));
    expect((await tickAll()).flat()).toEqual([name]);
    expect((await queues[0]!.stats())[type]).toMatchObject({ queued: 2 });
    expect((await schedulers[0]!.list()).find((entry) => entry.name === name)?.nextRunAt).toBe(
      Date.UTC(2026, 10, 23, 13, 10),
    );
    expect(() =>
      createScheduler({
        database: nodeA,
        clock,
        logger,
        queue: queues[0]!,
        tasks: [{ name: 'broken', cron: 'every tuesday', timezone: 'UTC', jobType: type }],
      }),
    ).toThrow(/jobs\.schedules\.broken/);
  });
});
