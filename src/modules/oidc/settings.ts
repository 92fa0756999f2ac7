import { type Static, Type } from '@sinclair/typebox';
import { Seconds } from '../../config/fields.js';

export const OidcSettingsSchema = Type.Object(
  {
    accessTokenTtlSeconds: Seconds(3_600, 'Lifetime of access tokens (opaque and JWT).'),
    idTokenTtlSeconds: Seconds(3_600, 'Lifetime of ID tokens.'),
    refreshTokenTtlSeconds: Seconds(1_209_600, 'Lifetime of refresh tokens (they rotate on every use).'),
    refreshTokenReuseGraceSeconds: Type.Integer({
      default: 5,
      minimum: 0,
      maximum: 60,
      description:
        'Seconds after a refresh token is first used during which the same client may use it again (two refreshes racing). Later reuse revokes every token of the grant. 0 turns the window off.',
    }),
    enableEdDSA: Type.Boolean({
      default: false,
      description:
        'Also keep an Ed25519 (EdDSA) signing key, for clients registered with idTokenSigningAlg EdDSA. ES256 stays the default.',
    }),
    allowPrivateNetworkCalls: Type.Boolean({
      default: false,
      description:
        'Let outgoing calls (back-channel logout, client jwks_uri) reach private and loopback addresses. Off: such calls are refused, against server-side request forgery.',
    }),
  },
  { default: {}, additionalProperties: false },
);

export type OidcSettings = Static<typeof OidcSettingsSchema>;
