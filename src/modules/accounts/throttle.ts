import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { RedisHandle } from '../../platform/redis.js';

export interface ThrottleSettings {
  readonly perIpFailures: number;
  readonly perIpAccountFailures: number;
  readonly windowSeconds: number;
}

export interface LoginThrottle {
  /** Seconds until sign-in attempts from this IP (for this e-mail) are accepted again; 0 when not throttled. */
  blockedForSeconds(ip: string, email: string): Promise<number>;
  recordFailure(ip: string, email: string): Promise<void>;
  /** A success clears the IP+account counter (not the IP's: one good password does not excuse a spray). */
  recordSuccess(ip: string, email: string): Promise<void>;
}

/**
 * Failed sign-ins counted per source IP and per IP+e-mail pair, with rate-limiter-flexible: in memory on
 * one node, in Redis when configured so every node shares the counts (falling back to memory if Redis fails).
 * The pair is counted whether or not the account exists, so throttling reveals nothing about accounts.
 */
export function createLoginThrottle(settings: ThrottleSettings, redis?: RedisHandle): LoginThrottle {
  const make = (keyPrefix: string, points: number): RateLimiterAbstract => {
    const options = {
      keyPrefix,
      points,
      duration: settings.windowSeconds,
      blockDuration: settings.windowSeconds,
    };
    const memory = new RateLimiterMemory(options);
    return redis
      ? new RateLimiterRedis({ ...options, storeClient: redis.client, insuranceLimiter: memory })
      : memory;
  };
  const perIp = make('login-fail-ip', settings.perIpFailures);
  const perPair = make('login-fail-ip-account', settings.perIpAccountFailures);
  const pairKey = (ip: string, email: string) => `${ip}|${email}`;

  const secondsLeft = async (limiter: RateLimiterAbstract, key: string, points: number) => {
    const state = await limiter.get(key);
    return state && state.consumedPoints >= points ? Math.max(1, Math.ceil(state.msBeforeNext / 1000)) : 0;
  };

  return {
    async blockedForSeconds(ip, email) {
      const [ipWait, pairWait] = await Promise.all([
        secondsLeft(perIp, ip, settings.perIpFailures),
        secondsLeft(perPair, pairKey(ip, email), settings.perIpAccountFailures),
      ]);
      return Math.max(ipWait, pairWait);
    },
    async recordFailure(ip, email) {
      // consume() rejects once the budget is spent; that is the state we want, not an error.
      await Promise.all([
        perIp.consume(ip).catch(() => {}),
        perPair.consume(pairKey(ip, email)).catch(() => {}),
      ]);
    },
    async recordSuccess(ip, email) {
      await perPair.delete(pairKey(ip, email));
    },
  };
}
