import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import pg from 'pg';
import { createPlatform, type Platform } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import type { Checkpoint } from '../../src/modules/audit/service.js';
import { auditKeysFrom, eventTag } from '../../src/platform/audit/keys.js';
import { leafData } from '../../src/platform/audit/leaf.js';
import { appendLeaf, emptyFrontier, leafHash, toHex } from '../../src/platform/audit/merkle.js';
import type { AuditRecord } from '../../src/platform/audit/types.js';
import { type AuditDraft, createAuditWriter } from '../../src/platform/audit/writer.js';
import type { Dialect } from '../../src/platform/db/connection.js';
import { draftOf, type SecurityEvent } from '../../src/platform/events.js';
import { createRedactor } from '../../src/platform/redaction.js';
import { createServices, type Services } from '../../src/services.js';
import { type Measurement, measure, round, type Scenario, startGatehouse } from '../harness.js';

const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Events recorded per dialect in the sustained run; about 10–30 s each on the 2-core CI machine. */
const EVENTS: Readonly<Record<Dialect, number>> = {
  sqlite: Number(process.env.BENCH_AUDIT_EVENTS_SQLITE ?? 200_000),
  postgres: Number(process.env.BENCH_AUDIT_EVENTS_POSTGRES ?? 200_000),
};
/** Events appended straight through `audit.append` (no recorder, no writer), in batches of the writer's size. */
const DIRECT_EVENTS = 50_000;
/** Events in the run at the default log level, where each event is also formatted as a log line. */
const INFO_EVENTS = Number(process.env.BENCH_AUDIT_EVENTS_INFO ?? 20_000);
const BATCH = 1_000;
const PASSWORD = 'bench-password-correct-horse-77';
const TARGET_EVENTS_PER_SECOND = 10_000;
const LOGIN_ORDER = [true, false, false, true, true, false, false, true];

// ---------------------------------------------------------------------------------------------------------
// Realistic events: mostly sign-ins, some failures, a few session and security events.

const USER_IDS = Array.from(
  { length: 1_000 },
  (_, index) => `0193a0b2-7c4d-7e5f-8a6b-${String(index).padStart(12, '0')}`,
);
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
];

function eventAt(index: number): SecurityEvent {
  const user = USER_IDS[index % USER_IDS.length]!;
  const common = {
    ip: `203.0.113.${index % 250}`,
    userAgent: AGENTS[index % AGENTS.length],
    requestId: `req-${index.toString(36)}`,
  };
  const kind = index % 100;
  if (kind < 70) {
    return {
      name: 'auth.login.succeeded',
      severity: 'low',
      outcome: 'success',
      actorUserId: user,
      targetUserId: user,
      ...common,
      details: { sessionId: `sess-${index.toString(36)}`, amr: ['pwd'], acr: 1 },
    };
  }
  if (kind < 90) {
    return {
      name: 'auth.login.failed',
      severity: 'low',
      outcome: 'failure',
      targetUserId: user,
      ...common,
      details: { reason: 'invalid_password' },
    };
  }
  if (kind < 97) {
    return {
      name: 'session.revoked',
      severity: 'low',
      outcome: 'success',
      actorUserId: user,
      targetUserId: user,
      ...common,
      details: { sessionId: `sess-${(index - 90).toString(36)}`, reason: 'logout' },
    };
  }
  return {
    name: 'security.risk.elevated',
    severity: kind < 99 ? 'medium' : 'high',
    outcome: 'success',
    targetUserId: user,
    ...common,
    details: { score: 40 + (index % 50), signals: ['new_device', 'new_network'], action: 'mfa' },
  };
}

// ---------------------------------------------------------------------------------------------------------
// A fresh database per run, as the tests make them: a SQLite file, or a PostgreSQL schema.

interface BenchDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

async function createBenchDatabase(dialect: Dialect): Promise<BenchDatabase> {
  if (dialect === 'sqlite') {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-bench-db-'));
    return {
      url: `sqlite:${join(directory, 'gatehouse.db')}`,
      drop: async () => rmSync(directory, { recursive: true, force: true }),
    };
  }
  const schema = `gh_bench_${Date.now()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`create schema "${schema}"`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    },
  };
}

/** Platform and services as every entry point builds them; log lines are formatted, then dropped. */
async function openGatehouse(databaseUrl: string, logLevel: 'warn' | 'info' = 'warn') {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      database: { url: databaseUrl },
      secrets: { key: randomBytes(32).toString('hex') },
      log: { level: logLevel },
      http: { maxEventLoopDelayMs: 0 },
    },
  });
  const platform: Platform = await createPlatform(config, { logDestination: { write() {} } });
  const services: Services = await createServices(platform);
  return {
    platform,
    services,
    async close() {
      await services.close();
      await platform.redis?.close();
      await platform.database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Small statistics.

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** Prometheus' histogram_quantile: linear interpolation inside the bucket the quantile falls in. */
function histogramQuantile(buckets: readonly { le: number; count: number }[], q: number): number {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return lower;
      return lower + ((bucket.le - lower) * (rank - below)) / Math.max(bucket.count - below, 1);
    }
    lower = bucket.le;
    below = bucket.count;
  }
  return lower;
}

async function batchHistogram(platform: Platform) {
  const metric = platform.metrics.registry.getSingleMetric('gatehouse_audit_batch_seconds');
  const values = (metric ? (await metric.get()).values : []) as {
    labels: Record<string, string | number>;
    value: number;
    metricName?: string;
  }[];
  const buckets = values
    .filter((value) => value.metricName?.endsWith('_bucket'))
    .map((value) => ({
      le: Number(value.labels.le === '+Inf' ? Infinity : value.labels.le),
      count: value.value,
    }))
    .sort((a, b) => a.le - b.le);
  const count = values.find((value) => value.metricName?.endsWith('_count'))?.value ?? 0;
  const sum = values.find((value) => value.metricName?.endsWith('_sum'))?.value ?? 0;
  return {
    count,
    sumMs: sum * 1000,
    meanMs: count > 0 ? (sum / count) * 1000 : Number.NaN,
    p50Ms: histogramQuantile(buckets, 0.5) * 1000,
    p99Ms: histogramQuantile(buckets, 0.99) * 1000,
  };
}

async function writtenSoFar(platform: Platform): Promise<number> {
  const metric = platform.metrics.registry.getSingleMetric('gatehouse_audit_events_written_total');
  return metric ? ((await metric.get()).values[0]?.value ?? 0) : 0;
}

/** Commit rate over the first and the last quarter of the run, from (time, committed) samples. */
function rateByQuarter(samples: readonly { ms: number; written: number }[], total: number) {
  const at = (count: number) => samples.find((sample) => sample.written >= count) ?? samples.at(-1)!;
  const rate = (from: number, to: number) => {
    const [a, b] = [at(from), at(to)];
    return ((b.written - a.written) * 1000) / Math.max(b.ms - a.ms, 1e-9);
  };
  return { first: rate(0, total / 4), last: rate((total * 3) / 4, total) };
}

const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

// ---------------------------------------------------------------------------------------------------------
// Part 1: the writer's sustained throughput, then verification, then append alone.

async function sustained(dialect: Dialect, events: number, logLevel: 'warn' | 'info' = 'warn') {
  const database = await createBenchDatabase(dialect);
  const gatehouse = await openGatehouse(database.url, logLevel);
  const { services, platform } = gatehouse;
  try {
    const before = await services.audit.treeSize();
    let backpressureWaits = 0;
    const runDelay = monitorEventLoopDelay({ resolution: 1 });
    runDelay.enable();
    const cpuStart = process.cpuUsage();
    const started = performance.now();
    const progress = [{ ms: 0, written: 0 }];
    for (let index = 0; index < events; index += 1) {
      services.events.record(eventAt(index));
      if (index % 1_000 === 999) {
        progress.push({ ms: performance.now() - started, written: await writtenSoFar(platform) });
        // As the HTTP layer does: no new work while the buffer is full (it answers 503 instead).
        if (services.auditWriter.saturated()) {
          backpressureWaits += 1;
          await services.auditWriter.flush();
        } else {
          await nextTurn();
        }
      }
    }
    await services.auditWriter.flush();
    const seconds = (performance.now() - started) / 1000;
    progress.push({ ms: seconds * 1000, written: await writtenSoFar(platform) });
    const cpu = cpuMs(process.cpuUsage(cpuStart));
    runDelay.disable();
    const batches = await batchHistogram(platform);

    const checkpointStarted = performance.now();
    const checkpoint = (await services.checkpointNow()) as Checkpoint | undefined;
    const checkpointMs = performance.now() - checkpointStarted;
    const verifyStarted = performance.now();
    const report = await services.audit.verify();
    const verifySeconds = (performance.now() - verifyStarted) / 1000;
    const after = await services.audit.treeSize();
    const outcome = {
      dialect,
      logLevel,
      events,
      seconds,
      eventsPerSecond: events / seconds,
      quarters: rateByQuarter(progress, events),
      cpuUsPerEvent: (cpu * 1000) / events,
      loopDelayP99Ms: runDelay.percentile(99) / 1e6,
      loopDelayMaxMs: runDelay.max / 1e6,
      backpressureWaits,
      batches,
      checkpointMs,
      checkpointSize: checkpoint?.treeSize,
      verify: {
        ok: report.ok,
        events: report.events,
        findings: report.findings.length,
        seconds: verifySeconds,
      },
      countMatches: report.events === after && after === before + events,
      before,
      after,
    };
    if (logLevel !== 'warn') return { ...outcome, direct: undefined, recordCost: undefined };

    // The same work without the recorder and the writer: drafts made beforehand, appended in batches.
    const redactor = createRedactor();
    const drafts: AuditDraft[] = Array.from({ length: DIRECT_EVENTS }, (_, index) =>
      draftOf(eventAt(index), undefined, Date.now(), redactor),
    );
    const samples: number[] = [];
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    const directCpuStart = process.cpuUsage();
    const directStarted = performance.now();
    for (let start = 0; start < drafts.length; start += BATCH) {
      const batchStarted = performance.now();
      await services.audit.append(drafts.slice(start, start + BATCH));
      samples.push(performance.now() - batchStarted);
      // A turn of the event loop between batches, as the writer takes (and so the delay monitor can sample).
      await nextTurn();
    }
    const directSeconds = (performance.now() - directStarted) / 1000;
    const directCpu = cpuMs(process.cpuUsage(directCpuStart));
    loopDelay.disable();
    samples.sort((a, b) => a - b);
    const direct = {
      eventsPerSecond: DIRECT_EVENTS / directSeconds,
      p50Ms: quantile(samples, 0.5),
      p99Ms: quantile(samples, 0.99),
      cpuUsPerEvent: (directCpu * 1000) / DIRECT_EVENTS,
      loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      loopDelayMaxMs: loopDelay.max / 1e6,
    };

    let recordCost: { warnUs: number; infoUs: number } | undefined;
    if (dialect === 'sqlite') {
      const warnUs = await recordCallCost(services, 100_000);
      // The default level: every event is also formatted as a log line (into the discarding destination).
      platform.logger.level = 'info';
      const infoUs = await recordCallCost(services, 10_000);
      platform.logger.level = 'warn';
      recordCost = { warnUs, infoUs };
    }
    return { ...outcome, direct, recordCost };
  } finally {
    await gatehouse.close();
    await database.drop();
  }
}

/**
 * µs per `events.record()` call: the request path's share. Timed in runs of 1,000 synchronous calls; the
 * writer commits between runs (untimed), so the buffer never fills.
 */
async function recordCallCost(services: Services, calls: number): Promise<number> {
  const warmup = calls / 10;
  let elapsed = 0;
  for (let start = 0; start < calls + warmup; start += 1_000) {
    const began = process.hrtime.bigint();
    for (let index = start; index < start + 1_000; index += 1) {
      // Index × 100 is always a successful sign-in (low severity), the event a login records.
      services.events.record(eventAt(index * 100));
    }
    if (start >= warmup) elapsed += Number(process.hrtime.bigint() - began);
    await services.auditWriter.flush();
  }
  return elapsed / 1_000 / calls;
}

/** Where append's CPU goes per event, step by step, outside the database (same code as append). */
function appendBreakdown(platform: Platform) {
  const events = 50_000;
  const redactor = createRedactor();
  const keys = auditKeysFrom([{ id: 'k0', key: randomBytes(32) }]);
  const time = <T>(work: () => T): { result: T; us: number } => {
    const began = process.hrtime.bigint();
    const result = work();
    return { result, us: Number(process.hrtime.bigint() - began) / 1_000 / events };
  };
  const indices = Array.from({ length: events }, (_, index) => index);
  const drafts = time(() => indices.map((index) => draftOf(eventAt(index), undefined, Date.now(), redactor)));
  const details = time(() => drafts.result.map((draft) => JSON.stringify(draft.details)));
  const leaves = time(() => drafts.result.map((draft, index) => leafData(draft, details.result[index]!)));
  const hashes = time(() => leaves.result.map((leaf) => leafHash(leaf)));
  const hex = time(() => hashes.result.map((hash) => toHex(hash)));
  const frontier = time(() => {
    let current = emptyFrontier();
    for (const hash of hashes.result) current = appendLeaf(current, hash);
    return current;
  });
  const tags = time(() => hex.result.map((hash, seq) => eventTag(keys.active, seq, hash)));
  const rows = drafts.result.map((draft, seq) => ({
    seq,
    id: draft.id,
    time: draft.time,
    name: draft.name,
    severity: draft.severity,
    outcome: draft.outcome,
    actor_type: draft.actorType,
    actor_id: draft.actorId,
    target_type: draft.targetType,
    target_id: draft.targetId,
    organization_id: draft.organizationId,
    ip: draft.ip,
    user_agent: draft.userAgent,
    request_id: draft.requestId,
    details: details.result[seq]!,
    leaf_hash: hex.result[seq]!,
    tag: tags.result[seq]!,
    pruned_at: null,
  }));
  // Kysely builds and compiles each INSERT of 500 rows (18 parameters each) before the driver sees it.
  const compile = time(() => {
    for (let start = 0; start < rows.length; start += 500) {
      platform.database.db
        .insertInto('audit_events')
        .values(rows.slice(start, start + 500))
        .compile();
    }
  });
  return {
    'draft (redaction, UUIDv7)': drafts.us,
    'JSON.stringify(details)': details.us,
    'leafData (JSON array)': leaves.us,
    'leaf SHA-256': hashes.us,
    'hash to hex': hex.us,
    'Merkle frontier append': frontier.us,
    'HMAC tag': tags.us,
    'Kysely INSERT build + compile': compile.us,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Part 2: what the writer adds to a password sign-in (risk engine on, as by default).

async function loginLatency(settings: { durationSeconds: number; warmupSeconds: number }) {
  const gatehouse = await startGatehouse({ accounts: { notifyNewSignIn: false } });
  const { services } = gatehouse.app;
  try {
    const emails = Array.from({ length: 100 }, (_, index) => `audit-bench-${index}@example.com`);
    for (let start = 0; start < emails.length; start += 4) {
      await Promise.all(
        emails
          .slice(start, start + 4)
          .map((email) => services.accounts.adminCreate({ email, password: PASSWORD, verified: true }, {})),
      );
    }
    let next = 0;
    const requests = [
      {
        method: 'POST',
        path: '/api/v1/auth/login',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request: Record<string, unknown>) => ({
          ...request,
          body: JSON.stringify({ email: emails[next++ % emails.length], password: PASSWORD }),
        }),
      },
    ];

    // "Audit off": the recorder still drafts and logs each event, but hands it to a writer whose append
    // returns the records without touching the database. The recorder calls `writer.enqueue` on the services'
    // writer object at call time, so swapping its methods switches every event in the app; src/ is unchanged.
    const writer = services.auditWriter;
    const real = { enqueue: writer.enqueue, write: writer.write };
    const noop = createAuditWriter({
      append: async (drafts) => drafts.map((draft, index): AuditRecord => ({ ...draft, seq: index })),
      logger: gatehouse.app.gatehouse.logger,
      maxBuffer: 50_000,
      maxBatch: BATCH,
      retryBaseMs: 100,
      retryMaxMs: 5_000,
      failingAfter: 3,
    });
    const audit = (on: boolean) => {
      writer.enqueue = on ? real.enqueue : noop.enqueue;
      writer.write = on ? real.write : noop.write;
    };

    const runs: {
      on: boolean;
      measurement: Measurement;
      perLogin?: { events: number; batches: number; commitMs: number };
    }[] = [];
    // On the same server in the order on, off, off, on, twice (ABBA): drift (warm-up, database growth, a
    // neighbour's load) falls on both alike.
    for (const [round_, on] of LOGIN_ORDER.entries()) {
      audit(on);
      const before = await services.audit.treeSize();
      const batchesBefore = await batchHistogram(gatehouse.app.gatehouse);
      const measurement = await measure(
        `POST /api/v1/auth/login, audit ${on ? 'on' : 'off (no-op append)'}`,
        {
          url: gatehouse.url,
          connections: 16,
          duration: settings.durationSeconds,
          warmupSeconds: round_ === 0 ? settings.warmupSeconds : 0,
          requests: requests as never,
          timeout: 30,
        },
      );
      await writer.flush();
      const written = (await services.audit.treeSize()) - before;
      const batchesAfter = await batchHistogram(gatehouse.app.gatehouse);
      const logins = Math.max(measurement.totalRequests, 1);
      runs.push({
        on,
        measurement,
        // The first run's warm-up is not in its request count.
        ...(on && round_ > 0
          ? {
              perLogin: {
                events: written / logins,
                batches: (batchesAfter.count - batchesBefore.count) / logins,
                commitMs: (batchesAfter.sumMs - batchesBefore.sumMs) / logins,
              },
            }
          : {}),
      });
    }
    audit(true);
    return runs;
  } finally {
    await gatehouse.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------

/**
 * The audit log's throughput on both dialects, its verification time, and what it adds to a sign-in:
 * `npm run bench -- audit` (about 2.5 minutes). Needs PostgreSQL (BENCH_POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/test; a schema is created and dropped). Event counts:
 * BENCH_AUDIT_EVENTS_SQLITE, BENCH_AUDIT_EVENTS_POSTGRES (200,000 each), BENCH_AUDIT_EVENTS_INFO (20,000).
 */
export const auditThroughput: Scenario = {
  name: 'audit',
  description:
    'Audit log: events/s through events.record() and the batched writer (Merkle leaf, HMAC tag, one transaction per batch) on SQLite and PostgreSQL, verification time, and what it adds to a password sign-in',
  async run(settings) {
    const results = [];
    for (const dialect of ['sqlite', 'postgres'] as const) {
      process.stdout.write(`bench: audit: ${EVENTS[dialect]} events on ${dialect}\n`);
      results.push(await sustained(dialect, EVENTS[dialect]));
    }
    process.stdout.write(`bench: audit: ${INFO_EVENTS} events on sqlite at log level info\n`);
    const atInfo = await sustained('sqlite', INFO_EVENTS, 'info');
    const breakdown = await (async () => {
      const database = await createBenchDatabase('sqlite');
      const gatehouse = await openGatehouse(database.url);
      try {
        return appendBreakdown(gatehouse.platform);
      } finally {
        await gatehouse.close();
        await database.drop();
      }
    })();
    process.stdout.write('bench: audit: login latency, audit on / off\n');
    const logins = await loginLatency(settings);

    const figures: Record<string, number | string> = {};
    for (const result of results) {
      const d = result.dialect;
      figures[`${d}: events/s (record → committed)`] = round(result.eventsPerSecond);
      figures[`${d}: events, seconds`] = `${result.events}, ${round(result.seconds, 2)}`;
      figures[`${d}: committed events/s, first / last quarter of the run`] =
        `${round(result.quarters.first)} / ${round(result.quarters.last)}`;
      figures[`${d}: target ${TARGET_EVENTS_PER_SECOND} events/s met`] =
        result.eventsPerSecond >= TARGET_EVENTS_PER_SECOND ? 'yes' : 'no';
      figures[`${d}: process CPU µs per event (recorder + writer)`] = round(result.cpuUsPerEvent, 1);
      figures[`${d}: batches committed, mean events per batch`] =
        `${result.batches.count}, ${round(result.events / Math.max(result.batches.count, 1))}`;
      figures[`${d}: batch commit ms mean / p50 / p99 (histogram)`] =
        `${round(result.batches.meanMs, 2)} / ${round(result.batches.p50Ms, 2)} / ${round(result.batches.p99Ms, 2)}`;
      figures[`${d}: waits for a full buffer (backpressure)`] = result.backpressureWaits;
      figures[`${d}: event-loop delay during the run, p99 / max ms`] =
        `${round(result.loopDelayP99Ms, 1)} / ${round(result.loopDelayMaxMs, 1)}`;
      figures[`${d}: verify seconds (events)`] =
        `${round(result.verify.seconds, 2)} (${result.verify.events})`;
      figures[`${d}: verify events/s`] = round(result.verify.events / result.verify.seconds);
      figures[`${d}: verify ok, count matches`] =
        `${result.verify.ok ? 'ok' : `NOT OK (${result.verify.findings} findings)`}, ${result.countMatches ? 'yes' : `no (${result.before} + ${result.events} → ${result.after})`}`;
      figures[`${d}: checkpoint ms`] = round(result.checkpointMs, 1);
      if (result.direct) {
        figures[`${d}: append() alone, events/s`] = round(result.direct.eventsPerSecond);
        figures[`${d}: append() alone, ms per ${BATCH}-event batch p50 / p99`] =
          `${round(result.direct.p50Ms, 2)} / ${round(result.direct.p99Ms, 2)}`;
        figures[`${d}: append() alone, process CPU µs per event`] = round(result.direct.cpuUsPerEvent, 1);
        figures[`${d}: append() alone, event-loop delay p99 / max ms`] =
          `${round(result.direct.loopDelayP99Ms, 1)} / ${round(result.direct.loopDelayMaxMs, 1)}`;
      }
    }
    figures['sqlite at log level info (the default): events/s'] = round(atInfo.eventsPerSecond);
    figures['sqlite at log level info: events, seconds'] = `${atInfo.events}, ${round(atInfo.seconds, 2)}`;
    figures['sqlite at log level info: process CPU µs per event'] = round(atInfo.cpuUsPerEvent, 1);
    figures['sqlite at log level info: verify ok, count matches'] =
      `${atInfo.verify.ok ? 'ok' : 'NOT OK'}, ${atInfo.countMatches ? 'yes' : 'no'}`;
    for (const [step, us] of Object.entries(breakdown)) figures[`CPU µs per event: ${step}`] = round(us, 2);
    const sqlite = results[0]!;
    if (sqlite.recordCost) {
      figures['events.record() µs per call (log level warn: low events not logged)'] = round(
        sqlite.recordCost.warnUs,
        2,
      );
      figures['events.record() µs per call (log level info: one log line each)'] = round(
        sqlite.recordCost.infoUs,
        2,
      );
    }
    const on = logins.filter((run) => run.on);
    const off = logins.filter((run) => !run.on);
    const mean = (runs: typeof logins, pick: (m: Measurement) => number) =>
      runs.reduce((sum, run) => sum + pick(run.measurement), 0) / Math.max(runs.length, 1);
    const median = (runs: typeof logins, pick: (m: Measurement) => number) => {
      const values = runs.map((run) => pick(run.measurement)).sort((a, b) => a - b);
      const middle = Math.floor(values.length / 2);
      return values.length % 2 === 1 ? values[middle]! : (values[middle - 1]! + values[middle]!) / 2;
    };
    const each = `${on.length} runs each`;
    const measured = on.flatMap((run) => (run.perLogin ? [run.perLogin] : []));
    const perLogin = (pick: (value: (typeof measured)[number]) => number) =>
      measured.reduce((sum, value) => sum + pick(value), 0) / Math.max(measured.length, 1);
    const eventsPerLogin = perLogin((value) => value.events);
    figures['login: audit events per sign-in'] = round(eventsPerLogin, 2);
    figures['login: audit batches committed per sign-in'] = round(
      perLogin((value) => value.batches),
      2,
    );
    figures['login: audit commit ms per sign-in (batch time / sign-ins)'] = round(
      perLogin((value) => value.commitMs),
      3,
    );
    figures[`login p50 ms, audit on / off (median of ${each})`] =
      `${round(median(on, (m) => m.latencyMs.p50))} / ${round(median(off, (m) => m.latencyMs.p50))}`;
    figures[`login p99 ms, audit on / off (median of ${each})`] =
      `${round(median(on, (m) => m.latencyMs.p99))} / ${round(median(off, (m) => m.latencyMs.p99))}`;
    figures[`logins/s, audit on / off (mean of ${each})`] =
      `${round(mean(on, (m) => m.requestsPerSecond.mean))} / ${round(mean(off, (m) => m.requestsPerSecond.mean))}`;
    figures['login: run-to-run spread of logins/s (min–max, all runs)'] =
      `${round(Math.min(...logins.map((run) => run.measurement.requestsPerSecond.mean)))}–${round(Math.max(...logins.map((run) => run.measurement.requestsPerSecond.mean)))}`;
    if (sqlite.recordCost && sqlite.direct) {
      figures['audit CPU per sign-in, µs (events × (record + writer CPU per event, SQLite))'] = round(
        eventsPerLogin * (sqlite.recordCost.warnUs + sqlite.direct.cpuUsPerEvent),
        1,
      );
    }

    return {
      measurements: logins.map((run) => run.measurement),
      figures,
      notes: [
        `Sustained run: ${EVENTS.sqlite} (SQLite) and ${EVENTS.postgres} (PostgreSQL) realistic events (70 % sign-ins, 20 % failed sign-ins, 7 % session revocations, 3 % medium/high risk events) through services.events.record() on createPlatform + createServices and a fresh database, yielding to the event loop every 1,000 events and waiting for flush() whenever the writer reports itself saturated (what makes the HTTP layer answer 503). Timed from the first record() to the end of flush(). Writer defaults (audit.writer.*): batches of 500, buffer 50,000.`,
        `The runs above use the bench's log level (warn), at which low-severity events write no log line. The run "at log level info" repeats the SQLite measurement with ${INFO_EVENTS} events at the default level, where events.record() also formats every event as a log line (pino and the logger's redaction walk; lines dropped, not written to a terminal).`,
        `Issue target: ${TARGET_EVENTS_PER_SECOND} events/s on both dialects. Nothing is skipped: every event gets its leaf hash, Merkle frontier update and HMAC tag, as in production.`,
        'First / last quarter: the commit rate over the first and the last quarter of the events committed, from the gatehouse_audit_events_written_total counter sampled every 1,000 records: how the rate changes as the table and its indexes grow.',
        'Batch commit times come from the gatehouse_audit_batch_seconds histogram (buckets 1, 5, 10, 25, 50, 100, 250 ms), so p50/p99 are interpolated within a bucket as histogram_quantile does; the mean is exact.',
        `"append() alone": ${DIRECT_EVENTS} drafts made beforehand and passed to audit.append in batches of ${BATCH}, awaited one after the other: the database side without the recorder or the writer loop; per-batch times are exact.`,
        'Verification: services.audit.verify() after a checkpoint, i.e. every leaf recomputed, every tag checked, the checkpoint signature and root compared; the count must equal the events recorded.',
        'Event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution) during the sustained run (the producer\'s own runs of 1,000 record() calls included) and during "append() alone" (a turn of the loop between batches): how long one batch keeps the event loop from serving requests. append hashes and tags its whole batch synchronously on both dialects; on SQLite the driver is synchronous too, so the inserts block the loop as well.',
        'CPU breakdown: each step of append timed on its own over 50,000 events in this process (no database); what append costs beyond their sum is the SQL execution (driver, parameters, the database itself).',
        'Login latency: no scenario is named for the risk engine; this is password-login\'s method (POST /api/v1/auth/login, 16 connections, default argon2id, risk engine on as by default) on SQLite. "Audit off" swaps the services\' writer enqueue/write for a writer whose append returns the records without touching the database (the recorder still drafts and logs each event); runs go on, off, off, on, twice, on the same server. Compare the on/off difference with the run-to-run spread; autocannon reports whole milliseconds. Events, batches and commit time per sign-in are counted over the "on" runs after the first (whose warm-up is not in its request count); the audit CPU per sign-in is derived: events × (record() cost + append() CPU per event at 1,000-event batches), so it leaves out the fixed cost of the small batches a sign-in load makes, which the commit time per sign-in includes.',
        'events.record() cost: 100,000 calls after 10,000 warm-up (at info: 10,000 after 1,000), timed in synchronous runs of 1,000 with the writer committing between runs (untimed); at log level info each event is also formatted as a log line (dropped here, not written to a terminal).',
        'On this 2-core machine PostgreSQL runs on the same cores as Node.js.',
      ],
    };
  },
};
