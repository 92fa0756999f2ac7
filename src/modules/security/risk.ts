import { createHmac } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { Counter, type Registry } from 'prom-client';
import type { Clock } from '../../platform/clock.js';
import { deriveKey } from '../../platform/crypto/tokens.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import type { EventRecorder } from '../../platform/events.js';
import { newId } from '../../platform/ids.js';
import type { Logger } from '../../platform/logger.js';
import type { RedisHandle } from '../../platform/redis.js';
import { SecurityEvents } from './events.js';
import { distanceKm, type GeoLocator, networkOf } from './geo.js';
import { inList, normalizeIp, rangeList } from './ip.js';
import {
  accountsTriedFrom,
  deleteSignInsBefore,
  failuresSince,
  insertSignIn,
  recentSuccesses,
  type SignInRow,
  signInHistory,
  wasHoneypotSource,
} from './queries.js';
import type { SecuritySettings } from './settings.js';

type RiskSettings = SecuritySettings['risk'];
export type RiskReason = keyof RiskSettings['weights'];
export type RiskAction = 'allow' | 'notify' | 'mfa' | 'deny';

export interface RiskAssessment {
  readonly score: number;
  readonly reasons: readonly RiskReason[];
  /** What the thresholds call for; `alert` is separate because it goes with any of them. */
  readonly action: RiskAction;
  readonly alert: boolean;
  /** Where and what from, as stored with the sign-in. */
  readonly facts: Pick<
    SignInRow,
    'account_key' | 'ip' | 'network' | 'country' | 'city' | 'latitude' | 'longitude' | 'device' | 'user_agent'
  >;
}

export interface SignInAttempt {
  readonly userId?: string | undefined;
  readonly email: string;
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
}

export interface SignInView {
  readonly id: string;
  readonly at: string;
  readonly outcome: SignInRow['outcome'];
  readonly method: string;
  readonly ip: string;
  readonly country: string | null;
  readonly city: string | null;
  readonly device: string | null;
  readonly score: number;
  readonly reasons: string[];
  readonly action: string;
}

const toView = (row: SignInRow): SignInView => ({
  id: row.id,
  at: new Date(row.created_at).toISOString(),
  outcome: row.outcome,
  method: row.method,
  ip: row.ip,
  country: row.country,
  city: row.city,
  device: row.user_agent,
  score: row.score,
  reasons: JSON.parse(row.reasons) as string[],
  action: row.action,
});

/**
 * Distinct accounts a password failed on within the window: one password tried across many accounts is
 * credential stuffing (or a spray). The fingerprint is a keyed hash cut to 32 bits (many passwords share each
 * value, so it cannot be turned back into one) and lives only in Redis or memory, never in the database.
 */
function createPasswordSpread(redis: RedisHandle | undefined, windowSeconds: number) {
  const memory = new LRUCache<string, Map<string, number>>({ max: 100_000 });
  const key = (fingerprint: string) => `risk:password:${fingerprint}`;
  const local = (fingerprint: string, now: number) => {
    const seen = memory.get(fingerprint) ?? new Map<string, number>();
    for (const [account, at] of seen) if (at < now - windowSeconds * 1000) seen.delete(account);
    return seen;
  };
  return {
    async add(fingerprint: string, accountKey: string, now: number): Promise<number> {
      if (redis) {
        try {
          const result = await redis.client
            .multi()
            .sadd(key(fingerprint), accountKey)
            .expire(key(fingerprint), windowSeconds)
            .scard(key(fingerprint))
            .exec();
          const count = result?.[2]?.[1];
          if (typeof count === 'number') return count;
        } catch {
          // Redis is down: count on this node.
        }
      }
      const seen = local(fingerprint, now);
      seen.set(accountKey, now);
      memory.set(fingerprint, seen);
      return seen.size;
    },
    async count(fingerprint: string, now: number): Promise<number> {
      if (redis) {
        try {
          return await redis.client.scard(key(fingerprint));
        } catch {
          // Redis is down: count on this node.
        }
      }
      return local(fingerprint, now).size;
    },
  };
}

/**
 * The risk engine: scores every sign-in from what Gatehouse knows (devices, networks and countries the user
 * signed in from before, the implied speed since the last sign-in, failures per account and per address,
 * one address trying many accounts, one password tried on many accounts, listed bad addresses, honeypot
 * sources), and says what the thresholds call for. Every assessment is stored with its reasons.
 */
export function createRiskEngine(deps: {
  database: DatabaseHandle;
  clock: Clock;
  events: EventRecorder;
  logger: Logger;
  settings: RiskSettings;
  secretKey: Buffer;
  geo: GeoLocator;
  redis?: RedisHandle | undefined;
  registry: Registry;
}) {
  const { database, clock, settings } = deps;
  const hashKey = deriveKey(deps.secretKey, 'risk-fingerprints');
  const digest = (purpose: string, value: string, hexLength: number) =>
    createHmac('sha256', hashKey).update(`${purpose}\0${value}`).digest('hex').slice(0, hexLength);
  const accountKey = (email: string) => digest('account', email.trim().toLowerCase(), 32);
  const deviceOf = (userAgent: string | undefined) => digest('device', userAgent ?? '', 16);
  const badIps = rangeList(settings.badIps);
  const passwordSpread = createPasswordSpread(deps.redis, settings.windowSeconds);
  /** The fingerprint of the password just presented for an account, until its attempt is decided. */
  const presented = new LRUCache<string, string>({ max: 10_000, ttl: 60_000 });
  const actions = new Counter({
    name: 'gatehouse_risk_assessments_total',
    help: 'Sign-in risk assessments, by the action the thresholds called for.',
    labelNames: ['action'],
    registers: [deps.registry],
  });

  async function factsOf(attempt: SignInAttempt): Promise<RiskAssessment['facts']> {
    const ip = normalizeIp(attempt.ip ?? 'unknown');
    const location = await deps.geo.locate(ip).catch((error: unknown) => {
      deps.logger.warn({ err: error }, 'IP geolocation failed; assessing without it');
      return { country: null, city: null, latitude: null, longitude: null };
    });
    return {
      account_key: accountKey(attempt.email),
      ip,
      network: networkOf(ip),
      ...location,
      device: deviceOf(attempt.userAgent),
      user_agent: attempt.userAgent?.slice(0, 300) ?? null,
    };
  }

  async function assess(attempt: SignInAttempt, spread?: number): Promise<RiskAssessment> {
    const facts = await factsOf(attempt);
    const now = clock.now();
    const since = now - settings.windowSeconds * 1000;
    const reasons: RiskReason[] = [];
    if (attempt.userId) {
      const known = await recentSuccesses(database.db, attempt.userId, 50);
      // The first sign-in has nothing to differ from.
      if (known.length > 0) {
        if (!known.some((row) => row.device === facts.device)) reasons.push('newDevice');
        if (!known.some((row) => row.network === facts.network)) reasons.push('newNetwork');
        if (facts.country && !known.some((row) => row.country === facts.country)) reasons.push('newCountry');
        const last = known[0]!;
        if (
          facts.latitude !== null &&
          facts.longitude !== null &&
          last.latitude !== null &&
          last.longitude !== null
        ) {
          const km = distanceKm(
            { latitude: facts.latitude, longitude: facts.longitude },
            { latitude: last.latitude, longitude: last.longitude },
          );
          const hours = Math.max(now - last.created_at, 60_000) / 3_600_000;
          if (km > 100 && km / hours > settings.travelSpeedKmh) reasons.push('impossibleTravel');
        }
      }
    }
    const [accountFailures, ipFailures, accountsFromIp, honeypot] = await Promise.all([
      failuresSince(database.db, { column: 'account_key', value: facts.account_key }, since),
      failuresSince(database.db, { column: 'ip', value: facts.ip }, since),
      accountsTriedFrom(database.db, facts.ip, since),
      wasHoneypotSource(database.db, facts.ip),
    ]);
    if (accountFailures >= settings.accountFailures) reasons.push('accountVelocity');
    if (ipFailures >= settings.ipFailures) reasons.push('ipVelocity');
    if (accountsFromIp >= settings.ipAccounts) reasons.push('ipManyAccounts');
    const fingerprint = presented.get(facts.account_key);
    const accountsForPassword =
      spread ?? (fingerprint === undefined ? 0 : await passwordSpread.count(fingerprint, now));
    if (accountsForPassword >= settings.passwordAccounts) reasons.push('passwordManyAccounts');
    if (inList(badIps, facts.ip)) reasons.push('badIp');
    if (honeypot) reasons.push('honeypotSource');
    const score = Math.min(
      100,
      reasons.reduce((sum, reason) => sum + settings.weights[reason], 0),
    );
    const { thresholds } = settings;
    const action: RiskAction =
      score >= thresholds.deny
        ? 'deny'
        : score >= thresholds.mfa
          ? 'mfa'
          : score >= thresholds.notify
            ? 'notify'
            : 'allow';
    return { score, reasons, action, alert: score >= thresholds.alert, facts };
  }

  async function store(
    facts: RiskAssessment['facts'],
    entry: Pick<SignInRow, 'user_id' | 'method' | 'outcome' | 'score' | 'action'> & {
      reasons: readonly string[];
    },
  ) {
    await insertSignIn(database.db, {
      id: newId(),
      ...facts,
      ...entry,
      reasons: JSON.stringify(entry.reasons),
      created_at: clock.now(),
    });
  }

  const engine = {
    enabled: settings.enabled,
    assess,

    /** Before the password is checked: remembers its fingerprint for the decision that follows. */
    notePassword(email: string, password: string): void {
      presented.set(accountKey(email), digest('password', password, 8));
    },

    /** A failed attempt: stored (so velocity and stuffing can be seen), scored for the record. */
    async failed(attempt: SignInAttempt, method: string): Promise<void> {
      const key = accountKey(attempt.email);
      const fingerprint = presented.get(key);
      const spread =
        fingerprint === undefined ? undefined : await passwordSpread.add(fingerprint, key, clock.now());
      const assessment = await assess({ ...attempt, userId: undefined }, spread);
      await store(assessment.facts, {
        user_id: attempt.userId ?? null,
        method,
        outcome: 'failed',
        score: assessment.score,
        action: 'allow',
        reasons: assessment.reasons,
      });
    },

    /** Stores the outcome of an assessment, records its events and counts it. */
    async decided(
      attempt: SignInAttempt & { requestId?: string | undefined },
      assessment: RiskAssessment,
      method: string,
      outcome: 'succeeded' | 'challenged' | 'refused',
    ): Promise<void> {
      await store(assessment.facts, {
        user_id: attempt.userId ?? null,
        method,
        outcome,
        score: assessment.score,
        action: assessment.action,
        reasons: assessment.reasons,
      });
      actions.inc({ action: assessment.action });
      if (assessment.action === 'allow' && !assessment.alert) return;
      deps.events.record({
        name: outcome === 'refused' ? SecurityEvents.signInRefused : SecurityEvents.riskElevated,
        severity: assessment.alert || outcome === 'refused' ? 'high' : 'medium',
        outcome: outcome === 'refused' ? 'failure' : 'success',
        targetUserId: attempt.userId,
        ip: assessment.facts.ip,
        userAgent: attempt.userAgent,
        requestId: attempt.requestId,
        details: {
          score: assessment.score,
          reasons: assessment.reasons,
          action: assessment.action,
          alert: assessment.alert,
          outcome,
          country: assessment.facts.country,
        },
      });
    },

    /** A public client refreshing for the user: scored like a sign-in; only `deny` stops it. */
    async refresh(attempt: SignInAttempt & { requestId?: string | undefined }): Promise<'allow' | 'deny'> {
      if (!settings.enabled) return 'allow';
      const assessment = await assess(attempt);
      const refused = assessment.action === 'deny';
      await engine.decided(attempt, assessment, 'refresh', refused ? 'refused' : 'succeeded');
      return refused ? 'deny' : 'allow';
    },

    /** Housekeeping: forgets sign-ins older than `security.risk.historyDays`. */
    deleteOld: () => deleteSignInsBefore(database.db, clock.now() - settings.historyDays * 86_400_000),

    async history(userId: string, page: { limit: number; offset: number }): Promise<SignInView[]> {
      return (await signInHistory(database.db, userId, page)).map(toView);
    },
  };
  return engine;
}

export type RiskEngine = ReturnType<typeof createRiskEngine>;
