import { type Static, Type } from '@sinclair/typebox';
import { AccountSettingsSchema } from '../modules/accounts/settings.js';
import { AuditSettingsSchema } from '../modules/audit/settings.js';
import { AuthzSettingsSchema } from '../modules/authz/settings.js';
import { BackupSettingsSchema } from '../modules/backup/settings.js';
import { FederationSettingsSchema } from '../modules/federation/settings.js';
import { MfaSettingsSchema } from '../modules/mfa/settings.js';
import { OidcSettingsSchema } from '../modules/oidc/settings.js';
import { PasswordSettingsSchema } from '../modules/passwords/settings.js';
import { SamlSettingsSchema } from '../modules/saml/settings.js';
import { SecuritySettingsSchema } from '../modules/security/settings.js';
import { SessionSettingsSchema } from '../modules/sessions/settings.js';
import { WebhookSettingsSchema } from '../modules/webhooks/settings.js';
import { JobSettingsSchema } from '../platform/jobs/settings.js';
import { MailSettingsSchema } from '../platform/mailer/settings.js';
import { OutboundSettingsSchema } from '../platform/outbound/settings.js';
import { SmsSettingsSchema } from '../platform/sms/settings.js';

/**
 * Every setting Gatehouse reads, in one schema; each feature defines its own section beside its code. Defaults are the safe ones.
 * `errorMessage` is shown instead of the validator's generic text when a value is rejected.
 * `secret: true` marks values that `gatehouse config check` masks.
 */
const Port = Type.Integer({ minimum: 0, maximum: 65535, errorMessage: 'must be a port number (0-65535)' });
const Milliseconds = Type.Integer({ minimum: 0, errorMessage: 'must be a whole number of milliseconds' });

export const ConfigSchema = Type.Object(
  {
    env: Type.Union([Type.Literal('development'), Type.Literal('test'), Type.Literal('production')], {
      default: 'development',
      errorMessage: 'must be development, test or production',
    }),
    dataDir: Type.String({
      minLength: 1,
      default: './data',
      description: 'Where the embedded database and generated files live.',
    }),
    server: Type.Object(
      {
        host: Type.String({ minLength: 1, default: 'localhost' }),
        port: Type.Union([Port], { default: 3000 }),
        publicUrl: Type.Optional(
          Type.String({
            pattern: '^https?://[^/?#]+(/[^?#]*)?$',
            errorMessage: 'must be an http:// or https:// URL without query or fragment',
          }),
        ),
        trustProxy: Type.Union(
          [Type.Boolean(), Type.Integer({ minimum: 0 }), Type.String({ minLength: 1 })],
          {
            default: false,
            errorMessage:
              'must be true, false, a hop count, or a comma-separated list of proxy addresses/CIDRs',
          },
        ),
        bodyLimitBytes: Type.Integer({
          minimum: 1024,
          default: 1_048_576,
          errorMessage: 'must be at least 1024 bytes',
        }),
        requestTimeoutMs: Type.Union([Milliseconds], { default: 30_000 }),
        keepAliveTimeoutMs: Type.Union([Milliseconds], { default: 72_000 }),
        shutdownTimeoutMs: Type.Union([Milliseconds], { default: 10_000 }),
        shutdownDelayMs: Type.Union([Milliseconds], {
          default: 0,
          description:
            'How long readiness reports 503 before the listener closes, so load balancers can drain.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    database: Type.Object(
      {
        url: Type.Optional(
          Type.String({
            pattern: '^(sqlite:.+|postgres(ql)?://.+)$',
            errorMessage: 'must be a sqlite: or postgres: URL',
            secret: true,
            description: 'Defaults to sqlite:<dataDir>/gatehouse.db.',
          }),
        ),
        readUrl: Type.Optional(
          Type.String({
            pattern: '^postgres(ql)?://.+$',
            errorMessage: 'must be a postgres: URL',
            secret: true,
          }),
        ),
        poolSize: Type.Integer({
          minimum: 1,
          maximum: 1000,
          default: 10,
          errorMessage: 'must be between 1 and 1000',
        }),
        migrateOnStart: Type.Boolean({ default: true }),
        slowQueryMs: Type.Union([Milliseconds], { default: 200 }),
        busyTimeoutMs: Type.Union([Milliseconds], { default: 5_000, description: 'SQLite only.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    redis: Type.Object(
      {
        url: Type.Optional(
          Type.String({
            pattern: '^rediss?://.+$',
            errorMessage: 'must be a redis:// or rediss:// URL',
            secret: true,
          }),
        ),
        sentinels: Type.Array(Type.String({ pattern: '^[^:]+:\\d+$', errorMessage: 'must be host:port' }), {
          default: [],
        }),
        sentinelName: Type.Optional(Type.String({ minLength: 1 })),
        clusterNodes: Type.Array(
          Type.String({ pattern: '^[^:]+:\\d+$', errorMessage: 'must be host:port' }),
          {
            default: [],
          },
        ),
        keyPrefix: Type.String({ default: 'gatehouse:' }),
        connectTimeoutMs: Type.Union([Milliseconds], { default: 5_000 }),
      },
      { default: {}, additionalProperties: false },
    ),
    secrets: Type.Object(
      {
        key: Type.Optional(
          Type.String({
            minLength: 1,
            secret: true,
            description: 'Master key: 32 bytes as 64 hex characters or base64/base64url.',
          }),
        ),
        keyFile: Type.Optional(Type.String({ minLength: 1 })),
        encryptionKeys: Type.Array(Type.String({ minLength: 3, secret: true }), {
          default: [],
          secret: true,
          description:
            'Keys for secrets stored encrypted (TOTP seeds), as id:key (32 bytes, 64 hex characters); the first encrypts, all decrypt. Empty: one key derived from the master key.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
          { default: 'info', errorMessage: 'must be one of fatal, error, warn, info, debug, trace, silent' },
        ),
        pretty: Type.Boolean({ default: false }),
      },
      { default: {}, additionalProperties: false },
    ),
    http: Type.Object(
      {
        corsOrigins: Type.Array(
          Type.String({
            pattern: '^(\\*|https?://[^/?#]+)$',
            errorMessage: 'must be * or an origin such as https://app.example.com',
          }),
          { default: [] },
        ),
        corsCredentials: Type.Boolean({ default: false }),
        compression: Type.Boolean({ default: true }),
        compressionThresholdBytes: Type.Integer({ minimum: 0, default: 1024 }),
        maxEventLoopDelayMs: Type.Integer({
          minimum: 0,
          default: 1_000,
          description: 'Above this event-loop lag requests get 503; 0 disables the check.',
        }),
        overloadRetryAfterSeconds: Type.Integer({ minimum: 1, default: 10 }),
      },
      { default: {}, additionalProperties: false },
    ),
    health: Type.Object(
      {
        token: Type.Optional(
          Type.String({ minLength: 16, errorMessage: 'must be at least 16 characters', secret: true }),
        ),
        checkTimeoutMs: Type.Integer({ minimum: 1, default: 2_000 }),
      },
      { default: {}, additionalProperties: false },
    ),
    metrics: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        token: Type.Optional(
          Type.String({ minLength: 16, errorMessage: 'must be at least 16 characters', secret: true }),
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    tracing: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description: 'Export OpenTelemetry traces (a server span per request) over OTLP/HTTP.',
        }),
        otlpEndpoint: Type.String({
          pattern: '^https?://[^/?#]+(/[^?#]*)?$',
          default: 'http://localhost:4318/v1/traces',
          errorMessage: 'must be an http:// or https:// URL without query or fragment',
          description: 'Where spans are sent (OTLP over HTTP, JSON): the full URL, /v1/traces included.',
        }),
        serviceName: Type.String({
          minLength: 1,
          default: 'gatehouse',
          description: 'The service.name resource attribute of every span.',
        }),
        sampleRatio: Type.Number({
          minimum: 0,
          maximum: 1,
          default: 1,
          errorMessage: 'must be a number from 0 to 1',
          description: 'Share of new traces kept; requests with a traceparent follow the caller.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    docs: Type.Object(
      { enabled: Type.Boolean({ default: true }) },
      { default: {}, additionalProperties: false },
    ),
    jobs: JobSettingsSchema,
    outbound: OutboundSettingsSchema,
    webhooks: WebhookSettingsSchema,
    backup: BackupSettingsSchema,
    accounts: AccountSettingsSchema,
    sessions: SessionSettingsSchema,
    passwords: PasswordSettingsSchema,
    mail: MailSettingsSchema,
    sms: SmsSettingsSchema,
    mfa: MfaSettingsSchema,
    oidc: OidcSettingsSchema,
    federation: FederationSettingsSchema,
    saml: SamlSettingsSchema,
    authz: AuthzSettingsSchema,
    security: SecuritySettingsSchema,
    audit: AuditSettingsSchema,
  },
  { additionalProperties: false },
);

type RawConfig = Static<typeof ConfigSchema>;

/** The validated configuration: deeply frozen, with derived values filled in. */
export type Config = Readonly<
  Omit<RawConfig, 'server' | 'database'> & {
    server: Readonly<RawConfig['server'] & { publicUrl: string }>;
    database: Readonly<RawConfig['database'] & { url: string }>;
    /** Where settings came from, for `config check`. */
    sources: readonly string[];
  }
>;
