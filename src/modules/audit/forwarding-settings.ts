import { FormatRegistry, type Static, Type } from '@sinclair/typebox';

// Settings are checked with TypeBox's Value.Errors, which rejects a format it does not know ("Unknown format
// 'uri'"). Register the one used here unless something else already has.
if (!FormatRegistry.Has('uri')) FormatRegistry.Set('uri', (value) => URL.canParse(value));

/** Printable US-ASCII without spaces: what RFC 5424 allows in header fields. */
const PRINTABLE_ASCII = '^[\\x21-\\x7e]+$';

/**
 * Copies of committed audit events sent to external collectors. The events are safe in the database before
 * any forwarder sees them; forwarding is best effort and never slows the audit log down.
 */
export const AuditForwardingSettingsSchema = Type.Object(
  {
    stdout: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description:
            'One JSON line per event ({"type":"gatehouse.audit",...}) on standard output, for log shippers.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    syslog: Type.Object(
      {
        enabled: Type.Boolean({ default: false, description: 'RFC 5424 messages to a syslog collector.' }),
        host: Type.String({ minLength: 1, default: '127.0.0.1' }),
        port: Type.Integer({
          minimum: 1,
          maximum: 65535,
          default: 514,
          errorMessage: 'must be a port number (1-65535)',
        }),
        protocol: Type.Union([Type.Literal('udp'), Type.Literal('tcp')], {
          default: 'udp',
          errorMessage: 'must be udp or tcp',
          description: 'udp: one datagram per event (RFC 5426). tcp: octet-counted frames (RFC 6587).',
        }),
        facility: Type.Integer({
          minimum: 0,
          maximum: 23,
          default: 10,
          errorMessage: 'must be a syslog facility code (0-23)',
          description: 'Syslog facility code; 10 is authpriv. Severity follows the event (critical is crit).',
        }),
        appName: Type.String({
          minLength: 1,
          maxLength: 48,
          pattern: PRINTABLE_ASCII,
          default: 'gatehouse',
          errorMessage: 'must be 1-48 printable ASCII characters without spaces',
        }),
        hostname: Type.Optional(
          Type.String({
            minLength: 1,
            maxLength: 255,
            pattern: PRINTABLE_ASCII,
            errorMessage: 'must be 1-255 printable ASCII characters without spaces',
            description: "The HOSTNAME field; defaults to the machine's host name.",
          }),
        ),
        timeoutMs: Type.Integer({
          minimum: 100,
          default: 5_000,
          description: 'How long connecting to or writing to the collector may take before the send fails.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    webhook: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description: 'POST batches of events as JSON ({"events":[...]}) to an HTTPS endpoint.',
        }),
        url: Type.Optional(
          Type.String({
            format: 'uri',
            maxLength: 2_000,
            secret: true,
            errorMessage: 'must be an http:// or https:// URL',
            description: 'Required when the webhook is enabled.',
          }),
        ),
        secret: Type.Optional(
          Type.String({
            minLength: 16,
            secret: true,
            errorMessage: 'must be at least 16 characters',
            description:
              'Signs each request: Gatehouse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">.',
          }),
        ),
        timeoutMs: Type.Integer({ minimum: 100, default: 5_000 }),
      },
      { default: {}, additionalProperties: false },
    ),
    maxAttempts: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 5,
      description: 'Attempts per batch (a job per forwarder) before the job is dead (it can be replayed).',
    }),
    retryBaseMs: Type.Integer({
      minimum: 1,
      default: 500,
      description:
        'First retry delay; each further retry waits about twice as long (with jitter, at most 5 minutes).',
    }),
  },
  { default: {}, additionalProperties: false },
);

export type AuditForwardingSettings = Static<typeof AuditForwardingSettingsSchema>;
export type SyslogForwarderSettings = AuditForwardingSettings['syslog'];
export type WebhookForwarderSettings = AuditForwardingSettings['webhook'];
