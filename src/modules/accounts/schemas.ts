import { Type } from '@sinclair/typebox';

const Email = Type.String({ format: 'email', maxLength: 254, description: 'Compared case-insensitively.' });
/** The length rules (and their messages) live in the password policy; this bound only stops abuse. */
const Password = Type.String({ minLength: 1, maxLength: 4096 });
const Token = Type.String({ minLength: 20, maxLength: 200 });
const Name = Type.String({ minLength: 1, maxLength: 200 });
const Metadata = Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), {
  description: 'Free-form JSON object for the application; not used by Gatehouse.',
  maxProperties: 50,
});

export const UserSchema = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    emailVerified: Type.Boolean(),
    name: Type.Union([Type.String(), Type.Null()]),
    status: Type.Union([Type.Literal('active'), Type.Literal('disabled'), Type.Literal('locked')]),
    isAdmin: Type.Boolean(),
    metadata: Type.Record(Type.String(), Type.Unknown()),
    lockedUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    passwordResetRequired: Type.Boolean(),
    mfaRequired: Type.Boolean({ description: 'An administrator requires a second factor for this account.' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    lastLoginAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { title: 'User' },
);

export const SignupBody = Type.Object(
  { email: Email, password: Password, name: Type.Optional(Name), invitation: Type.Optional(Token) },
  { additionalProperties: false },
);
export const LoginBody = Type.Object(
  { email: Type.String({ maxLength: 254 }), password: Password },
  { additionalProperties: false },
);
const AmrSchema = Type.Array(Type.String(), {
  description: 'How the session was authenticated (RFC 8176): pwd, otp, hwk, swk, sms, email, mfa.',
});
const AcrSchema = Type.String({
  description: 'Assurance level: "1" one factor, "2" two factors, "3" phishing-resistant (passkey).',
});
export const SignedInResponse = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('mfa_enrollment_required')], {
      description: 'mfa_enrollment_required: the session can only enrol a second factor until one is active.',
    }),
    user: UserSchema,
    csrfToken: Type.String({
      description: 'Send as X-CSRF-Token on state-changing requests made with the session cookie.',
    }),
    expiresAt: Type.String({ format: 'date-time' }),
    amr: AmrSchema,
    acr: AcrSchema,
  },
  { title: 'SignedIn' },
);
export const MfaRequiredResponse = Type.Object(
  {
    status: Type.Literal('mfa_required'),
    methods: Type.Array(
      Type.Object({
        id: Type.String(),
        type: Type.Union([
          Type.Literal('totp'),
          Type.Literal('webauthn'),
          Type.Literal('email'),
          Type.Literal('sms'),
        ]),
        name: Type.String(),
        primary: Type.Boolean(),
      }),
    ),
    backupCodes: Type.Boolean({ description: 'Whether an unused backup code can be used instead.' }),
    expiresAt: Type.String({
      format: 'date-time',
      description: 'The pending sign-in (cookie) must be completed with /api/v1/auth/mfa/verify before this.',
    }),
  },
  { title: 'MfaRequired' },
);
export const LoginResponse = Type.Union([SignedInResponse, MfaRequiredResponse]);
export const ReauthenticatedResponse = Type.Object(
  { amr: AmrSchema, acr: AcrSchema, authTime: Type.String({ format: 'date-time' }) },
  { title: 'Reauthenticated' },
);
export const TokenBody = Type.Object({ token: Token }, { additionalProperties: false });
export const EmailBody = Type.Object({ email: Email }, { additionalProperties: false });
export const ResetConfirmBody = Type.Object(
  { token: Token, password: Password },
  { additionalProperties: false },
);
export const Accepted = Type.Object({ status: Type.Literal('accepted') });
export const UserResponse = Type.Object({ user: UserSchema });
export const MeResponse = Type.Object({
  user: UserSchema,
  csrfToken: Type.String(),
  session: Type.Object({
    id: Type.String(),
    amr: AmrSchema,
    acr: AcrSchema,
    authTime: Type.String({ format: 'date-time' }),
    restriction: Type.Union([Type.Literal('mfa_enrollment'), Type.Null()]),
  }),
});
export const UpdateMeBody = Type.Object(
  { name: Type.Optional(Type.Union([Name, Type.Null()])), metadata: Type.Optional(Metadata) },
  { additionalProperties: false, minProperties: 1 },
);
export const ChangePasswordBody = Type.Object(
  { currentPassword: Password, newPassword: Password },
  { additionalProperties: false },
);
export const ChangePasswordResponse = Type.Object({
  csrfToken: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
});
export const ChangeEmailBody = Type.Object(
  { newEmail: Email, password: Password },
  { additionalProperties: false },
);
export const PasswordBody = Type.Object({ password: Password }, { additionalProperties: false });

const Device = Type.Object({
  browser: Type.Optional(Type.String()),
  os: Type.Optional(Type.String()),
  platform: Type.Optional(Type.String()),
});
export const SessionSchema = Type.Object(
  {
    id: Type.String(),
    device: Device,
    ip: Type.Union([Type.String(), Type.Null()]),
    location: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    lastSeenAt: Type.String({ format: 'date-time' }),
    expiresAt: Type.String({ format: 'date-time' }),
    current: Type.Boolean(),
  },
  { title: 'Session' },
);
export const RememberedDeviceSchema = Type.Object(
  {
    id: Type.String(),
    device: Device,
    ip: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    expiresAt: Type.String({ format: 'date-time' }),
    current: Type.Boolean(),
  },
  { title: 'RememberedDevice' },
);
export const SessionsResponse = Type.Object({
  sessions: Type.Array(SessionSchema),
  rememberedDevices: Type.Optional(
    Type.Array(RememberedDeviceSchema, {
      description:
        'Browsers that skip the second factor ("remember this device"); revoke with DELETE /api/v1/me/remembered-devices/{id}.',
    }),
  ),
});
export const RevokedResponse = Type.Object({ revoked: Type.Integer() });
export const SessionParams = Type.Object({ sessionId: Type.String({ maxLength: 64 }) });
export const ExportResponse = Type.Object({
  exportedAt: Type.String({ format: 'date-time' }),
  profile: UserSchema,
  sessions: Type.Array(SessionSchema),
  hasPassword: Type.Boolean(),
  mfaMethods: Type.Array(
    Type.Object({
      id: Type.String(),
      type: Type.String(),
      name: Type.String(),
      status: Type.String(),
      target: Type.Union([Type.String(), Type.Null()]),
      createdAt: Type.String({ format: 'date-time' }),
      lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    }),
  ),
  rememberedDevices: Type.Array(RememberedDeviceSchema),
});

// ---- administration ----
export const UserParams = Type.Object({ userId: Type.String({ maxLength: 64 }) });
export const UserSessionParams = Type.Object({
  userId: Type.String({ maxLength: 64 }),
  sessionId: Type.String({ maxLength: 64 }),
});
export const ListUsersQuery = Type.Object(
  {
    query: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Part of the e-mail or name.' }),
    ),
    status: Type.Optional(
      Type.Union([Type.Literal('active'), Type.Literal('disabled'), Type.Literal('locked')]),
    ),
    cursor: Type.Optional(Type.String({ maxLength: 64, description: 'nextCursor from the previous page.' })),
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
  },
  { additionalProperties: false },
);
export const ListUsersResponse = Type.Object({
  users: Type.Array(UserSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export const AdminCreateUserBody = Type.Object(
  {
    email: Email,
    password: Password,
    name: Type.Optional(Name),
    isAdmin: Type.Optional(Type.Boolean()),
    emailVerified: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const AdminUpdateUserBody = Type.Object(
  {
    name: Type.Optional(Type.Union([Name, Type.Null()])),
    metadata: Type.Optional(Metadata),
    isAdmin: Type.Optional(Type.Boolean()),
    emailVerified: Type.Optional(Type.Boolean()),
    mfaRequired: Type.Optional(
      Type.Boolean({
        description: 'Require a second factor: the user is sent to enrolment at the next sign-in.',
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export const InvitationResponse = Type.Object({
  status: Type.Literal('sent'),
  expiresAt: Type.String({ format: 'date-time' }),
});
