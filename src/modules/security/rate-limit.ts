import { isDeepStrictEqual } from 'node:util';
import type { Registry } from 'prom-client';
import { Counter } from 'prom-client';
import {
  BurstyRateLimiter,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import type { Live } from '../../config/live.js';
import type { EventRecorder } from '../../platform/events.js';
import type { Logger } from '../../platform/logger.js';
import type { RedisHandle } from '../../platform/redis.js';
import { SecurityEvents } from './events.js';
import {
  RATE_LIMIT_CLASSES,
  type RateLimitClass,
  type RateLimitPolicy,
  type SecuritySettings,
} from './settings.js';

export interface LimitOutcome {
  readonly allowed: boolean;
  readonly policy: RateLimitClass;
  readonly limit: number;
  readonly remaining: number;
  /** Seconds until the window resets (when refused: until a request may succeed again). */
  readonly resetSeconds: number;
}

/** How often the burst allowance renews, in windows of its policy. */
const BURST_WINDOWS = 10;

/** One class's budget: its window, then (when it has one) its burst allowance. */
interface Budget {
  consume(key: string): Promise<RateLimiterRes>;
}

interface Limiters {
  readonly policy: RateLimitPolicy;
  readonly memory: Budget;
  readonly shared: Budget | undefined;
}

function budget(
  name: string,
  policy: RateLimitPolicy,
  make: (options: {
    keyPrefix: string;
    points: number;
    duration: number;
  }) => RateLimiterMemory | RateLimiterRedis,
): Budget {
  const main = make({ keyPrefix: `rl:${name}`, points: policy.limit, duration: policy.windowSeconds });
  if (policy.burst === 0) return main;
  const burst = make({
    keyPrefix: `rl:${name}:burst`,
    points: policy.burst,
    duration: policy.windowSeconds * BURST_WINDOWS,
  });
  return new BurstyRateLimiter(main, burst);
}

/**
 * Request budgets per route class with rate-limiter-flexible: fixed windows plus a burst allowance
 * (BurstyRateLimiter). With Redis, every node spends from one budget; when Redis fails the same limits are
 * enforced per node in memory (never switched off), a metric counts each fallback, and health says so.
 * The policies are live (`security.rateLimits` reloads): a changed class gets new limiters. Its shared budget
 * keeps what was spent (same Redis keys); its per-node memory budget starts afresh.
 */
export function createRateLimiter(deps: {
  settings: Live<SecuritySettings['rateLimits']>;
  redis?: RedisHandle | undefined;
  registry: Registry;
  logger: Logger;
  events: EventRecorder;
}) {
  const limitersFor = (name: RateLimitClass, policy: RateLimitPolicy): Limiters => ({
    policy,
    memory: budget(name, policy, (options) => new RateLimiterMemory(options)),
    shared: deps.redis
      ? budget(
          name,
          policy,
          (options) => new RateLimiterRedis({ ...options, storeClient: deps.redis!.client }),
        )
      : undefined,
  });
  const limiters = new Map<RateLimitClass, Limiters>();
  for (const name of RATE_LIMIT_CLASSES) limiters.set(name, limitersFor(name, deps.settings.get()[name]));
  deps.settings.onChange((next) => {
    for (const name of RATE_LIMIT_CLASSES) {
      if (!isDeepStrictEqual(limiters.get(name)?.policy, next[name])) {
        limiters.set(name, limitersFor(name, next[name]));
      }
    }
  });
  const fallbacks = new Counter({
    name: 'gatehouse_rate_limit_fallbacks_total',
    help: 'Rate-limit decisions taken in per-node memory because Redis failed.',
    registers: [deps.registry],
  });
  const refused = new Counter({
    name: 'gatehouse_rate_limited_total',
    help: 'Requests refused with 429, by route class.',
    labelNames: ['policy'],
    registers: [deps.registry],
  });
  let lastFallbackAt: number | undefined;
  let fallbackCount = 0;

  const outcome = (
    name: RateLimitClass,
    policy: RateLimitPolicy,
    result: RateLimiterRes,
    allowed: boolean,
  ) => ({
    allowed,
    policy: name,
    limit: policy.limit,
    remaining: Math.max(0, result.remainingPoints),
    resetSeconds: Math.max(1, Math.ceil(result.msBeforeNext / 1000)),
  });

  async function spend(limiter: Budget, name: RateLimitClass, policy: RateLimitPolicy, key: string) {
    try {
      return outcome(name, policy, await limiter.consume(key), true);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return outcome(name, policy, rejection, false);
      throw rejection;
    }
  }

  return {
    /** The policy of one class now. */
    policy: (name: RateLimitClass): RateLimitPolicy => limiters.get(name)!.policy,

    /** `security.rateLimits.enabled` now. */
    enabled: (): boolean => deps.settings.get().enabled,

    /** Spends one request of `key`'s budget in `name`'s class. */
    async consume(name: RateLimitClass, key: string): Promise<LimitOutcome> {
      const entry = limiters.get(name)!;
      let result: LimitOutcome;
      if (entry.shared) {
        try {
          result = await spend(entry.shared, name, entry.policy, key);
        } catch (error) {
          fallbacks.inc();
          fallbackCount += 1;
          if (lastFallbackAt === undefined || Date.now() - lastFallbackAt > 60_000) {
            deps.logger.warn(
              { err: error },
              'Redis failed: rate limits are enforced per node until it returns',
            );
            deps.events.record({
              name: SecurityEvents.rateLimitDegraded,
              severity: 'high',
              outcome: 'failure',
              details: { reason: (error as Error).message },
            });
          }
          lastFallbackAt = Date.now();
          result = await spend(entry.memory, name, entry.policy, key);
        }
      } else {
        result = await spend(entry.memory, name, entry.policy, key);
      }
      if (!result.allowed) refused.inc({ policy: name });
      return result;
    },

    /** For health: whether limits are shared as configured, or enforced per node because Redis fails. */
    state() {
      const degraded =
        deps.redis !== undefined &&
        (deps.redis.status() !== 'ready' ||
          (lastFallbackAt !== undefined && Date.now() - lastFallbackAt < 60_000));
      return {
        store: deps.redis ? ('redis' as const) : ('memory' as const),
        degraded,
        fallbacks: fallbackCount,
      };
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;

/** `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers) for one outcome. */
export function rateLimitHeaders(outcome: LimitOutcome, policy: RateLimitPolicy): Record<string, string> {
  const burst =
    policy.burst > 0
      ? `, "${outcome.policy}-burst";q=${policy.burst};w=${policy.windowSeconds * BURST_WINDOWS}`
      : '';
  return {
    'ratelimit-policy': `"${outcome.policy}";q=${policy.limit};w=${policy.windowSeconds}${burst}`,
    ratelimit: `"${outcome.policy}";r=${outcome.remaining};t=${outcome.resetSeconds}`,
  };
}
