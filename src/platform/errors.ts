/**
 * One error type for the whole product. Every code is registered once, with its HTTP status, a title that is
 * always safe to show, and whether the error's own message may be shown to the client.
 */
export interface ErrorCodeDefinition {
  readonly status: number;
  readonly title: string;
  /** Whether the message given at the throw site is safe to show to the caller. */
  readonly expose: boolean;
}

const registry = new Map<string, ErrorCodeDefinition>();

/**
 * Registers error codes. Modules call this from their `errors.ts`; a code may be registered only once,
 * so two features cannot silently give one code two meanings.
 */
export function defineErrorCodes<const T extends Record<string, ErrorCodeDefinition>>(
  codes: T,
): { [K in keyof T]: K } {
  const names = {} as { [K in keyof T]: K };
  for (const [code, definition] of Object.entries(codes)) {
    if (!/^[a-z][a-z0-9_]*$/.test(code)) throw new Error(`error code ${code} must be snake_case`);
    const existing = registry.get(code);
    if (existing && JSON.stringify(existing) !== JSON.stringify(definition)) {
      throw new Error(`error code ${code} is already registered with another definition`);
    }
    registry.set(code, definition);
    (names as Record<string, string>)[code] = code;
  }
  return names;
}

export function errorDefinition(code: string): ErrorCodeDefinition | undefined {
  return registry.get(code);
}

export function registeredErrorCodes(): ReadonlyMap<string, ErrorCodeDefinition> {
  return registry;
}

export const PlatformErrors = defineErrorCodes({
  bad_request: { status: 400, title: 'Bad request', expose: true },
  validation_failed: { status: 400, title: 'The request is not valid', expose: true },
  malformed_body: { status: 400, title: 'The request body could not be parsed', expose: true },
  unauthorized: { status: 401, title: 'Authentication required', expose: true },
  forbidden: { status: 403, title: 'Not allowed', expose: true },
  not_found: { status: 404, title: 'Not found', expose: true },
  method_not_allowed: { status: 405, title: 'Method not allowed', expose: true },
  not_acceptable: { status: 406, title: 'Not acceptable', expose: true },
  request_timeout: { status: 408, title: 'Request timeout', expose: true },
  conflict: { status: 409, title: 'Conflict', expose: true },
  body_too_large: { status: 413, title: 'The request body is too large', expose: true },
  unsupported_media_type: { status: 415, title: 'Unsupported media type', expose: true },
  too_many_requests: { status: 429, title: 'Too many requests', expose: true },
  internal_error: { status: 500, title: 'Internal server error', expose: false },
  service_unavailable: { status: 503, title: 'Service unavailable', expose: true },
  overloaded: { status: 503, title: 'The server is overloaded; try again later', expose: true },
  shutting_down: { status: 503, title: 'The server is shutting down', expose: true },
  config_invalid: { status: 500, title: 'Invalid configuration', expose: false },
  database_unsupported: { status: 500, title: 'Unsupported database URL', expose: false },
  database_newer_than_code: {
    status: 500,
    title: 'The database was migrated by a newer Gatehouse',
    expose: false,
  },
  migration_failed: { status: 500, title: 'A database migration failed', expose: false },
  secret_key_invalid: { status: 500, title: 'The secret key cannot be used', expose: false },
});

export interface FieldProblem {
  /** Where the problem is, e.g. `body.email` or `query.limit`. */
  readonly path: string;
  readonly message: string;
}

export interface GatehouseErrorOptions {
  cause?: unknown;
  /** Field-level problems, for validation errors. */
  errors?: readonly FieldProblem[];
  /** Extra members for the problem document; only safe, non-secret values. */
  extensions?: Readonly<Record<string, unknown>>;
  /** Response headers to send with the problem (e.g. Retry-After). */
  headers?: Readonly<Record<string, string>>;
}

export class GatehouseError extends Error {
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;
  readonly errors: readonly FieldProblem[] | undefined;
  readonly extensions: Readonly<Record<string, unknown>> | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(code: string, message?: string, options: GatehouseErrorOptions = {}) {
    const definition = registry.get(code);
    if (!definition) throw new Error(`unregistered error code ${code}`);
    super(message ?? definition.title, { cause: options.cause });
    this.name = 'GatehouseError';
    this.code = code;
    this.status = definition.status;
    this.expose = definition.expose;
    this.errors = options.errors;
    this.extensions = options.extensions;
    this.headers = options.headers;
  }

  /** The text the client may see: the message when the code allows it, otherwise the code's title. */
  get publicDetail(): string {
    return this.expose ? this.message : (registry.get(this.code)?.title ?? 'Error');
  }
}

export function isGatehouseError(error: unknown): error is GatehouseError {
  return error instanceof GatehouseError;
}
