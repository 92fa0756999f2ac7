import { type Static, Type } from '@sinclair/typebox';
import { Seconds } from '../../config/fields.js';

export const OidcSettingsSchema = Type.Object(
  {
    accessTokenTtlSeconds: Seconds(3_600, 'Lifetime of access tokens (opaque and JWT).'),
    idTokenTtlSeconds: Seconds(3_600, 'Lifetime of ID tokens.'),
    refreshTokenTtlSeconds: Seconds(1_209_600, 'Lifetime of refresh tokens (they rotate on every use).'),
  },
  { default: {}, additionalProperties: false },
);

export type OidcSettings = Static<typeof OidcSettingsSchema>;
