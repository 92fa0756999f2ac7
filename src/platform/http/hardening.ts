import { randomBytes } from 'node:crypto';
import { constants as zlib } from 'node:zlib';
import compress from '@fastify/compress';
import cors from '@fastify/cors';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyReply } from 'fastify';
import helmet from 'helmet';
import type { Config } from '../../config/schema.js';
import { GatehouseError } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A probe (health, metrics): answered even when overloaded, and not request-logged. */
    probe?: boolean;
  }
}

/** Powerful browser features Gatehouse pages never use. WebAuthn stays allowed for our own origin. */
export const PERMISSIONS_POLICY = [
  'accelerometer=()',
  'camera=()',
  'geolocation=()',
  'gyroscope=()',
  'magnetometer=()',
  'microphone=()',
  'payment=()',
  'usb=()',
  'interest-cohort=()',
  'publickey-credentials-create=(self)',
  'publickey-credentials-get=(self)',
].join(', ');

/**
 * JSON and other non-HTML responses load nothing, so their policy allows nothing. HTML pages replace it
 * with a policy carrying a per-response nonce (see `pageCsp`).
 */
export const API_CSP_DIRECTIVES = {
  defaultSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

/**
 * Sets the CSP of an HTML page: our own origin only, inline code only with this response's nonce.
 * `formTargets` adds origins a form's redirect chain may end at (browsers apply form-action to redirects):
 * a sign-in page for an OAuth client ends at that client's redirect URI.
 */
export function pageCsp(reply: FastifyReply, formTargets: readonly string[] = []): string {
  const nonce = randomBytes(16).toString('base64');
  for (const [name, value] of Object.entries(pageHeaders(nonce, formTargets))) reply.header(name, value);
  return nonce;
}

/** The headers an HTML page carries, for pages rendered outside Fastify's reply (the OpenID engine's). */
export function pageHeaders(nonce: string, formTargets: readonly string[] = []): Record<string, string> {
  return {
    // Not no-referrer: with it, browsers send `Origin: null` on the page's own form posts, which the CSRF
    // check must refuse. same-origin still keeps URLs (and the tokens in e-mailed links) from other sites.
    'referrer-policy': 'same-origin',
    'content-security-policy': [
      "default-src 'self'",
      "base-uri 'none'",
      "object-src 'none'",
      "frame-ancestors 'none'",
      ["form-action 'self'", ...formTargets].join(' '),
      "img-src 'self' data:",
      `script-src 'self' 'nonce-${nonce}'`,
      `style-src 'self' 'nonce-${nonce}'`,
    ].join('; '),
    'cache-control': 'no-store',
  };
}

export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

export async function registerHardening(app: FastifyInstance, config: Config): Promise<void> {
  const https = config.server.publicUrl.startsWith('https://');

  // helmet's middleware is built once and only copies precomputed headers per request. (@fastify/helmet
  // rebuilds it, options parsing included, on every request: a third of /health/live's throughput here.)
  const securityHeaders = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: API_CSP_DIRECTIVES },
    hsts: https ? { maxAge: 63_072_000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
    frameguard: { action: 'deny' },
  });
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('permissions-policy', PERMISSIONS_POLICY);
    securityHeaders(request.raw, reply.raw, (error?: unknown) => done(error as Error | undefined));
  });

  const origins = new Set(config.http.corsOrigins);
  if (origins.size > 0) {
    await app.register(cors, {
      origin: (origin, callback) =>
        callback(null, origins.has('*') || (origin !== undefined && origins.has(origin))),
      credentials: config.http.corsCredentials,
      maxAge: 600,
      strictPreflight: true,
    });
  }

  if (config.http.compression) {
    await app.register(compress, {
      global: true,
      threshold: config.http.compressionThresholdBytes,
      encodings: ['br', 'gzip'],
      // Brotli's default quality (11) costs far more CPU than it saves on API-sized responses.
      brotliOptions: { params: { [zlib.BROTLI_PARAM_QUALITY]: 4 } },
    });
  }

  if (config.http.maxEventLoopDelayMs > 0) {
    const retryAfter = String(config.http.overloadRetryAfterSeconds);
    await app.register(underPressure, {
      maxEventLoopDelay: config.http.maxEventLoopDelayMs,
      retryAfter: config.http.overloadRetryAfterSeconds,
      pressureHandler: (request) => {
        if (request.routeOptions.config.probe) return undefined;
        // A rejected promise reaches the one error handler, which answers problem+json with Retry-After.
        return Promise.reject(
          new GatehouseError('overloaded', undefined, { headers: { 'retry-after': retryAfter } }),
        );
      },
    });
  }
}
