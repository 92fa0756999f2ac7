import { type Static, Type } from '@sinclair/typebox';
import { Seconds } from '../../config/fields.js';

export const OidcSettingsSchema = Type.Object(
  {
    accessTokenTtlSeconds: Seconds(3_600, 'Lifetime of access tokens (opaque and JWT).'),
    idTokenTtlSeconds: Seconds(3_600, 'Lifetime of ID tokens.'),
    refreshTokenTtlSeconds: Seconds(1_209_600, 'Lifetime of refresh tokens (they rotate on every use).'),
    allowPrivateNetworkCalls: Type.Boolean({
      default: false,
      description:
        'Let outgoing calls (back-channel logout, client jwks_uri) reach private and loopback addresses. Off: such calls are refused, against server-side request forgery.',
    }),
  },
  { default: {}, additionalProperties: false },
);

export type OidcSettings = Static<typeof OidcSettingsSchema>;
