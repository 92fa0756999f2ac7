import { Type } from '@sinclair/typebox';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });
const SeverityEnum = Type.Union([
  Type.Literal('low'),
  Type.Literal('medium'),
  Type.Literal('high'),
  Type.Literal('critical'),
]);

export const AuditEventSchema = Type.Object(
  {
    seq: Type.Integer({ minimum: 0, description: 'Position in the log (the Merkle leaf index)' }),
    id: Type.String(),
    time: Type.String({ format: 'date-time' }),
    name: Type.String(),
    severity: SeverityEnum,
    outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
    actor: Type.Object({
      type: Type.Union([
        Type.Literal('user'),
        Type.Literal('client'),
        Type.Literal('api_key'),
        Type.Literal('system'),
        Type.Literal('anonymous'),
      ]),
      id: Nullable(Type.String()),
    }),
    target: Type.Union([Type.Object({ type: Type.String(), id: Type.String() }), Type.Null()]),
    organizationId: Nullable(Type.String()),
    ip: Nullable(Type.String()),
    userAgent: Nullable(Type.String()),
    requestId: Nullable(Type.String()),
    details: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], {
      description: 'Redacted facts; null once retention pruned the event',
    }),
  },
  { title: 'AuditEvent' },
);

const Name = Type.String({
  pattern: '^[a-z0-9_.]+\\*?$',
  maxLength: 100,
  description: 'An event name, or a prefix ending in `.` or `*` (auth. or auth.*)',
});

const filters = {
  from: Type.Optional(Type.String({ format: 'date-time', description: 'From this time (inclusive)' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Until this time (exclusive)' })),
  name: Type.Optional(Name),
  actor: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Actor id' })),
  target: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Target id' })),
  organization: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  severity: Type.Optional(Type.Array(SeverityEnum, { maxItems: 4, description: 'One or more (repeat it)' })),
  outcome: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('failure')])),
  ip: Type.Optional(Type.String({ minLength: 2, maxLength: 64 })),
};

export const AuditQuery = Type.Object(
  {
    ...filters,
    cursor: Type.Optional(
      Type.String({ pattern: '^[0-9]{1,15}$', description: 'nextCursor of the previous page' }),
    ),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  },
  { additionalProperties: false },
);

export const ExportQuery = Type.Object(
  { ...filters, format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson')], { default: 'ndjson' }) },
  { additionalProperties: false },
);

export const ActivityQuery = Type.Object(
  {
    name: Type.Optional(Name),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
  },
  { additionalProperties: false },
);

export const StatsQuery = Type.Object(
  {
    hours: Type.Integer({
      minimum: 1,
      maximum: 24 * 90,
      default: 24,
      description: 'The window, back from now',
    }),
    bucketMinutes: Type.Integer({
      minimum: 5,
      maximum: 24 * 60,
      default: 60,
      description: 'Width of each point of the time series',
    }),
  },
  { additionalProperties: false },
);

export const AuditPage = Type.Object({
  events: Type.Array(AuditEventSchema),
  nextCursor: Type.Optional(Type.String()),
});

export const CheckpointSchema = Type.Object(
  {
    treeSize: Type.Integer({ minimum: 1 }),
    rootHash: Hex,
    time: Type.Integer({ description: 'Epoch milliseconds (as signed)' }),
    keyId: Type.String(),
    signature: Type.String({ description: 'Ed25519 over the checkpoint message, base64url' }),
  },
  { title: 'AuditCheckpoint' },
);

export const PublicKeySchema = Type.Object({
  kty: Type.Literal('OKP'),
  crv: Type.Literal('Ed25519'),
  x: Type.String(),
  kid: Type.String(),
});

export const CheckpointsResponse = Type.Object({ checkpoints: Type.Array(CheckpointSchema) });
export const CheckpointResponse = Type.Object({ checkpoint: Type.Union([CheckpointSchema, Type.Null()]) });
export const KeysResponse = Type.Object({
  keys: Type.Array(Type.Object({ ...PublicKeySchema.properties, fingerprint: Type.String() })),
});

export const ProofParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const ProofQuery = Type.Object(
  { treeSize: Type.Optional(Type.Integer({ minimum: 1 })) },
  { additionalProperties: false },
);
export const InclusionResponse = Type.Object({
  kind: Type.Literal('inclusion'),
  event: AuditEventSchema,
  leafIndex: Type.Integer({ minimum: 0 }),
  leafData: Type.Union([Type.String(), Type.Null()], {
    description: 'The exact text the leaf hashes (null once pruned)',
  }),
  leafHash: Hex,
  checkpoint: CheckpointSchema,
  inclusionProof: Type.Array(Hex),
  publicKey: Type.Optional(PublicKeySchema),
});

export const ConsistencyQuery = Type.Object(
  { from: Type.Integer({ minimum: 1 }), to: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);
export const ConsistencyResponse = Type.Object({
  kind: Type.Literal('consistency'),
  from: CheckpointSchema,
  to: CheckpointSchema,
  consistencyProof: Type.Array(Hex),
  publicKeys: Type.Array(PublicKeySchema),
});

export const VerifyResponse = Type.Object({
  ok: Type.Boolean(),
  events: Type.Integer(),
  checkpoints: Type.Integer(),
  latestCheckpoint: Type.Optional(CheckpointSchema),
  uncheckpointed: Type.Integer(),
  findings: Type.Array(
    Type.Object({
      kind: Type.String(),
      seq: Type.Optional(Type.Integer()),
      id: Type.Optional(Type.String()),
      message: Type.String(),
    }),
  ),
});

export const StatsResponse = Type.Object({
  since: Type.String({ format: 'date-time' }),
  total: Type.Integer(),
  bySeverity: Type.Record(Type.String(), Type.Integer()),
  byName: Type.Array(
    Type.Object({
      name: Type.String(),
      severity: Type.String(),
      outcome: Type.String(),
      count: Type.Integer(),
    }),
  ),
  topIps: Type.Array(Type.Object({ ip: Type.String(), count: Type.Integer() })),
  series: Type.Array(
    Type.Object({
      start: Type.String({ format: 'date-time' }),
      counts: Type.Record(Type.String(), Type.Integer(), { description: 'Events by name in this bucket' }),
    }),
    { description: 'Buckets with at least one event, oldest first' },
  ),
});
