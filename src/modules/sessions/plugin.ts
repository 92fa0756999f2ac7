import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatehouseError } from '../../platform/errors.js';
import type { EventRecorder } from '../../platform/events.js';
import { SessionErrors } from './errors.js';
import { SessionEvents } from './events.js';
import type { AuthenticatedSession, SessionService } from './service.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in session, when the request carries a valid session cookie. */
    session?: AuthenticatedSession | undefined;
  }
  interface FastifyContextConfig {
    /**
     * `session`: a signed-in user (what they may do beyond that: `permission`, from the authz module).
     * `session-or-bearer`: that, or an `Authorization: Bearer` token the route's guard verifies.
     */
    auth?: 'session' | 'session-or-bearer';
    /** The route also serves sessions that must enrol a second factor first (MFA enrolment, sign-out). */
    allowRestricted?: boolean;
    /** Cross-origin state-changing requests are expected (the OAuth engine's endpoints): no Origin check. */
    crossOrigin?: boolean;
  }
}

export const CSRF_HEADER = 'x-csrf-token';
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface SessionCookie {
  readonly name: string;
  readonly secure: boolean;
}

/**
 * `__Host-` pins the cookie to our exact origin (no Domain, Path=/, Secure). Browsers accept Secure cookies
 * on https and on localhost; on plain http elsewhere (development on a LAN address) the prefix cannot be used.
 */
export function sessionCookieFor(publicUrl: string): SessionCookie {
  return hostCookie(publicUrl, 'gh_session');
}

/** A host-only cookie named `base`, with the `__Host-` prefix wherever the browser allows it. */
export function hostCookie(publicUrl: string, base: string): SessionCookie {
  const url = new URL(publicUrl);
  const secureContext =
    url.protocol === 'https:' || url.hostname === 'localhost' || url.hostname === '127.0.0.1';
  return secureContext ? { name: `__Host-${base}`, secure: true } : { name: base, secure: false };
}

export interface SessionAuthOptions {
  readonly sessions: SessionService;
  readonly events: EventRecorder;
  readonly publicUrl: string;
  /** Origins besides our own that may send state-changing requests (the CORS allow-list). */
  readonly trustedOrigins: readonly string[];
}

export function setSessionCookie(
  reply: FastifyReply,
  cookieSpec: SessionCookie,
  token: string,
  expiresAt: number,
): void {
  setHostCookie(reply, cookieSpec, token, expiresAt);
}

export function setHostCookie(
  reply: FastifyReply,
  cookieSpec: SessionCookie,
  token: string,
  expiresAt: number,
): void {
  reply.setCookie(cookieSpec.name, token, {
    path: '/',
    httpOnly: true,
    secure: cookieSpec.secure,
    sameSite: 'lax',
    expires: new Date(expiresAt),
  });
}

export function clearSessionCookie(reply: FastifyReply, cookieSpec: SessionCookie): void {
  reply.clearCookie(cookieSpec.name, {
    path: '/',
    httpOnly: true,
    secure: cookieSpec.secure,
    sameSite: 'lax',
  });
}

/**
 * Reads the session cookie on every request, enforces `config.auth`, and protects cookie-authenticated
 * state-changing requests against CSRF twice: the Origin (when sent) must be ours or trusted, and the
 * request must carry the session's CSRF token in X-CSRF-Token (an HMAC of the session id: nothing to store).
 */
export async function registerSessionAuth(
  app: FastifyInstance,
  options: SessionAuthOptions,
): Promise<SessionCookie> {
  const cookieSpec = sessionCookieFor(options.publicUrl);
  const trusted = new Set([new URL(options.publicUrl).origin, ...options.trustedOrigins]);
  await app.register(cookie);
  app.decorateRequest('session', undefined);

  const rejectCsrf = (request: FastifyRequest, reason: string): never => {
    options.events.record({
      name: SessionEvents.csrfRejected,
      severity: 'medium',
      outcome: 'failure',
      actorUserId: request.session?.userId,
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      requestId: request.id,
      details: { reason, route: request.routeOptions.url },
    });
    throw new GatehouseError(SessionErrors.csrf_failed);
  };

  /** `config.auth` of the route against the session now on the request. */
  const enforce = (request: FastifyRequest): void => {
    const required = request.routeOptions.config?.auth;
    if (!required) return;
    if (!request.session) {
      if (required === 'session-or-bearer' && /^Bearer /i.test(request.headers.authorization ?? '')) return;
      throw new GatehouseError(SessionErrors.session_required);
    }
    if (request.session.restriction === 'mfa_enrollment' && !request.routeOptions.config?.allowRestricted) {
      throw new GatehouseError(
        SessionErrors.mfa_enrollment_required,
        'Set up a second factor first: POST /api/v1/me/mfa/methods',
      );
    }
    if (UNSAFE_METHODS.has(request.method)) {
      const presented = request.headers[CSRF_HEADER];
      if (
        !options.sessions.verifyCsrf(
          request.session.id,
          typeof presented === 'string' ? presented : undefined,
        )
      ) {
        rejectCsrf(request, presented ? 'wrong_token' : 'missing_token');
      }
    }
  };

  // A callback hook: requests without a session cookie (API clients, OAuth endpoints) never wait on a promise.
  app.addHook('onRequest', (request, reply, done) => {
    try {
      const origin = request.headers.origin;
      // The engine's own endpoints (token, introspection…) are called cross-origin by design and do their own
      // CORS and client authentication; they take no session from cookies.
      const crossOriginAllowed = request.routeOptions.config?.crossOrigin === true;
      if (
        !crossOriginAllowed &&
        UNSAFE_METHODS.has(request.method) &&
        origin !== undefined &&
        !trusted.has(origin)
      ) {
        rejectCsrf(request, 'foreign_origin');
      }
      const token = request.cookies[cookieSpec.name];
      if (!token) {
        enforce(request);
        done();
        return;
      }
      options.sessions.authenticate(token).then(
        (session) => {
          request.session = session;
          if (!session) clearSessionCookie(reply, cookieSpec);
          try {
            enforce(request);
            done();
          } catch (error) {
            done(error as Error);
          }
        },
        (error: unknown) => done(error as Error),
      );
    } catch (error) {
      done(error as Error);
    }
  });
  return cookieSpec;
}
