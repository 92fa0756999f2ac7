import { constants as zlib } from 'node:zlib';
import compress from '@fastify/compress';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
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

export async function registerHardening(app: FastifyInstance, config: Config): Promise<void> {
  const https = config.server.publicUrl.startsWith('https://');

  await app.register(helmet, {
    global: true,
    enableCSPNonces: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        // Nonces are added per response by @fastify/helmet for script-src and style-src.
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        ...(https ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    hsts: https ? { maxAge: 63_072_000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
    frameguard: { action: 'deny' },
  });
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('permissions-policy', PERMISSIONS_POLICY);
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
