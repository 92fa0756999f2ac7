import { type Static, Type } from '@sinclair/typebox';
import { AuditForwardingSettingsSchema } from './forwarding-settings.js';

const Days = (description: string) =>
  Type.Integer({
    minimum: 0,
    maximum: 36_500,
    default: 0,
    description: `${description} 0 keeps them forever.`,
  });

export const AuditSettingsSchema = Type.Object(
  {
    writer: Type.Object(
      {
        maxBuffer: Type.Integer({
          minimum: 100,
          maximum: 1_000_000,
          default: 50_000,
          description:
            'Events waiting to be written before new requests get 503 until the writer catches up.',
        }),
        maxBatch: Type.Integer({
          minimum: 1,
          maximum: 5_000,
          default: 500,
          description:
            'Events per transaction. On SQLite a commit blocks the event loop while it runs (about 0.1 ms per event).',
        }),
        retryBaseMs: Type.Integer({ minimum: 1, default: 100 }),
        retryMaxMs: Type.Integer({ minimum: 1, default: 5_000 }),
        failingAfter: Type.Integer({
          minimum: 1,
          default: 3,
          description: 'Consecutive failed commits after which /health/ready reports the audit log as down.',
        }),
        shutdownFlushMs: Type.Integer({ minimum: 0, default: 10_000 }),
      },
      { default: {}, additionalProperties: false },
    ),
    checkpoints: Type.Object(
      {
        intervalSeconds: Type.Integer({
          minimum: 0,
          maximum: 86_400,
          default: 60,
          description: 'How often a signed tree head is made when the log grew; 0 turns the timer off.',
        }),
        exportFile: Type.Optional(
          Type.String({
            minLength: 1,
            description:
              'Appends every new checkpoint as a JSON line to this file (keep it off the database host).',
          }),
        ),
        exportWebhookUrl: Type.Optional(
          Type.String({ format: 'uri', description: 'POSTs every new checkpoint (JSON) to this URL.' }),
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    retention: Type.Object(
      {
        low: Days('Days to keep the content of low-severity events.'),
        medium: Days('Days to keep the content of medium-severity events.'),
        high: Days('Days to keep the content of high-severity events.'),
        critical: Days('Days to keep the content of critical events.'),
      },
      {
        default: {},
        additionalProperties: false,
        description:
          'Retention clears the content of old events (who, where, details) and keeps their position, time, name, severity and hash, so the log stays verifiable.',
      },
    ),
    forwarding: AuditForwardingSettingsSchema,
  },
  { default: {}, additionalProperties: false },
);

export type AuditSettings = Static<typeof AuditSettingsSchema>;
