import Bowser from 'bowser';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../../platform/clock.js';
import { constantTimeEqual, deriveKey, keyedHash, randomToken } from '../../platform/crypto/tokens.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import { GatehouseError } from '../../platform/errors.js';
import type { EventRecorder } from '../../platform/events.js';
import { newId } from '../../platform/ids.js';
import type { Logger } from '../../platform/logger.js';
import type { PubSub } from '../../platform/pubsub.js';
import { SessionErrors } from './errors.js';
import { SessionEvents } from './events.js';
import {
  countSessionsOfUser,
  deleteExpiredSessions,
  deleteSessions,
  findSessionById,
  findSessionByTokenHash,
  insertSession,
  listSessionsOfUser,
  type SessionRow,
  sessionIdsBeyond,
  sessionIdsOfUser,
  touchSession,
  updateSessionAuthentication,
} from './queries.js';
import type { SessionSettings } from './settings.js';

/** 256 bits: far beyond guessing, and only its keyed hash is stored. */
const TOKEN_BYTES = 32;
const INVALIDATION_CHANNEL = 'sessions.invalidate';

export interface Device {
  readonly browser?: string;
  readonly os?: string;
  readonly platform?: string;
}

export interface AuthenticatedSession {
  readonly id: string;
  readonly userId: string;
  readonly email: string;
  readonly isAdmin: boolean;
  readonly passwordResetRequired: boolean;
  readonly amr: readonly string[];
  readonly acr: string;
  readonly authTime: number;
  readonly restriction: SessionRestriction | null;
  /** Where and what the session was started from (continuous authentication compares requests with them). */
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly createdAt: number;
  lastSeenAt: number;
  idleExpiresAt: number;
  readonly absoluteExpiresAt: number;
}

export type SessionRestriction = 'mfa_enrollment';

/** How a sign-in was proven: RFC 8176 method references and the assurance level they add up to. */
export interface Authentication {
  readonly amr: readonly string[];
  readonly acr: string;
}

export interface SessionView {
  readonly id: string;
  readonly device: Device;
  readonly ip: string | null;
  readonly location: string | null;
  readonly createdAt: string;
  readonly lastSeenAt: string;
  readonly expiresAt: string;
  readonly current: boolean;
}

export interface RequestContext {
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly requestId?: string | undefined;
}

export interface SessionServiceDependencies {
  readonly database: DatabaseHandle;
  readonly clock: Clock;
  readonly settings: SessionSettings;
  readonly secretKey: Buffer;
  readonly pubsub: PubSub;
  readonly events: EventRecorder;
  readonly logger: Logger;
}

export function parseDevice(userAgent: string | undefined): Device {
  if (!userAgent) return {};
  const parsed = Bowser.parse(userAgent);
  const join = (...parts: (string | undefined)[]) => parts.filter(Boolean).join(' ') || undefined;
  const device: { browser?: string; os?: string; platform?: string } = {};
  const browser = join(parsed.browser.name, parsed.browser.version?.split('.')[0]);
  const os = join(parsed.os.name, parsed.os.versionName ?? parsed.os.version);
  if (browser) device.browser = browser;
  if (os) device.os = os;
  if (parsed.platform.type) device.platform = parsed.platform.type;
  return device;
}

type InvalidationMessage = { sessionIds: string[] } | { userId: string };

export async function createSessionService(deps: SessionServiceDependencies) {
  const { database, clock, settings } = deps;
  const tokenKey = deriveKey(deps.secretKey, 'session-token');
  const csrfKey = deriveKey(deps.secretKey, 'session-csrf');
  const hashToken = (token: string) => keyedHash(tokenKey, token);

  // Validated sessions by token hash. Entries are evicted on revocation on every node (pub/sub) and expire
  // after cacheTtlMs regardless, so a missed message cannot keep a revoked session alive for long.
  const cache = new LRUCache<string, AuthenticatedSession>({
    max: 50_000,
    ttl: Math.max(settings.cacheTtlMs, 1),
    ttlAutopurge: false,
  });

  const evictLocally = (message: InvalidationMessage) => {
    for (const [tokenHash, session] of cache.entries()) {
      const hit =
        'userId' in message ? session.userId === message.userId : message.sessionIds.includes(session.id);
      if (hit) cache.delete(tokenHash);
    }
  };
  const unsubscribe = await deps.pubsub.subscribe(INVALIDATION_CHANNEL, (text) => {
    evictLocally(JSON.parse(text) as InvalidationMessage);
  });
  const invalidate = async (message: InvalidationMessage) => {
    evictLocally(message);
    try {
      await deps.pubsub.publish(INVALIDATION_CHANNEL, JSON.stringify(message));
    } catch (error) {
      // The row is already gone; other nodes drop their copy within cacheTtlMs.
      deps.logger.warn({ err: error }, 'could not broadcast a session revocation');
    }
  };

  const toView = (row: SessionRow, currentId: string | undefined): SessionView => ({
    id: row.id,
    device: JSON.parse(row.device) as Device,
    ip: row.ip,
    location: row.location,
    createdAt: new Date(row.created_at).toISOString(),
    lastSeenAt: new Date(row.last_seen_at).toISOString(),
    expiresAt: new Date(Math.min(row.idle_expires_at, row.absolute_expires_at)).toISOString(),
    current: row.id === currentId,
  });

  async function revoke(ids: readonly string[]): Promise<number> {
    const count = await deleteSessions(database.db, ids);
    if (ids.length > 0) await invalidate({ sessionIds: [...ids] });
    return count;
  }

  return {
    /**
     * Starts a session after a successful sign-in. Returns the token for the cookie; only its hash is kept.
     * Enforces the per-user limit: the oldest sessions are evicted, or the sign-in is refused.
     */
    async create(
      userId: string,
      context: RequestContext & Authentication & { restriction?: SessionRestriction | undefined },
    ) {
      const now = clock.now();
      if (
        settings.onLimit === 'reject' &&
        (await countSessionsOfUser(database.db, userId, now)) >= settings.maxPerUser
      ) {
        throw new GatehouseError(SessionErrors.session_limit_reached);
      }
      const token = randomToken(TOKEN_BYTES);
      const row: SessionRow = {
        id: newId(),
        user_id: userId,
        token_hash: hashToken(token),
        ip: context.ip ?? null,
        user_agent: context.userAgent?.slice(0, 512) ?? null,
        device: JSON.stringify(parseDevice(context.userAgent)),
        location: null,
        amr: JSON.stringify(context.amr),
        acr: context.acr,
        restriction: context.restriction ?? null,
        auth_time: now,
        created_at: now,
        last_seen_at: now,
        idle_expires_at: Math.min(
          now + settings.idleTimeoutSeconds * 1000,
          now + settings.absoluteTimeoutSeconds * 1000,
        ),
        absolute_expires_at: now + settings.absoluteTimeoutSeconds * 1000,
      };
      await insertSession(database.db, row);
      const evicted = await sessionIdsBeyond(database.db, userId, settings.maxPerUser);
      if (evicted.length > 0) {
        await revoke(evicted);
        deps.events.record({
          name: SessionEvents.evicted,
          severity: 'low',
          outcome: 'success',
          targetUserId: userId,
          requestId: context.requestId,
          details: { sessionIds: evicted, limit: settings.maxPerUser },
        });
      }
      deps.events.record({
        name: SessionEvents.created,
        severity: 'low',
        outcome: 'success',
        actorUserId: userId,
        targetUserId: userId,
        ip: context.ip,
        userAgent: context.userAgent,
        requestId: context.requestId,
        details: { sessionId: row.id, amr: context.amr, acr: context.acr, restriction: row.restriction },
      });
      return { token, sessionId: row.id, expiresAt: row.absolute_expires_at };
    },

    /** The session behind a token, if it is valid now. Served from memory after the first lookup. */
    async authenticate(token: string): Promise<AuthenticatedSession | undefined> {
      if (token.length < 20 || token.length > 100) return undefined;
      const now = clock.now();
      const tokenHash = hashToken(token);
      let session = cache.get(tokenHash);
      if (!session) {
        const row = await findSessionByTokenHash(database.db, tokenHash);
        if (row?.status !== 'active') return undefined;
        session = {
          id: row.id,
          userId: row.user_id,
          email: row.email,
          isAdmin: row.is_admin === 1,
          passwordResetRequired: row.password_reset_required === 1,
          amr: JSON.parse(row.amr) as string[],
          acr: row.acr,
          authTime: row.auth_time,
          restriction: row.restriction as SessionRestriction | null,
          ip: row.ip,
          userAgent: row.user_agent,
          createdAt: row.created_at,
          lastSeenAt: row.last_seen_at,
          idleExpiresAt: row.idle_expires_at,
          absoluteExpiresAt: row.absolute_expires_at,
        };
        if (settings.cacheTtlMs > 0) cache.set(tokenHash, session);
      }
      if (now >= session.idleExpiresAt || now >= session.absoluteExpiresAt) {
        cache.delete(tokenHash);
        return undefined;
      }
      if (now - session.lastSeenAt >= settings.touchIntervalSeconds * 1000) {
        session.lastSeenAt = now;
        session.idleExpiresAt = Math.min(now + settings.idleTimeoutSeconds * 1000, session.absoluteExpiresAt);
        await touchSession(database.db, session.id, {
          last_seen_at: session.lastSeenAt,
          idle_expires_at: session.idleExpiresAt,
        });
      }
      return session;
    },

    async list(userId: string, currentSessionId?: string): Promise<SessionView[]> {
      const rows = await listSessionsOfUser(database.db, userId, clock.now());
      return rows.map((row) => toView(row, currentSessionId));
    },

    /** Revokes one of the user's sessions. */
    async revokeOne(
      userId: string,
      sessionId: string,
      context: RequestContext & { actorUserId?: string | undefined },
    ) {
      const owned = await sessionIdsOfUser(database.db, userId);
      if (!owned.includes(sessionId)) throw new GatehouseError(SessionErrors.session_not_found);
      await revoke([sessionId]);
      deps.events.record({
        name: SessionEvents.revoked,
        severity: 'low',
        outcome: 'success',
        actorUserId: context.actorUserId,
        targetUserId: userId,
        ip: context.ip,
        requestId: context.requestId,
        details: { sessionId },
      });
    },

    /** Revokes every session of the user, or all but `except`. */
    async revokeAll(
      userId: string,
      context: RequestContext & { actorUserId?: string; except?: string; reason: string },
    ) {
      const ids = await sessionIdsOfUser(database.db, userId, context.except);
      const count = await revoke(ids);
      await invalidate({ userId });
      deps.events.record({
        name: SessionEvents.revokedAll,
        severity: 'medium',
        outcome: 'success',
        actorUserId: context.actorUserId,
        targetUserId: userId,
        ip: context.ip,
        requestId: context.requestId,
        details: { count, reason: context.reason, keptCurrent: Boolean(context.except) },
      });
      return count;
    },

    /**
     * Records a fresh authentication in an existing session (re-authentication or step-up): the time is now,
     * the methods are added to what the session already proved, and the level only goes up.
     */
    async reauthenticated(
      sessionId: string,
      proof: Authentication,
      options: { liftRestriction?: boolean } = {},
    ): Promise<Authentication & { authTime: number }> {
      const row = await findSessionById(database.db, sessionId);
      if (!row) throw new GatehouseError(SessionErrors.session_required);
      const amr = [...new Set([...(JSON.parse(row.amr) as string[]), ...proof.amr])];
      const acr = String(Math.max(Number(row.acr) || 1, Number(proof.acr) || 1));
      const authTime = clock.now();
      await updateSessionAuthentication(database.db, sessionId, {
        amr: JSON.stringify(amr),
        acr,
        auth_time: authTime,
        // Once the required factor is enrolled, the session may do everything else.
        ...(options.liftRestriction ? { restriction: null } : {}),
      });
      await invalidate({ sessionIds: [sessionId] });
      return { amr, acr, authTime };
    },

    /** Drops cached copies of the user's sessions everywhere (after a change to the account they carry). */
    async invalidateUser(userId: string) {
      await invalidate({ userId });
    },

    csrfToken(sessionId: string): string {
      return keyedHash(csrfKey, sessionId);
    },

    verifyCsrf(sessionId: string, presented: string | undefined): boolean {
      return presented !== undefined && constantTimeEqual(presented, keyedHash(csrfKey, sessionId));
    },

    async deleteExpired(): Promise<number> {
      return deleteExpiredSessions(database.db, clock.now());
    },

    /** Drops this node's cached sessions (they are read again from the database). Returns how many. */
    clearCache(): number {
      const size = cache.size;
      cache.clear();
      return size;
    },

    async close() {
      await unsubscribe();
      cache.clear();
    },
  };
}

export type SessionService = Awaited<ReturnType<typeof createSessionService>>;
