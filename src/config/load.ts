import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { providerProblems } from '../modules/federation/presets.js';
import { parseRange } from '../modules/security/ip.js';
import { decodeSecretKey } from '../platform/crypto/secret-key.js';
import { GatehouseError } from '../platform/errors.js';
import { checkMailSafety } from '../platform/mailer/settings.js';
import { checkSmsSafety } from '../platform/sms/settings.js';
import { type Config, ConfigSchema } from './schema.js';

/** Environment variables with a conventional name. Any setting can also be set as GATEHOUSE__SECTION__KEY. */
export const ENV_VARIABLES: Readonly<Record<string, string>> = {
  NODE_ENV: 'env',
  GATEHOUSE_DATA_DIR: 'dataDir',
  HOST: 'server.host',
  PORT: 'server.port',
  PUBLIC_URL: 'server.publicUrl',
  TRUST_PROXY: 'server.trustProxy',
  DATABASE_URL: 'database.url',
  DATABASE_READ_URL: 'database.readUrl',
  DATABASE_POOL_SIZE: 'database.poolSize',
  REDIS_URL: 'redis.url',
  GATEHOUSE_SECRET_KEY: 'secrets.key',
  GATEHOUSE_SECRET_KEY_FILE: 'secrets.keyFile',
  LOG_LEVEL: 'log.level',
  CORS_ORIGINS: 'http.corsOrigins',
  HEALTH_TOKEN: 'health.token',
  METRICS_TOKEN: 'metrics.token',
  // The OpenTelemetry names with the same meaning. (OTEL_EXPORTER_OTLP_ENDPOINT is a base URL the SDK appends
  // /v1/traces to, not the full URL tracing.otlpEndpoint is, so it is not read.)
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'tracing.otlpEndpoint',
  OTEL_SERVICE_NAME: 'tracing.serviceName',
};
const GENERIC_ENV_PREFIX = 'GATEHOUSE__';

/**
 * Values that appear in our documentation and examples. Running with one of them in production would
 * mean running with a secret everybody knows.
 */
export const EXAMPLE_SECRETS: ReadonlySet<string> = new Set([
  '0000000000000000000000000000000000000000000000000000000000000000',
  'change-me-to-64-hex-characters-from-openssl-rand-hex-32',
  'change-me-health-token',
  'change-me-metrics-token',
]);

export class ConfigError extends GatehouseError {
  constructor(readonly problems: readonly string[]) {
    super('config_invalid', `Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

export interface LoadConfigOptions {
  /** The process environment (only entry points pass process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Settings that win over every other source; used by tests and CLI flags. */
  overrides?: Record<string, unknown>;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(target: Json, source: Json): Json {
  const result: Json = { ...target };
  for (const [key, value] of Object.entries(source)) {
    const existing = result[key];
    result[key] = isObject(existing) && isObject(value) ? deepMerge(existing, value) : value;
  }
  return result;
}

function setPath(target: Json, path: readonly string[], value: unknown): void {
  let node = target;
  for (const segment of path.slice(0, -1)) {
    if (!isObject(node[segment])) node[segment] = {};
    node = node[segment] as Json;
  }
  node[path[path.length - 1]!] = value;
}

/** Finds the schema of a setting, matching each segment case-insensitively so env names can be upper-case. */
function resolveSetting(path: readonly string[]): { path: string[]; schema: TSchema } | undefined {
  let schema: TSchema = ConfigSchema;
  const resolved: string[] = [];
  for (const segment of path) {
    const properties = (schema as { properties?: Record<string, TSchema> }).properties;
    if (!properties) return undefined;
    // GATEHOUSE__REDIS__KEY_PREFIX and GATEHOUSE__REDIS__KEYPREFIX both name redis.keyPrefix.
    const wanted = segment.replaceAll('_', '').toLowerCase();
    const key = Object.keys(properties).find((name) => name.toLowerCase() === wanted);
    if (!key) return undefined;
    resolved.push(key);
    schema = properties[key]!;
  }
  return { path: resolved, schema };
}

/** Environment values are strings; turn them into what the setting's schema expects. */
function coerce(raw: string, schema: TSchema): unknown {
  const text = raw.trim();
  const kinds: TSchema[] = schema.anyOf ?? [schema];
  if (schema.type === 'array') {
    return text === '' ? [] : text.split(',').map((item) => coerce(item, schema.items as TSchema));
  }
  // A number wins over a boolean where a setting takes both: TRUST_PROXY=1 is one hop, not "trust all".
  if (kinds.some((kind) => kind.type === 'integer' || kind.type === 'number') && /^-?\d+(\.\d+)?$/.test(text))
    return Number(text);
  for (const kind of kinds) {
    if (kind.type === 'boolean' && /^(true|false|1|0|yes|no)$/i.test(text))
      return /^(true|1|yes)$/i.test(text);
  }
  return text;
}

function readEnvironment(env: Readonly<Record<string, string | undefined>>, problems: string[]): Json {
  const result: Json = {};
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || raw === '') continue;
    let dotted: string | undefined = ENV_VARIABLES[name];
    if (!dotted && name.startsWith(GENERIC_ENV_PREFIX))
      dotted = name.slice(GENERIC_ENV_PREFIX.length).split('__').join('.');
    if (!dotted) continue;
    const setting = resolveSetting(dotted.split('.'));
    if (!setting) {
      problems.push(`${name}: no such setting`);
      continue;
    }
    setPath(result, setting.path, coerce(raw, setting.schema));
  }
  return result;
}

function readConfigFile(path: string, problems: string[]): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    problems.push(
      `GATEHOUSE_CONFIG: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
    return {};
  }
  try {
    const parsed: unknown = extname(path) === '.json' ? JSON.parse(text) : parseYaml(text);
    if (parsed === null || parsed === undefined) return {};
    if (!isObject(parsed)) {
      problems.push(`GATEHOUSE_CONFIG: ${path} must contain an object of settings`);
      return {};
    }
    return parsed;
  } catch (error) {
    problems.push(
      `GATEHOUSE_CONFIG: ${path} is not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message.split('\n')[0]}`,
    );
    return {};
  }
}

function formatPath(pointer: string): string {
  return pointer.replace(/^\//, '').split('/').join('.') || '(root)';
}

function validate(value: unknown, problems: string[]): void {
  for (const error of Value.Errors(ConfigSchema, value)) {
    const custom = (error.schema as { errorMessage?: string }).errorMessage;
    // A union reports the union and each branch; the custom message on the union is the useful one.
    if (problems.some((line) => line.startsWith(`${formatPath(error.path)}:`))) continue;
    if (error.message.startsWith('Unexpected property')) {
      problems.push(`${formatPath(error.path)}: no such setting`);
      continue;
    }
    problems.push(`${formatPath(error.path)}: ${custom ?? error.message.toLowerCase()}`);
  }
}

function isLocalHost(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '127.0.0.1' ||
    hostname === '[::1]' ||
    hostname.endsWith('.localhost')
  );
}

/** Settings that are merely unwise in development are refused in production; some are refused everywhere. */
function checkSafety(config: Config, problems: string[]): void {
  const production = config.env === 'production';
  if (config.secrets.key !== undefined && !decodeSecretKey(config.secrets.key)) {
    problems.push(
      'secrets.key: must be 32 bytes written as 64 hex characters or base64 (openssl rand -hex 32)',
    );
  }
  if (config.http.corsOrigins.includes('*') && config.http.corsCredentials) {
    problems.push('http.corsOrigins: a * origin cannot be combined with http.corsCredentials');
  }
  if (config.secrets.key && config.secrets.keyFile) {
    problems.push('secrets.keyFile: give either secrets.key or secrets.keyFile, not both');
  }
  problems.push(...checkMailSafety(config.mail, config.env));
  problems.push(...checkSmsSafety(config.sms, config.env));
  config.security.redaction.patterns.forEach((entry, index) => {
    try {
      new RegExp(entry.pattern, 'g');
    } catch (error) {
      problems.push(
        `security.redaction.patterns[${index}] (${entry.name}): not a regular expression: ${(error as Error).message}`,
      );
    }
  });
  for (const [list, values] of [
    ['allowList', config.security.allowList],
    ['denyList', config.security.denyList],
  ] as const) {
    for (const value of values) {
      if (!parseRange(value)) problems.push(`security.${list}: ${value} is not an IP address or CIDR range`);
    }
  }
  const slugs = new Set<string>();
  for (const provider of config.federation.providers) {
    if (slugs.has(provider.slug)) problems.push(`federation.providers: ${provider.slug} is listed twice`);
    slugs.add(provider.slug);
    for (const problem of providerProblems(provider)) {
      problems.push(`federation.providers (${provider.slug}): ${problem}`);
    }
  }
  if (!production) return;
  if (config.federation.allowInsecureIssuers) {
    problems.push('federation.allowInsecureIssuers: http:// identity providers are refused in production');
  }
  if (!config.secrets.key && !config.secrets.keyFile) {
    problems.push(
      'secrets.key: required in production (set GATEHOUSE_SECRET_KEY or GATEHOUSE_SECRET_KEY_FILE)',
    );
  }
  const publicUrl = new URL(config.server.publicUrl);
  if (publicUrl.protocol === 'http:' && !isLocalHost(publicUrl.hostname)) {
    problems.push('server.publicUrl: must be https:// in production (http:// is allowed only for localhost)');
  }
  for (const [path, value] of [
    ['secrets.key', config.secrets.key],
    ['health.token', config.health.token],
    ['metrics.token', config.metrics.token],
  ] as const) {
    if (value !== undefined && EXAMPLE_SECRETS.has(value)) {
      problems.push(`${path}: is the example value from the documentation; generate your own`);
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Builds the configuration from defaults < config file (GATEHOUSE_CONFIG) < environment < overrides,
 * validates it once and freezes it. Throws ConfigError listing every problem with its setting path.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? {};
  const problems: string[] = [];
  const sources = ['defaults'];

  let merged: Json = {};
  const file = env.GATEHOUSE_CONFIG;
  if (file) {
    merged = deepMerge(merged, readConfigFile(file, problems));
    sources.push(`file ${file}`);
  }
  const fromEnv = readEnvironment(env, problems);
  if (Object.keys(fromEnv).length > 0) sources.push('environment');
  merged = deepMerge(merged, fromEnv);
  if (options.overrides) {
    merged = deepMerge(merged, options.overrides);
    sources.push('overrides');
  }

  const value = Value.Default(ConfigSchema, structuredClone(merged)) as Json;
  validate(value, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  const typed = value as unknown as Omit<Config, 'sources'>;
  const server = typed.server;
  const publicUrl = (server.publicUrl ?? `http://localhost:${server.port}`).replace(/\/+$/, '');
  const config = {
    ...typed,
    server: { ...server, publicUrl },
    database: {
      ...typed.database,
      url: typed.database.url ?? `sqlite:${join(typed.dataDir, 'gatehouse.db')}`,
    },
    sources,
  } as Config;
  checkSafety(config, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

/** A copy of the configuration with every secret replaced, for printing. */
export function maskSecrets(config: Config): unknown {
  const mask = (value: unknown, schema: TSchema | undefined): unknown => {
    if (value === undefined) return value;
    if (schema && (schema.secret || schema.anyOf?.some((branch: TSchema) => branch.secret))) {
      return typeof value === 'string' ? maskSecretString(value) : '********';
    }
    if (Array.isArray(value)) {
      const items = (schema as { items?: TSchema } | undefined)?.items;
      return value.map((item) => mask(item, items));
    }
    if (isObject(value)) {
      const properties = (schema as { properties?: Record<string, TSchema> } | undefined)?.properties ?? {};
      return Object.fromEntries(
        Object.entries(value).map(([key, child]) => [key, mask(child, properties[key])]),
      );
    }
    return value;
  };
  return mask(config, ConfigSchema);
}

/** URLs keep their scheme and host so an operator can see where they point; other secrets show nothing. */
function maskSecretString(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'sqlite:') return value;
    if (url.password) url.password = '********';
    return url.toString();
  } catch {
    return '********';
  }
}
