import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon, { type Options, type Result } from 'autocannon';
import { buildApp, type GatehouseApp } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';

export interface RunSettings {
  readonly durationSeconds: number;
  readonly connections: number;
  readonly warmupSeconds: number;
}

export interface Measurement {
  readonly target: string;
  readonly requestsPerSecond: { readonly mean: number; readonly stdev: number };
  readonly latencyMs: {
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
  };
  readonly totalRequests: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly statusCodes: Readonly<Record<string, number>>;
  readonly connections: number;
  readonly durationSeconds: number;
}

export interface ScenarioResult {
  readonly measurements: readonly Measurement[];
  /** Derived figures (ratios, rates) worth a line in the table. */
  readonly figures: Readonly<Record<string, number | string>>;
  readonly notes: readonly string[];
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  run(settings: RunSettings): Promise<ScenarioResult>;
}

export function environment() {
  let commit: string | undefined;
  try {
    commit = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    commit = undefined;
  }
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    commit,
  };
}

/** Loopback only: every target is an in-process server on 127.0.0.1. */
export async function measure(
  target: string,
  options: Options & { warmupSeconds?: number },
): Promise<Measurement> {
  if (!/^http:\/\/127\.0\.0\.1:\d+/.test(options.url))
    throw new Error(`refusing a non-loopback target: ${options.url}`);
  // A worker thread keeps the load generator off the event loop under test: on two cores each gets one.
  // Per-request callbacks (`requests`) cannot cross into a worker; those scenarios generate load in-process.
  const inWorker = options.requests === undefined;
  const { warmupSeconds = 0, ...rest } = { ...(inWorker ? { workers: 1 } : {}), ...options };
  if (warmupSeconds > 0) await autocannon({ ...rest, duration: warmupSeconds });
  const result: Result = await autocannon(rest);
  const statusCodes = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count]),
  );
  return {
    target,
    requestsPerSecond: { mean: round(result.requests.mean), stdev: round(result.requests.stddev) },
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    totalRequests: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
    connections: rest.connections ?? 10,
    durationSeconds: rest.duration ?? 10,
  };
}

export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export interface StartedGatehouse {
  readonly app: GatehouseApp;
  readonly url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Gatehouse as `npm start` runs it, on a fresh SQLite database in a temporary directory. */
export async function startGatehouse(overrides: Record<string, unknown> = {}): Promise<StartedGatehouse> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  // The issuer must be the address clients reach, so the port is chosen before the app is built.
  const port = await freePort();
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      server: { host: '127.0.0.1', port, publicUrl: `http://127.0.0.1:${port}` },
      secrets: { key: randomBytes(32).toString('hex') },
      // Request logs would measure the terminal, not the server.
      log: { level: 'warn' },
      http: { maxEventLoopDelayMs: 0 },
      // Load from one address would spend the budgets at once; the rate-limit scenario measures them.
      security: { rateLimits: { enabled: false } },
      ...overrides,
    },
  });
  const app = await buildApp(config);
  await app.listen({ host: '127.0.0.1', port });
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
