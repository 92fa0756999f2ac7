import type { IncomingMessage } from 'node:http';
import { format } from 'node:util';
import pino, { type ChildLoggerOptions, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { createRedactor, type RedactionSettings } from './redaction.js';

/**
 * Keys whose values never reach a log line, at any depth we log. `code` is absent on purpose: error codes
 * are logged under it; OAuth codes travel in query strings (masked below) and bodies (never logged).
 */
const SECRET_KEYS = [
  'password',
  'currentPassword',
  'newPassword',
  'passwordHash',
  'secret',
  'clientSecret',
  'client_secret',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'id_token',
  'apiKey',
  'api_key',
  'otp',
  'totp',
  'backupCode',
  'privateKey',
  'secretKey',
  'cookie',
  'authorization',
];
const EMAIL_KEYS = ['email', 'newEmail'];

/** Query-string parameters whose values are masked in logged URLs. */
const SECRET_QUERY_PARAMS =
  /^(token|code|password|secret|client_secret|access_token|refresh_token|id_token|key|api_key|otp)$/i;

const REDACTED = '[redacted]';

function pathsAtDepths(keys: readonly string[]): string[] {
  return keys.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]);
}

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-health-token"]',
  'res.headers["set-cookie"]',
  ...pathsAtDepths(SECRET_KEYS),
  ...pathsAtDepths(EMAIL_KEYS),
];

/** `alice@example.com` becomes `a***@example.com`: enough to correlate, not enough to harvest. */
export function maskEmail(value: unknown): string {
  if (typeof value !== 'string') return REDACTED;
  const at = value.lastIndexOf('@');
  if (at <= 0) return REDACTED;
  return `${value[0]}***${value.slice(at)}`;
}

export function redactUrl(url: string): string {
  const query = url.indexOf('?');
  if (query === -1) return url;
  const params = new URLSearchParams(url.slice(query + 1));
  let changed = false;
  for (const name of [...params.keys()]) {
    if (SECRET_QUERY_PARAMS.test(name)) {
      params.set(name, REDACTED);
      changed = true;
    }
  }
  return changed ? `${url.slice(0, query)}?${params.toString()}` : url;
}

export interface LoggerSettings {
  readonly level: string;
  readonly pretty: boolean;
  /** Content patterns and field names masked in every line (the DLP layer), besides the keys above. */
  readonly redaction?: RedactionSettings | undefined;
}

export function loggerOptions(settings: LoggerSettings): LoggerOptions {
  const emailKeys = new Set(EMAIL_KEYS);
  const redactor = createRedactor(settings.redaction);
  return {
    // Card numbers, national IDs, keys and tokens written into messages or fields by anyone, ever.
    formatters: { log: (object) => redactor.value(object) },
    hooks: {
      logMethod(args, method) {
        // The message is formatted first, so a secret split between a template and its arguments is seen whole.
        const at = args.findIndex((arg) => typeof arg === 'string');
        if (at === -1) {
          method.apply(this, args);
          return;
        }
        const message = redactor.text(format(...(args.slice(at) as [string, ...unknown[]])));
        method.apply(this, [...args.slice(0, at), message] as unknown as Parameters<typeof method>);
      },
    },
    level: settings.level,
    base: { service: 'gatehouse' },
    timestamp: pino.stdTimeFunctions.isoTime,
    messageKey: 'msg',
    redact: {
      paths: REDACT_PATHS,
      censor: (value, path) => (emailKeys.has(path[path.length - 1] ?? '') ? maskEmail(value) : REDACTED),
    },
    serializers: {
      err: (error: Error) => {
        const serialized = pino.stdSerializers.err(error);
        return {
          ...serialized,
          message: redactor.text(serialized.message),
          ...(serialized.stack ? { stack: redactor.text(serialized.stack) } : {}),
        };
      },
      req: (request: IncomingMessage & { id?: string; ip?: string; routeOptions?: { url?: string } }) => ({
        method: request.method,
        url: redactUrl(request.url ?? ''),
        route: request.routeOptions?.url,
        ip: request.ip,
        userAgent: request.headers?.['user-agent'],
      }),
      res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
    },
    ...(settings.pretty
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:standard' } } }
      : {}),
  };
}

export function createLogger(settings: LoggerSettings, destination?: DestinationStream): Logger {
  return destination
    ? pino(loggerOptions({ ...settings, pretty: false }), destination)
    : pino(loggerOptions(settings));
}

export type { Logger };

const LOG_METHODS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);

/**
 * Fastify's per-request child logger, made only when the request logs something. Binding the request id runs
 * every redaction path over the bindings, which cost about 5% of a token request's CPU; most requests at the
 * default level never log. Calls below the level are dropped without making the child.
 */
export function lazyChildLogger(
  parent: Logger,
  bindings: Record<string, unknown>,
  options: ChildLoggerOptions,
): Logger {
  let child: Logger | undefined;
  // Properties set before the child exists (Fastify marks request loggers with symbols) are kept for it.
  const early = new Map<PropertyKey, unknown>();
  const materialise = (): Logger => {
    if (!child) {
      child = parent.child(bindings, options);
      for (const [key, value] of early) Reflect.set(child, key, value);
    }
    return child;
  };
  const threshold = parent.levels.values[options.level ?? parent.level] ?? 0;
  return new Proxy({} as Logger, {
    get(_target, property) {
      if (!child) {
        if (early.has(property)) return early.get(property);
        if (typeof property === 'string' && LOG_METHODS.has(property)) {
          if ((parent.levels.values[property] ?? 0) < threshold) return () => {};
          return (...args: unknown[]) =>
            (materialise()[property as 'info'] as (...rest: unknown[]) => void)(...args);
        }
        // Fastify checks that `child` is a function when it receives the logger: answer without making one.
        if (property === 'child') {
          return (...args: Parameters<Logger['child']>) => materialise().child(...args);
        }
      }
      const target = materialise();
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
    set(_target, property, value) {
      if (child) return Reflect.set(child, property, value);
      early.set(property, value);
      return true;
    },
    has(_target, property) {
      return property in materialise();
    },
  });
}
