import type { IncomingMessage } from 'node:http';
import { format } from 'node:util';
import pino, { type ChildLoggerOptions, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { createRedactor, type RedactionSettings } from './redaction.js';

const EMAIL_KEYS = ['email', 'newEmail'];

/** Query-string parameters whose values are masked in logged URLs. */
const SECRET_QUERY_PARAMS =
  /^(token|code|password|secret|client_secret|access_token|refresh_token|id_token|key|api_key|otp)$/i;

const REDACTED = '[redacted]';

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
  // One walk of each logged object masks secrets by name and content, and e-mail addresses partly. (pino's
  // path-based `redact` did the name part before; with wildcards at four depths it cost ~190 µs a line.)
  const redactor = createRedactor(
    settings.redaction,
    Object.fromEntries(EMAIL_KEYS.map((key) => [key, maskEmail])),
  );
  return {
    // Card numbers, national IDs, keys and tokens written into messages or fields by anyone, ever.
    // Child loggers' bindings are not walked: Fastify's request loggers bind only the request id.
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
 * Fastify's per-request child logger, made only when the request logs something: most requests at the default
 * level never log, and making a child for each cost a few percent of a token request's CPU. Calls below the
 * level are dropped without making the child.
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
