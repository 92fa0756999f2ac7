import { Type } from '@sinclair/typebox';

const Id = Type.String({ minLength: 1, maxLength: 64 });
const MethodType = Type.Union(
  [Type.Literal('totp'), Type.Literal('webauthn'), Type.Literal('email'), Type.Literal('sms')],
  {
    description:
      'totp: an authenticator app; webauthn: a passkey or security key; email, sms: a 6-digit code.',
  },
);
const FactorType = Type.Union([
  Type.Literal('totp'),
  Type.Literal('backup_code'),
  Type.Literal('email'),
  Type.Literal('sms'),
  Type.Literal('webauthn'),
]);
/** A PublicKeyCredential serialized by the browser (e.g. by @simplewebauthn/browser). */
const CredentialResponse = Type.Object(
  {
    id: Type.String({ maxLength: 1024 }),
    rawId: Type.String({ maxLength: 1024 }),
    type: Type.String(),
    response: Type.Object({}),
  },
  {
    additionalProperties: true,
    description: 'The JSON from navigator.credentials (startRegistration / startAuthentication).',
  },
);
const Code = Type.String({ minLength: 6, maxLength: 32, description: 'A 6-digit code or a backup code.' });
const Iso = Type.String({ format: 'date-time' });
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const MethodSchema = Type.Object(
  {
    id: Type.String(),
    type: MethodType,
    name: Type.String(),
    primary: Type.Boolean(),
    status: Type.Union([Type.Literal('pending'), Type.Literal('active')]),
    target: Nullable(Type.String()),
    createdAt: Iso,
    confirmedAt: Nullable(Iso),
    lastUsedAt: Nullable(Iso),
  },
  { title: 'MfaMethod' },
);

export const StatusResponse = Type.Object({
  enabled: Type.Boolean(),
  required: Type.Boolean({ description: 'A policy requires a second factor for this account.' }),
  primary: Nullable(Type.String()),
  methods: Type.Array(MethodSchema),
  backupCodesRemaining: Type.Integer(),
});
export const MethodsResponse = Type.Object({ methods: Type.Array(MethodSchema) });

export const EnrollBody = Type.Object(
  {
    type: MethodType,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    phone: Type.Optional(
      Type.String({
        pattern: '^\\+[1-9][0-9]{6,14}$',
        description: 'E.164, for sms.',
      }),
    ),
  },
  { additionalProperties: false },
);
const ChallengeSchema = Type.Object({
  type: FactorType,
  methodId: Nullable(Type.String()),
  sentTo: Type.Optional(Type.String({ description: 'Where the code went, masked.' })),
  expiresAt: Type.Optional(Iso),
  options: Type.Optional(Type.Unknown({ description: 'WebAuthn options for navigator.credentials.' })),
});
export const EnrollResponse = Type.Object({
  method: MethodSchema,
  totp: Type.Optional(
    Type.Object({
      uri: Type.String({ description: 'otpauth:// URI for authenticator apps.' }),
      qrCode: Type.String({ description: 'The URI as an SVG QR code (data URL).' }),
      secret: Type.String({ description: 'Base32, for typing into an app by hand.' }),
    }),
  ),
  webauthn: Type.Optional(Type.Object({ options: Type.Unknown() })),
  code: Type.Optional(ChallengeSchema),
});
export const ConfirmBody = Type.Object(
  { code: Type.Optional(Code), response: Type.Optional(CredentialResponse) },
  { additionalProperties: false, minProperties: 1 },
);
export const ConfirmResponse = Type.Object({
  method: MethodSchema,
  backupCodes: Type.Optional(
    Type.Array(Type.String(), {
      description: 'Shown once, when the first factor becomes active. Store them safely.',
    }),
  ),
});
export const MethodParams = Type.Object({ methodId: Id });
export const RenameBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100 }) },
  { additionalProperties: false },
);
export const PrimaryBody = Type.Object({ methodId: Id }, { additionalProperties: false });
export const BackupCodesResponse = Type.Object({
  codes: Type.Array(Type.String(), { description: 'Each works once; the previous set no longer works.' }),
});

export const ChallengeBody = Type.Object(
  { methodId: Type.Optional(Id), type: Type.Optional(FactorType) },
  { additionalProperties: false, minProperties: 1 },
);
export const ChallengeResponse = ChallengeSchema;
export const VerifyBody = Type.Object(
  {
    methodId: Type.Optional(Id),
    type: Type.Optional(FactorType),
    code: Type.Optional(Code),
    response: Type.Optional(CredentialResponse),
    rememberDevice: Type.Optional(
      Type.Boolean({ description: 'Skip the second factor on this browser for a while.' }),
    ),
  },
  { additionalProperties: false },
);
export const StepUpResponse = Type.Object({
  amr: Type.Array(Type.String()),
  acr: Type.String(),
  authTime: Iso,
});

export const PasskeyOptionsResponse = Type.Object({
  challengeId: Type.String(),
  options: Type.Unknown({
    description: 'For navigator.credentials.get (discoverable credentials, user verification required).',
  }),
  expiresAt: Iso,
});
export const PasskeyVerifyBody = Type.Object(
  { challengeId: Id, response: CredentialResponse, rememberDevice: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export const DeviceParams = Type.Object({ deviceId: Id });
export const UserParams = Type.Object({ userId: Id });
export const ResetResponse = Type.Object({ removed: Type.Integer({ description: 'Factors removed.' }) });
