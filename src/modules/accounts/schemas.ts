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
export const LoginResponse = Type.Object({
  status: Type.Literal('ok'),
  user: UserSchema,
  csrfToken: Type.String({
    description: 'Send as X-CSRF-Token on state-changing requests made with the session cookie.',
  }),
  expiresAt: Type.String({ format: 'date-time' }),
});
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
    amr: Type.Array(Type.String()),
    authTime: Type.String({ format: 'date-time' }),
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
export const SessionsResponse = Type.Object({ sessions: Type.Array(SessionSchema) });
export const RevokedResponse = Type.Object({ revoked: Type.Integer() });
export const SessionParams = Type.Object({ sessionId: Type.String({ maxLength: 64 }) });
export const ExportResponse = Type.Object({
  exportedAt: Type.String({ format: 'date-time' }),
  profile: UserSchema,
  sessions: Type.Array(SessionSchema),
  hasPassword: Type.Boolean(),
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
  },
  { additionalProperties: false, minProperties: 1 },
);
export const InvitationResponse = Type.Object({
  status: Type.Literal('sent'),
  expiresAt: Type.String({ format: 'date-time' }),
});
