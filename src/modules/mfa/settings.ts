import { type Static, Type } from '@sinclair/typebox';
import { Seconds } from '../../config/fields.js';

export const MfaSettingsSchema = Type.Object(
  {
    enforce: Type.Union([Type.Literal('off'), Type.Literal('admins'), Type.Literal('all')], {
      default: 'off',
      errorMessage: 'must be off, admins or all',
      description:
        'Who must have a second factor: users without one are sent to enrolment at their next sign-in. Single users can be required by an administrator too.',
    }),
    recentAuthSeconds: Seconds(
      300,
      'Adding, removing or disabling a factor needs a sign-in or re-authentication at most this old.',
    ),
    pendingLoginTtlSeconds: Seconds(300, 'How long a correct password waits for its second factor.'),
    maxAttempts: Type.Integer({
      minimum: 1,
      maximum: 20,
      default: 5,
      description: 'Wrong second factors per pending sign-in (and per e-mail or SMS code) before it is void.',
    }),
    codeTtlSeconds: Seconds(600, 'How long an e-mail or SMS code works.'),
    codeResendSeconds: Seconds(30, 'Minimum time between two codes sent to one method.', 0),
    backupCodeCount: Type.Integer({ minimum: 5, maximum: 20, default: 10 }),
    totp: Type.Object(
      {
        issuer: Type.Optional(
          Type.String({
            minLength: 1,
            description: 'Shown in authenticator apps; defaults to accounts.productName.',
          }),
        ),
        window: Type.Integer({
          minimum: 0,
          maximum: 2,
          default: 1,
          description: 'Time steps accepted before and after the current one (RFC 6238 §5.2).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    webauthn: Type.Object(
      {
        rpId: Type.Optional(
          Type.String({
            minLength: 1,
            description: 'Relying party ID; defaults to the host of server.publicUrl.',
          }),
        ),
        origins: Type.Array(Type.String({ pattern: '^https?://[^/]+$', errorMessage: 'must be an origin' }), {
          default: [],
          description: 'Origins allowed to run ceremonies; defaults to the origin of server.publicUrl.',
        }),
        attestation: Type.Union([Type.Literal('none'), Type.Literal('direct')], {
          default: 'none',
          errorMessage: 'must be none or direct',
        }),
        userVerification: Type.Union(
          [Type.Literal('required'), Type.Literal('preferred'), Type.Literal('discouraged')],
          {
            default: 'preferred',
            description:
              'For passkeys used as a second factor. Passwordless sign-in always requires user verification.',
          },
        ),
        challengeTtlSeconds: Seconds(300, 'How long a WebAuthn challenge can be answered.'),
      },
      { default: {}, additionalProperties: false },
    ),
    rememberDevice: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description: 'Offer "remember this device" after a second factor.',
        }),
        days: Type.Integer({ minimum: 1, maximum: 365, default: 30 }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { default: {}, additionalProperties: false },
);

export type MfaSettings = Static<typeof MfaSettingsSchema>;
