import { type Static, Type } from '@sinclair/typebox';
import { Count, Seconds } from '../../config/fields.js';

/**
 * Brute-force defaults, next to Keycloak's (whose detection is off until enabled; then 30 failures,
 * waits growing by 1 minute up to 15 minutes, failures forgotten after 12 hours, no permanent lock).
 */
export const LockoutSettingsSchema = Type.Object(
  {
    threshold: Count(5, 'Failed passwords in a row that lock the account (Keycloak: 30).'),
    durationSeconds: Seconds(900, 'First lock length (Keycloak: 60 s, growing).'),
    growthFactor: Type.Number({
      minimum: 1,
      maximum: 10,
      default: 2,
      description: 'Each further lock lasts this much longer.',
    }),
    maxDurationSeconds: Seconds(86_400, 'Longest temporary lock (Keycloak: 900 s).'),
    permanentAfter: Count(
      0,
      'Locks after which the account stays locked until an admin unlocks it; 0 = never (Keycloak: off).',
      0,
    ),
  },
  { default: {}, additionalProperties: false },
);

export const ThrottleSettingsSchema = Type.Object(
  {
    perIpFailures: Count(30, 'Failed sign-ins from one IP address within the window before it is throttled.'),
    perIpAccountFailures: Count(
      10,
      'Failed sign-ins for one e-mail from one IP within the window before that pair is throttled.',
    ),
    windowSeconds: Seconds(900, 'Throttle window and block length.'),
  },
  { default: {}, additionalProperties: false },
);

export const AccountSettingsSchema = Type.Object(
  {
    signup: Type.Union([Type.Literal('open'), Type.Literal('invite'), Type.Literal('closed')], {
      default: 'open',
      errorMessage: 'must be open, invite or closed',
    }),
    productName: Type.String({
      minLength: 1,
      default: 'Gatehouse',
      description: 'Shown in e-mails and pages.',
    }),
    branding: Type.Object(
      {
        primaryColor: Type.String({
          pattern: '^#[0-9a-fA-F]{6}$',
          default: '#2851a3',
          description:
            'Buttons and links on the sign-in pages, portal and console (#rrggbb; keep white text readable on it).',
        }),
        logoUrl: Type.Optional(
          Type.String({
            pattern: '^(/[^/\\s][^\\s]*|data:image/(png|svg\\+xml|webp);base64,[A-Za-z0-9+/=]+)$',
            maxLength: 100_000,
            description:
              'A logo above the sign-in pages: a path on this site or a data: URL (the pages load nothing from other origins).',
          }),
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    lockout: LockoutSettingsSchema,
    throttle: ThrottleSettingsSchema,
    verifyEmailTtlSeconds: Seconds(86_400, 'How long an e-mail verification link works.'),
    resetPasswordTtlSeconds: Seconds(3_600, 'How long a password reset link works.'),
    changeEmailTtlSeconds: Seconds(86_400, 'How long an e-mail change confirmation link works.'),
    invitationTtlSeconds: Seconds(604_800, 'How long an invitation link works.'),
    notifyNewSignIn: Type.Boolean({ default: true, description: 'E-mail the user after each sign-in.' }),
  },
  { default: {}, additionalProperties: false },
);

export type AccountSettings = Static<typeof AccountSettingsSchema>;
export type LockoutSettings = Static<typeof LockoutSettingsSchema>;
