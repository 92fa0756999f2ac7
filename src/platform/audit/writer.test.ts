import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { LogCapture } from '../../../test/helpers/logs.js';
import type { AuditRecord } from './types.js';
import { type AuditDraft, type AuditWriter, type AuditWriterOptions, createAuditWriter } from './writer.js';

const NOT_STORED = 'audit event not stored; logged instead';
const NOT_COMMITTED = 'audit events could not be committed; retrying';

/** A minimal, complete draft; `n` makes ids unique and ordered. */
function draft(n: number, overrides: Partial<AuditDraft> = {}): AuditDraft {
  return {
    id: `evt-${String(n).padStart(5, '0')}`,
    time: 1_700_000_000_000 + n,
    name: 'user.signed_in',
    severity: 'low',
    outcome: 'success',
    actorType: 'user',
    actorId: `user-${n}`,
    targetType: 'user',
    targetId: `user-${n}`,
    organizationId: null,
    ip: '203.0.113.7',
    userAgent: 'vitest',
    requestId: `req-${n}`,
    details: { n },
    ...overrides,
  };
}

const drafts = (count: number, from = 0): AuditDraft[] =>
  Array.from({ length: count }, (_, index) => draft(from + index));

const ids = (items: readonly { readonly id: string }[]): string[] => items.map((item) => item.id);

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((done, fail) => {
    resolve = done;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/** One call of the fake `append`, held until the test settles it. */
interface Call {
  readonly drafts: readonly AuditDraft[];
  /** Commits the drafts (assigning positions) and resolves the call. */
  succeed(): void;
  fail(error: unknown): void;
}

/**
 * A fake log store. By default every append commits at once; with `hold()` each call waits until the test
 * settles it (`nextCall()` hands calls over in order). Positions are a running counter, as in the real log.
 */
function fakeStore() {
  let seq = 0;
  let holding = false;
  const committed: AuditRecord[] = [];
  const calls: AuditDraft[][] = [];
  const unclaimed: Call[] = [];
  const waiters: ((call: Call) => void)[] = [];

  const commit = (batch: readonly AuditDraft[]): AuditRecord[] => {
    const records = batch.map((item) => ({ ...item, seq: seq++ }));
    committed.push(...records);
    return records;
  };

  const append = vi.fn((batch: readonly AuditDraft[]): Promise<readonly AuditRecord[]> => {
    const copy = [...batch];
    calls.push(copy);
    if (!holding) return Promise.resolve(commit(copy));
    const result = deferred<readonly AuditRecord[]>();
    const call: Call = {
      drafts: copy,
      succeed: () => result.resolve(commit(copy)),
      fail: (error) => result.reject(error),
    };
    const waiter = waiters.shift();
    if (waiter) waiter(call);
    else unclaimed.push(call);
    return result.promise;
  });

  return {
    append,
    committed,
    calls,
    hold() {
      holding = true;
    },
    /** Commits calls at once from now on, and any held call the test has not taken yet. */
    release(): void {
      holding = false;
      for (const call of unclaimed.splice(0)) call.succeed();
    },
    nextCall(): Promise<Call> {
      const call = unclaimed.shift();
      if (call) return Promise.resolve(call);
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

function setup(overrides: Partial<AuditWriterOptions> = {}) {
  const store = fakeStore();
  const logs = new LogCapture();
  const registry = new Registry();
  const onCommitted = vi.fn<(records: readonly AuditRecord[]) => void>();
  const writer: AuditWriter = createAuditWriter({
    append: store.append,
    onCommitted,
    logger: pino({ level: 'debug' }, logs),
    registry,
    maxBuffer: 10_000,
    maxBatch: 1000,
    retryBaseMs: 1,
    retryMaxMs: 5,
    failingAfter: 2,
    ...overrides,
  });
  const logged = (msg: string) => logs.entries.filter((entry) => entry.msg === msg);
  return { store, logs, logged, registry, onCommitted, writer };
}

async function metric(registry: Registry, name: string): Promise<number> {
  const found = registry.getSingleMetric(name);
  if (!found) throw new Error(`metric ${name} is not registered`);
  const values = (await found.get()).values;
  return values.reduce((sum, value) => sum + value.value, 0);
}

/** Lets every pending callback of this turn run (the writer starts its loop on setImmediate). */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Whether a promise has settled, without waiting for it. */
function tracked<T>(promise: Promise<T>) {
  const state = { settled: false, value: undefined as T | undefined, error: undefined as unknown };
  const done = promise.then(
    (value) => {
      state.settled = true;
      state.value = value;
    },
    (error: unknown) => {
      state.settled = true;
      state.error = error;
    },
  );
  return { state, done };
}

describe('audit writer', () => {
  it('commits a burst in batches of at most maxBatch, in order, counted and forwarded', async () => {
    const { store, registry, onCommitted, writer } = setup({ maxBatch: 1000 });
    const events = drafts(2500);

    for (const event of events) writer.enqueue(event);
    await writer.flush();

    expect(store.calls.map((batch) => batch.length)).toEqual([1000, 1000, 500]);
    for (const batch of store.calls) expect(batch.length).toBeLessThanOrEqual(1000);
    expect(ids(store.calls.flat())).toEqual(ids(events));
    expect(ids(store.committed)).toEqual(ids(events));
    expect(store.committed.map((record) => record.seq)).toEqual(events.map((_, index) => index));
    expect(await metric(registry, 'gatehouse_audit_events_written_total')).toBe(2500);
    expect(await metric(registry, 'gatehouse_audit_write_failures_total')).toBe(0);

    const forwarded = onCommitted.mock.calls.flatMap(([records]) => records);
    expect(onCommitted).toHaveBeenCalledTimes(3);
    expect(ids(forwarded)).toEqual(ids(events));
    expect(forwarded.map((record) => record.seq)).toEqual(events.map((_, index) => index));
    expect(writer.state()).toMatchObject({ buffered: 0, failing: false, consecutiveFailures: 0 });
  });

  it('returns from enqueue before the database is touched', async () => {
    const { store, writer } = setup();
    store.hold();

    const returned = writer.enqueue(draft(1));

    expect(returned).toBeUndefined();
    expect(store.append).not.toHaveBeenCalled();
    expect(writer.state().buffered).toBe(1);

    // The commit happens later, off the request path; the held append does not hold up enqueue either.
    const call = await store.nextCall();
    writer.enqueue(draft(2));
    expect(writer.state().buffered).toBe(2);
    expect(ids(call.drafts)).toEqual(['evt-00001']);
    call.succeed();
    store.release();
    await writer.flush();
    expect(ids(store.committed)).toEqual(['evt-00001', 'evt-00002']);
  });

  it('retries a failed commit with backoff, reports failing after failingAfter failures, and recovers', async () => {
    const { store, logged, registry, onCommitted, writer } = setup({ failingAfter: 2 });
    store.hold();
    const events = drafts(3);
    for (const event of events) writer.enqueue(event);

    const first = await store.nextCall();
    first.fail(new Error('connection reset'));
    const second = await store.nextCall();
    expect(writer.state()).toMatchObject({
      buffered: 3,
      failing: false,
      consecutiveFailures: 1,
      lastError: 'connection reset',
    });
    expect(await metric(registry, 'gatehouse_audit_writer_failing')).toBe(0);

    second.fail(new Error('still down'));
    const third = await store.nextCall();
    expect(writer.state()).toMatchObject({
      buffered: 3,
      failing: true,
      consecutiveFailures: 2,
      lastError: 'still down',
    });
    expect(await metric(registry, 'gatehouse_audit_writer_failing')).toBe(1);
    expect(store.committed).toEqual([]);

    // Each attempt carried the same events in the same order.
    for (const call of [first, second, third]) expect(ids(call.drafts)).toEqual(ids(events));

    third.succeed();
    await writer.flush();

    expect(ids(store.committed)).toEqual(ids(events));
    expect(store.committed.map((record) => record.seq)).toEqual([0, 1, 2]);
    expect(ids(onCommitted.mock.calls.flatMap(([records]) => records))).toEqual(ids(events));
    expect(await metric(registry, 'gatehouse_audit_write_failures_total')).toBe(2);
    expect(await metric(registry, 'gatehouse_audit_events_written_total')).toBe(3);
    expect(await metric(registry, 'gatehouse_audit_writer_failing')).toBe(0);
    expect(writer.state()).toEqual({
      buffered: 0,
      failing: false,
      consecutiveFailures: 0,
      lastError: undefined,
    });

    const errors = logged(NOT_COMMITTED);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors[0]).toMatchObject({ level: 50, attempts: 1, err: { message: 'connection reset' } });
    expect(logged('audit writer recovered')).toHaveLength(1);
  });

  it('resolves write() with the committed record only once the append has resolved', async () => {
    const { store, writer } = setup();
    store.hold();
    writer.enqueue(draft(1));
    const event = draft(2, { name: 'user.password_changed', severity: 'high' });

    const written = tracked(writer.write(event));
    const call = await store.nextCall();
    await turn();
    await turn();

    expect(ids(call.drafts)).toEqual(['evt-00001', 'evt-00002']);
    expect(written.state.settled).toBe(false);

    call.succeed();
    await written.done;

    expect(written.state.error).toBeUndefined();
    expect(written.state.value).toEqual({ ...event, seq: 1 });
    expect(store.committed.at(-1)).toEqual({ ...event, seq: 1 });
  });

  it('rejects write() when its batch fails and drops its event, while queued events are retried', async () => {
    const { store, logged, registry, writer } = setup();
    store.hold();
    writer.enqueue(draft(1));
    writer.enqueue(draft(2));
    const waited = tracked(writer.write(draft(3)));
    writer.enqueue(draft(4));

    const first = await store.nextCall();
    expect(ids(first.drafts)).toEqual(['evt-00001', 'evt-00002', 'evt-00003', 'evt-00004']);
    const failure = new Error('serialization failure');
    first.fail(failure);
    await waited.done;

    expect(waited.state.error).toBe(failure);
    expect(writer.state().buffered).toBe(3);

    const retry = await store.nextCall();
    expect(ids(retry.drafts)).toEqual(['evt-00001', 'evt-00002', 'evt-00004']);
    retry.succeed();
    store.release();
    await writer.flush();

    expect(ids(store.committed)).toEqual(['evt-00001', 'evt-00002', 'evt-00004']);
    expect(store.committed.map((record) => record.seq)).toEqual([0, 1, 2]);
    expect(
      store.calls
        .slice(1)
        .flat()
        .map((item) => item.id),
    ).not.toContain('evt-00003');
    expect(await metric(registry, 'gatehouse_audit_write_failures_total')).toBe(1);
    // The caller was told; the event is not an overflow (it describes something that will not happen).
    expect(logged(NOT_STORED)).toEqual([]);
    expect(await metric(registry, 'gatehouse_audit_overflow_total')).toBe(0);
  });

  it('saturates at maxBuffer, logs and counts events beyond twice that, and drains once the database returns', async () => {
    const { store, logged, registry, writer } = setup({ maxBuffer: 100, maxBatch: 50 });
    store.hold();
    const events = drafts(205);

    for (const event of events.slice(0, 99)) writer.enqueue(event);
    expect(writer.saturated()).toBe(false);
    writer.enqueue(events[99]!);
    expect(writer.saturated()).toBe(true);
    expect(writer.state().buffered).toBe(100);

    // Requests already running still queue their events, up to twice maxBuffer.
    for (const event of events.slice(100, 200)) writer.enqueue(event);
    expect(writer.state().buffered).toBe(200);
    expect(logged(NOT_STORED)).toEqual([]);
    expect(await metric(registry, 'gatehouse_audit_overflow_total')).toBe(0);

    for (const event of events.slice(200)) writer.enqueue(event);
    expect(writer.state().buffered).toBe(200);
    expect(await metric(registry, 'gatehouse_audit_overflow_total')).toBe(5);
    const overflowed = logged(NOT_STORED);
    expect(overflowed).toHaveLength(5);
    for (const [index, entry] of overflowed.entries()) {
      expect(entry).toMatchObject({
        level: 50,
        reason: 'the audit buffer is full',
        auditEvent: { ...events[200 + index], details: { n: 200 + index } },
      });
    }

    // write() beyond the bound is refused too, and logged.
    const refused = tracked(writer.write(draft(999)));
    await refused.done;
    expect(refused.state.error).toBeInstanceOf(Error);
    expect(await metric(registry, 'gatehouse_audit_overflow_total')).toBe(6);

    const blocked = await store.nextCall();
    expect(writer.saturated()).toBe(true);
    expect(await metric(registry, 'gatehouse_audit_buffer')).toBe(200);

    blocked.succeed();
    store.release();
    await writer.flush();

    expect(ids(store.committed)).toEqual(ids(events.slice(0, 200)));
    expect(writer.saturated()).toBe(false);
    expect(writer.state().buffered).toBe(0);
    expect(await metric(registry, 'gatehouse_audit_buffer')).toBe(0);
    expect(await metric(registry, 'gatehouse_audit_events_written_total')).toBe(200);
    for (const batch of store.calls) expect(batch.length).toBeLessThanOrEqual(50);
  });

  it('flushes what is buffered at close', async () => {
    const { store, logged, registry, writer } = setup({ maxBatch: 10 });
    const events = drafts(25);
    for (const event of events) writer.enqueue(event);

    await writer.close(5_000);

    expect(ids(store.committed)).toEqual(ids(events));
    expect(logged(NOT_STORED)).toEqual([]);
    expect(await metric(registry, 'gatehouse_audit_overflow_total')).toBe(0);
  });

  it('gives up at the close deadline when the database keeps failing, logging every unwritten event', async () => {
    const { store, logged, registry, writer } = setup({ maxBatch: 10 });
    // The first batch commits, then the database is gone for good.
    let attempts = 0;
    const commit = store.append.getMockImplementation()!;
    store.append.mockImplementation((batch) => {
      attempts += 1;
      return attempts === 1 ? commit(batch) : Promise.reject(new Error('database unavailable'));
    });
    const events = drafts(25);
    for (const event of events) writer.enqueue(event);

    await writer.close(200);

    expect(attempts).toBeGreaterThan(1);
    const stored = logged(NOT_STORED);
    const committedIds = ids(store.committed);
    const loggedIds = stored.map((entry) => (entry.auditEvent as { id: string }).id);
    // Nothing silently dropped: each event was committed or logged, exactly once.
    expect(committedIds.length + loggedIds.length).toBe(events.length);
    expect([...committedIds, ...loggedIds]).toEqual(ids(events));
    expect(committedIds).toEqual(ids(events.slice(0, 10)));
    for (const entry of stored) {
      expect(entry).toMatchObject({ level: 50, reason: 'shutdown before the database accepted it' });
    }
    expect(await metric(registry, 'gatehouse_audit_overflow_total')).toBe(15);
    expect(await metric(registry, 'gatehouse_audit_events_written_total')).toBe(10);
    expect(writer.state().buffered).toBe(0);
  }, 10_000);

  it('resolves close() when the database fails from the start: everything is logged instead', async () => {
    const { store, logged, registry, writer } = setup();
    store.append.mockImplementation(() => Promise.reject(new Error('database unavailable')));
    const events = drafts(7);
    for (const event of events) writer.enqueue(event);

    await writer.close(10);

    expect(store.committed).toEqual([]);
    expect(logged(NOT_STORED).map((entry) => (entry.auditEvent as { id: string }).id)).toEqual(ids(events));
    expect(await metric(registry, 'gatehouse_audit_overflow_total')).toBe(7);
  }, 10_000);

  it('resolves flush() at once when idle', async () => {
    const { store, writer } = setup();

    const first = await Promise.race([writer.flush().then(() => 'flushed'), turn().then(() => 'waited')]);

    expect(first).toBe('flushed');
    expect(store.append).not.toHaveBeenCalled();
  });

  it('resolves flush() only after the pending events are committed', async () => {
    const { store, writer } = setup({ maxBatch: 2 });
    store.hold();
    for (const event of drafts(3)) writer.enqueue(event);

    const flushed = tracked(writer.flush());
    const first = await store.nextCall();
    first.succeed();
    const second = await store.nextCall();
    await turn();
    expect(flushed.state.settled).toBe(false);
    expect(ids(store.committed)).toEqual(['evt-00000', 'evt-00001']);

    second.succeed();
    await flushed.done;

    expect(flushed.state.error).toBeUndefined();
    expect(ids(store.committed)).toEqual(['evt-00000', 'evt-00001', 'evt-00002']);
    expect(writer.state().buffered).toBe(0);
    // Idle again: the next flush does not wait.
    const again = await Promise.race([writer.flush().then(() => 'flushed'), turn().then(() => 'waited')]);
    expect(again).toBe('flushed');
  });
});
