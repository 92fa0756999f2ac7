import { Type } from '@sinclair/typebox';

export const BlockSchema = Type.Object(
  {
    id: Type.String(),
    kind: Type.Union([Type.Literal('ip'), Type.Literal('user_agent')]),
    value: Type.String(),
    source: Type.Union([Type.Literal('admin'), Type.Literal('automatic'), Type.Literal('honeypot')]),
    reason: Type.String(),
    createdBy: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    liftedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { title: 'Block' },
);

export const BlockBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('ip'), Type.Literal('user_agent')], {
      description: 'ip: an address or CIDR range (IPv4 or IPv6); user_agent: a case-insensitive substring',
    }),
    value: Type.String({ minLength: 2, maxLength: 100 }),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
    durationSeconds: Type.Optional(
      Type.Integer({ minimum: 60, maximum: 31_536_000, description: 'Absent: until lifted.' }),
    ),
  },
  { additionalProperties: false },
);

export const BlocksQuery = Type.Object(
  {
    active: Type.Boolean({ default: true, description: 'Only blocks in force (false: history too).' }),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
  },
  { additionalProperties: false },
);

export const BlockParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const BlocksResponse = Type.Object({ blocks: Type.Array(BlockSchema) });
export const BlockResponse = Type.Object({ block: BlockSchema });

export const SignInSchema = Type.Object(
  {
    id: Type.String(),
    at: Type.String({ format: 'date-time' }),
    outcome: Type.Union([
      Type.Literal('succeeded'),
      Type.Literal('failed'),
      Type.Literal('challenged'),
      Type.Literal('refused'),
    ]),
    method: Type.String({ description: 'How it was proven: pwd, pwd+otp, hwk+user… (RFC 8176 values)' }),
    ip: Type.String(),
    country: Type.Union([Type.String(), Type.Null()]),
    city: Type.Union([Type.String(), Type.Null()]),
    device: Type.Union([Type.String(), Type.Null()], { description: 'The user agent' }),
    score: Type.Integer({ minimum: 0, maximum: 100 }),
    reasons: Type.Array(Type.String()),
    action: Type.String({ description: 'allow, notify, mfa or deny' }),
  },
  { title: 'SignIn' },
);
export const SignInsResponse = Type.Object({ signIns: Type.Array(SignInSchema) });
export const UserParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const HistoryQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
    offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
  },
  { additionalProperties: false },
);

export const DecoySchema = Type.Object(
  {
    id: Type.String(),
    kind: Type.Union([
      Type.Literal('account'),
      Type.Literal('api_key'),
      Type.Literal('client'),
      Type.Literal('reset_link'),
    ]),
    label: Type.String(),
    objectId: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Decoy' },
);
export const DecoyBody = Type.Object(
  {
    kind: Type.Union([
      Type.Literal('account'),
      Type.Literal('api_key'),
      Type.Literal('client'),
      Type.Literal('reset_link'),
    ]),
    label: Type.String({
      minLength: 3,
      maxLength: 60,
      pattern: '^[a-z0-9][a-z0-9._-]*$',
      description:
        'Also the name of the decoy service account or client: make it look real (e.g. backup-sync).',
    }),
    email: Type.Optional(
      Type.String({ format: 'email', maxLength: 254, description: 'For an account decoy.' }),
    ),
  },
  { additionalProperties: false },
);
export const DecoysResponse = Type.Object({ decoys: Type.Array(DecoySchema) });
export const CreatedDecoyResponse = Type.Object({
  decoy: DecoySchema,
  credentials: Type.Record(Type.String(), Type.String(), {
    description: 'What to plant, shown once: email and password, apiKey, clientId and clientSecret, or url.',
  }),
});
