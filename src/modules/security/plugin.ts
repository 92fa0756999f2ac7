import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Live } from '../../config/live.js';
import { GatehouseError } from '../../platform/errors.js';
import type { EventRecorder } from '../../platform/events.js';
import { requestContext } from '../accounts/routes.js';
import type { BlockService } from './blocks.js';
import type { Tripwire } from './decoys.js';
import { SecurityErrors } from './errors.js';
import { SecurityEvents } from './events.js';
import { normalizeIp } from './ip.js';
import { type LimitOutcome, type RateLimiter, rateLimitHeaders } from './rate-limit.js';
import type { RateLimitClass } from './settings.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when this request's budget is spent after authentication (per user, key or service). */
    deferredRateLimit?: RateLimitClass | undefined;
  }
}

const TOKEN_ENDPOINTS = new Set([
  '/oauth2/token',
  '/oauth2/introspect',
  '/oauth2/revoke',
  '/oauth2/par',
  '/oauth2/device/auth',
]);
const EXEMPT_PREFIXES = [
  '/health',
  '/metrics',
  '/assets/',
  '/docs',
  '/.well-known/',
  '/oauth2/jwks',
  '/favicon',
];

/**
 * Which budget a request spends from, and whose. Sign-in and other credential-guessing targets (every form
 * post, the JSON auth API) are per IP; token endpoints per client; the API per user or key once
 * authenticated (deferred until then), per IP while anonymous; health, metrics and static files are free.
 */
export function classify(
  method: string,
  path: string,
  hasCredentials: boolean,
): { policy: RateLimitClass; deferred: boolean } | undefined {
  if (method === 'OPTIONS' || method === 'HEAD') return undefined;
  if (EXEMPT_PREFIXES.some((prefix) => path === prefix || path.startsWith(prefix))) return undefined;
  if (TOKEN_ENDPOINTS.has(path)) return method === 'POST' ? { policy: 'token', deferred: false } : undefined;
  if (path.startsWith('/api/')) {
    if (path.startsWith('/api/v1/auth/')) {
      return method === 'GET'
        ? { policy: 'anonymous', deferred: false }
        : { policy: 'auth', deferred: false };
    }
    if (!hasCredentials) return { policy: 'anonymous', deferred: false };
    if (path.startsWith('/api/v1/authz/check')) return { policy: 'check', deferred: true };
    if (path.startsWith('/api/v1/admin/')) return { policy: 'admin', deferred: true };
    return { policy: 'api', deferred: true };
  }
  if (path === '/oauth2/userinfo') return { policy: hasCredentials ? 'api' : 'anonymous', deferred: false };
  // Sign-in, consent, device-code and e-mail link forms; federated sign-ins, each of which calls the
  // upstream provider.
  if (method === 'POST' || path.startsWith('/login/federated/')) return { policy: 'auth', deferred: false };
  return { policy: 'anonymous', deferred: false };
}

/** The client a token-endpoint request authenticates as (HTTP Basic), for its per-client budget. */
function basicClientId(authorization: string | undefined): string | undefined {
  const encoded = /^Basic\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  try {
    return decodeURIComponent(decoded.slice(0, colon));
  } catch {
    return undefined;
  }
}

const pathOf = (url: string) => {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
};

/**
 * The security layer's request hooks: allow list, deny list and blocks, honeypot paths, then rate limits.
 * Runs before sessions are looked up, so refused traffic costs no database work.
 */
export function registerSecurityLayer(
  app: FastifyInstance,
  deps: {
    /** `security.honeypotPaths`, read on each request (it reloads). */
    honeypotPaths: Live<readonly string[]>;
    blocks: BlockService;
    limiter: RateLimiter;
    events: EventRecorder;
    sessionCookieName: string;
    tripwire: Tripwire;
  },
): void {
  const { blocks, limiter } = deps;
  app.decorateRequest('deferredRateLimit', undefined);

  const applyOutcome = (request: FastifyRequest, reply: FastifyReply, outcome: LimitOutcome) => {
    const headers = rateLimitHeaders(outcome, limiter.policy(outcome.policy));
    if (outcome.allowed) {
      reply.headers(headers);
      return undefined;
    }
    const context = requestContext(request);
    deps.events.record({
      name: SecurityEvents.rateLimited,
      severity: 'low',
      outcome: 'failure',
      ip: context.ip,
      userAgent: context.userAgent,
      requestId: context.requestId,
      details: { policy: outcome.policy, path: pathOf(request.url) },
    });
    blocks.offence(normalizeIp(request.ip), `rate limit ${outcome.policy}`, context).catch(() => {});
    return new GatehouseError('too_many_requests', `Too many requests (${outcome.policy}); slow down`, {
      headers: { ...headers, 'retry-after': String(outcome.resetSeconds) },
    });
  };

  app.addHook('onRequest', (request, reply, done) => {
    const ip = normalizeIp(request.ip);
    if (blocks.allowed(ip)) {
      done();
      return;
    }
    const path = pathOf(request.url);
    const userAgent = request.headers['user-agent'];
    const match = blocks.match(ip, userAgent);
    if (match) {
      blocks.refused(match, { ...requestContext(request), path });
      if (match.by === 'user_agent_list') {
        blocks.offence(ip, 'attack tool user agent', requestContext(request)).catch(() => {});
      }
      done(new GatehouseError(SecurityErrors.access_blocked));
      return;
    }
    if (deps.honeypotPaths.get().some((honeypot) => path === honeypot || path.startsWith(`${honeypot}/`))) {
      const details = {
        decoy: 'path',
        method: request.method,
        path,
        referer: request.headers.referer,
        forwardedFor: request.headers['x-forwarded-for'],
      };
      // Then on to the router, whose not-found answer it gets like any unknown path: the decoy cannot be told
      // from a missing page.
      blocks.honeytokenUsed(requestContext(request), details, `honeypot ${path}`).then(
        () => done(),
        () => done(),
      );
      return;
    }
    if (request.method === 'POST' && TOKEN_ENDPOINTS.has(path)) {
      // A decoy client's credentials presented (HTTP Basic; the engine then refuses it as disabled).
      const clientId = basicClientId(request.headers.authorization);
      if (clientId) deps.tripwire.check('client', clientId, requestContext(request));
    }
    if (!limiter.enabled()) {
      done();
      return;
    }
    const hasCredentials =
      request.headers.authorization !== undefined ||
      (request.headers.cookie?.includes(`${deps.sessionCookieName}=`) ?? false);
    const route = classify(request.method, path, hasCredentials);
    if (!route) {
      done();
      return;
    }
    if (route.deferred) {
      request.deferredRateLimit = route.policy;
      done();
      return;
    }
    const key =
      route.policy === 'token'
        ? (basicClientId(request.headers.authorization) ?? `ip:${ip}`)
        : route.policy === 'api'
          ? `ip:${ip}`
          : ip;
    limiter.consume(route.policy, key).then(
      (outcome) => done(applyOutcome(request, reply, outcome)),
      (error: unknown) => done(error as Error),
    );
  });

  // Credentials that fail count toward blocking their source (API key, token or client secret guessing).
  // Failed sign-ins are not counted here: the sign-in throttle and lockout deal with those.
  app.addHook('onResponse', (request, reply, done) => {
    if (
      reply.statusCode === 401 &&
      request.headers.authorization !== undefined &&
      !blocks.allowed(normalizeIp(request.ip))
    ) {
      blocks
        .offence(normalizeIp(request.ip), 'failed authentication', requestContext(request))
        .catch(() => {});
    }
    done();
  });

  // Authenticated API calls spend their principal's budget, once authentication (and the permission guard)
  // has said who it is; credentials that name nobody spend the IP's.
  app.addHook('preHandler', (request, reply, done) => {
    const policy = request.deferredRateLimit;
    if (!policy) {
      done();
      return;
    }
    const principal = request.session
      ? `user:${request.session.userId}`
      : request.apiKey
        ? `${request.apiKey.principal.type}:${request.apiKey.principal.id}`
        : `ip:${normalizeIp(request.ip)}`;
    limiter.consume(policy, principal).then(
      (outcome) => done(applyOutcome(request, reply, outcome)),
      (error: unknown) => done(error as Error),
    );
  });
}
