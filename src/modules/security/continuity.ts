import type { FastifyInstance } from 'fastify';
import { LRUCache } from 'lru-cache';
import { GatehouseError } from '../../platform/errors.js';
import type { EventRecorder } from '../../platform/events.js';
import { requestContext } from '../accounts/routes.js';
import { SessionErrors } from '../sessions/errors.js';
import type { AuthenticatedSession } from '../sessions/service.js';
import { SecurityEvents } from './events.js';
import { networkOf } from './geo.js';
import { normalizeIp } from './ip.js';
import type { SecuritySettings } from './settings.js';

type Reaction = 'reauthenticate' | 'record' | 'ignore';
const RANK: Record<Reaction, number> = { ignore: 0, record: 1, reauthenticate: 2 };

/** A browser stays the same browser across its updates: version numbers are not compared. */
const deviceOf = (userAgent: string | null | undefined) => (userAgent ?? '').replace(/\d+/g, '#');

/**
 * Continuous authentication: a session is bound to the device and network it started on. Used from another
 * device it ends (the user signs in again, through the risk engine); from another network it is recorded
 * (both configurable). A session stolen with its cookie is then worth little elsewhere.
 */
export function registerSessionContinuity(
  app: FastifyInstance,
  deps: {
    settings: SecuritySettings['risk'];
    events: EventRecorder;
    endSession: (session: AuthenticatedSession) => Promise<void>;
  },
): void {
  const { sessionDeviceChange, sessionNetworkChange } = deps.settings;
  if (!deps.settings.enabled || (sessionDeviceChange === 'ignore' && sessionNetworkChange === 'ignore'))
    return;
  // Each move of a session is recorded once, not on every request that follows it.
  const recorded = new LRUCache<string, true>({ max: 50_000 });

  app.addHook('preValidation', (request, _reply, done) => {
    const session = request.session;
    if (!session || (session.ip === null && session.userAgent === null)) {
      done();
      return;
    }
    const ip = normalizeIp(request.ip);
    const userAgent = request.headers['user-agent'];
    const deviceChanged = session.userAgent !== null && deviceOf(userAgent) !== deviceOf(session.userAgent);
    const networkChanged = session.ip !== null && networkOf(ip) !== networkOf(normalizeIp(session.ip));
    const reaction = [
      deviceChanged ? sessionDeviceChange : 'ignore',
      networkChanged ? sessionNetworkChange : 'ignore',
    ].reduce<Reaction>((worst, next) => (RANK[next] > RANK[worst] ? next : worst), 'ignore');
    if (reaction === 'ignore') {
      done();
      return;
    }
    const key = `${session.id}|${networkOf(ip)}|${deviceOf(userAgent)}`;
    if (reaction === 'record' && recorded.has(key)) {
      done();
      return;
    }
    recorded.set(key, true);
    const context = requestContext(request);
    deps.events.record({
      name: SecurityEvents.sessionMoved,
      severity: reaction === 'reauthenticate' ? 'high' : 'medium',
      outcome: reaction === 'reauthenticate' ? 'failure' : 'success',
      actorUserId: session.userId,
      targetUserId: session.userId,
      ip: context.ip,
      userAgent: context.userAgent,
      requestId: context.requestId,
      details: {
        sessionId: session.id,
        deviceChanged,
        networkChanged,
        startedFrom: session.ip,
        action: reaction,
      },
    });
    if (reaction === 'record') {
      done();
      return;
    }
    deps.endSession(session).then(
      () =>
        done(
          new GatehouseError(
            SessionErrors.session_required,
            'This session was started on another device or network; sign in again',
          ),
        ),
      (error: unknown) => done(error as Error),
    );
  });
}
