import { type Static, Type } from '@sinclair/typebox';
import { Count } from '../../config/fields.js';

export const WebhookSettingsSchema = Type.Object(
  {
    timeoutMs: Type.Integer({
      minimum: 100,
      default: 10_000,
      description: 'How long one delivery waits for the endpoint to answer.',
    }),
    maxAttempts: Count(
      8,
      'Tries of one delivery (with backoff: about 4 minutes in all by default) before it is dead.',
    ),
  },
  { default: {}, additionalProperties: false },
);

export type WebhookSettings = Static<typeof WebhookSettingsSchema>;
