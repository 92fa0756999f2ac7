import { Value } from '@sinclair/typebox/value';
import { Registry } from 'prom-client';
import { createRateLimiter } from '../../src/modules/security/rate-limit.js';
import { SecuritySettingsSchema } from '../../src/modules/security/settings.js';
import { createLogger } from '../../src/platform/logger.js';
import { createRedis } from '../../src/platform/redis.js';
import { measure, round, type Scenario, startGatehouse } from '../harness.js';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Budgets no run can spend, so every request pays for the bookkeeping and none is refused. */
const UNREACHABLE = { limit: 1_000_000_000, windowSeconds: 60, burst: 0 };
const rateLimits = (enabled: boolean) => ({
  enabled,
  auth: UNREACHABLE,
  token: UNREACHABLE,
  check: UNREACHABLE,
  admin: UNREACHABLE,
  api: UNREACHABLE,
  anonymous: UNREACHABLE,
});

/** Microseconds per consume(), one call at a time, after a warm-up. */
async function perCall(consume: (key: string) => Promise<unknown>, calls: number) {
  for (let index = 0; index < 1_000; index++) await consume(`warm-${index % 50}`);
  const samples: number[] = [];
  for (let index = 0; index < calls; index++) {
    const started = process.hrtime.bigint();
    await consume(`ip-${index % 500}`);
    samples.push(Number(process.hrtime.bigint() - started) / 1_000);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return { p50: round(at(0.5), 1), p99: round(at(0.99), 1) };
}

/** What a rate-limit decision adds to a request, in memory and in Redis, against the same route without it. */
export const rateLimitOverhead: Scenario = {
  name: 'rate-limit',
  description:
    'Rate limiter cost: consume() in-process (memory, Redis), and GET /api/v1/me (anonymous class) with limits off, in memory, in Redis',
  async run(settings) {
    const logger = createLogger({ level: 'warn', pretty: false });
    const policySettings = Value.Default(SecuritySettingsSchema, { rateLimits: rateLimits(true) }) as never;
    const memoryLimiter = createRateLimiter({
      settings: (policySettings as { rateLimits: never }).rateLimits,
      registry: new Registry(),
      logger,
      events: { record() {}, async recordDurably() {}, recordWithin: async () => ({ afterCommit() {} }) },
    });
    const redis = createRedis(
      {
        url: REDIS_URL,
        sentinels: [],
        clusterNodes: [],
        keyPrefix: `gatehouse-bench-${Date.now()}:`,
        connectTimeoutMs: 2_000,
      },
      logger,
    )!;
    await redis.firstConnection();
    const redisLimiter = createRateLimiter({
      settings: (policySettings as { rateLimits: never }).rateLimits,
      redis,
      registry: new Registry(),
      logger,
      events: { record() {}, async recordDurably() {}, recordWithin: async () => ({ afterCommit() {} }) },
    });
    const calls = 20_000;
    const memoryCall = await perCall((key) => memoryLimiter.consume('anonymous', key), calls);
    const redisCall = await perCall((key) => redisLimiter.consume('anonymous', key), calls);
    await redis.close();

    const common = {
      connections: settings.connections,
      duration: settings.durationSeconds,
      warmupSeconds: settings.warmupSeconds,
    };
    const results = [];
    for (const [label, overrides] of [
      ['limits off', { security: { rateLimits: rateLimits(false) } }],
      ['memory', { security: { rateLimits: rateLimits(true) } }],
      [
        'redis',
        {
          security: { rateLimits: rateLimits(true) },
          redis: { url: REDIS_URL, keyPrefix: `gatehouse-bench-http-${Date.now()}:` },
        },
      ],
    ] as const) {
      const gatehouse = await startGatehouse(overrides);
      try {
        results.push(
          await measure(`GET /api/v1/me (401), ${label}`, { url: `${gatehouse.url}/api/v1/me`, ...common }),
        );
      } finally {
        await gatehouse.stop();
      }
    }
    const [off, memory, shared] = results as [(typeof results)[0], (typeof results)[0], (typeof results)[0]];
    return {
      measurements: results,
      figures: {
        'consume() p50 in memory (µs)': memoryCall.p50,
        'consume() p99 in memory (µs)': memoryCall.p99,
        'consume() p50 in Redis (µs)': redisCall.p50,
        'consume() p99 in Redis (µs)': redisCall.p99,
        'HTTP throughput ratio memory/off': round(
          memory.requestsPerSecond.mean / off.requestsPerSecond.mean,
          2,
        ),
        'HTTP throughput ratio redis/off': round(
          shared.requestsPerSecond.mean / off.requestsPerSecond.mean,
          2,
        ),
        'HTTP p50 added in memory (ms)': round(memory.latencyMs.p50 - off.latencyMs.p50, 2),
        'HTTP p50 added in Redis (ms)': round(shared.latencyMs.p50 - off.latencyMs.p50, 2),
      },
      notes: [
        'consume() figures time one decision at a time in this process (no HTTP): the cost the limiter adds to a request.',
        'HTTP figures: autocannon and the server share 2 cores; autocannon reports whole milliseconds, so p50 differences below 1 ms show as 0 or 1.',
        'Budgets are set out of reach so every request is counted and none is refused.',
      ],
    };
  },
};
