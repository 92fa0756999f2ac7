import { type Static, Type } from '@sinclair/typebox';
import { Seconds } from '../../config/fields.js';

export const SessionSettingsSchema = Type.Object(
  {
    idleTimeoutSeconds: Seconds(7_200, 'A session unused for this long ends (Keycloak: 30 minutes).'),
    absoluteTimeoutSeconds: Seconds(
      86_400,
      'A session ends this long after sign-in, used or not (Keycloak: 10 hours).',
    ),
    maxPerUser: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 10,
      description: 'Concurrent sessions per user.',
    }),
    onLimit: Type.Union([Type.Literal('evict-oldest'), Type.Literal('reject')], {
      default: 'evict-oldest',
      errorMessage: 'must be evict-oldest or reject',
    }),
    cacheTtlMs: Type.Integer({
      minimum: 0,
      default: 10_000,
      description:
        'How long a validated session is trusted from memory; revocation evicts it at once on every node.',
    }),
    touchIntervalSeconds: Seconds(
      60,
      'Last-seen time and idle expiry are written at most this often per session.',
    ),
  },
  { default: {}, additionalProperties: false },
);

export type SessionSettings = Static<typeof SessionSettingsSchema>;
