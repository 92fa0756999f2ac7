import { Type } from '@sinclair/typebox';

/** `resource:action`, `resource:*`, or `*`: lower-case words with dots, dashes and underscores. */
export const PermissionName = Type.String({
  pattern: '^(\\*|[a-z][a-z0-9._-]{0,63}:(\\*|[a-z][a-z0-9._-]{0,63}))$',
  maxLength: 129,
  description: 'resource:action, e.g. invoices:read (resource:* for every action)',
});
const Name = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,79}$',
  description: 'Letters, digits, . _ - and spaces',
});
const Description = Type.String({ maxLength: 500 });
const Id = Type.String({ minLength: 1, maxLength: 100 });

export const PageQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
  },
  { additionalProperties: false },
);

export const PermissionSchema = Type.Object(
  { name: Type.String(), description: Type.String(), builtin: Type.Boolean() },
  { title: 'Permission' },
);
export const PermissionBody = Type.Object(
  { name: PermissionName, description: Type.Optional(Description) },
  { additionalProperties: false },
);
export const PermissionParams = Type.Object({ permission: Type.String({ minLength: 1, maxLength: 129 }) });
export const PermissionResponse = Type.Object({ permission: PermissionSchema });
export const PermissionsResponse = Type.Object({ permissions: Type.Array(PermissionSchema) });

export const RoleSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    builtin: Type.Boolean(),
    permissions: Type.Array(Type.String()),
    includes: Type.Array(Type.String(), { description: 'Names of the roles this role includes' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Role' },
);
export const RoleBody = Type.Object(
  {
    name: Name,
    description: Type.Optional(Description),
    permissions: Type.Optional(Type.Array(PermissionName, { maxItems: 500, uniqueItems: true })),
    includes: Type.Optional(
      Type.Array(Id, { maxItems: 100, uniqueItems: true, description: 'Role names or ids' }),
    ),
  },
  { additionalProperties: false },
);
export const PatchRoleBody = Type.Object(
  {
    description: Type.Optional(Description),
    permissions: Type.Optional(Type.Array(PermissionName, { maxItems: 500, uniqueItems: true })),
    includes: Type.Optional(Type.Array(Id, { maxItems: 100, uniqueItems: true })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export const RoleParams = Type.Object({ role: Id });
export const RoleResponse = Type.Object({ role: RoleSchema });
export const RolesResponse = Type.Object({ roles: Type.Array(RoleSchema) });

export const GroupSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Group' },
);
export const GroupDetailSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
    members: Type.Array(Type.Object({ id: Type.String(), email: Type.String() })),
    parents: Type.Array(Type.String(), { description: 'Groups this group sits in' }),
    children: Type.Array(Type.String(), { description: 'Groups inside this one' }),
    roles: Type.Array(Type.String()),
  },
  { title: 'GroupDetail' },
);
export const GroupBody = Type.Object(
  { name: Name, description: Type.Optional(Description) },
  { additionalProperties: false },
);
export const GroupParams = Type.Object({ group: Id });
export const GroupMemberParams = Type.Object({ group: Id, userId: Id });
export const GroupParentParams = Type.Object({ group: Id, parent: Id });
export const GroupRoleParams = Type.Object({ group: Id, role: Id });
export const UserRoleParams = Type.Object({ userId: Id, role: Id });
export const UserParams = Type.Object({ userId: Id });
export const GroupResponse = Type.Object({ group: GroupSchema });
export const GroupDetailResponse = Type.Object({ group: GroupDetailSchema });
export const GroupsResponse = Type.Object({ groups: Type.Array(GroupSchema) });

export const AccessResponse = Type.Object(
  {
    roles: Type.Array(Type.String()),
    groups: Type.Array(Type.String()),
    permissions: Type.Array(Type.String()),
  },
  { title: 'EffectiveAccess' },
);

export const CheckRequest = Type.Object(
  {
    subject: Type.Object(
      { type: Type.Union([Type.Literal('user'), Type.Literal('service_account')]), id: Id },
      { additionalProperties: false, description: 'Who wants to act: a user or a service account' },
    ),
    action: PermissionName,
    organization: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'Decide within this organization (its id)' }),
    ),
    resource: Type.Optional(
      Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), {
        description: 'What is acted on (type, id, owner, attributes), for attribute policies',
      }),
    ),
    context: Type.Optional(
      Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), {
        description: 'Circumstances (time, IP, MFA), for attribute policies',
      }),
    ),
  },
  { additionalProperties: false },
);
export const CheckBody = CheckRequest;
export const CheckQuery = Type.Object(
  {
    explain: Type.Boolean({
      default: false,
      description: 'Also say which roles, groups and permissions counted',
    }),
  },
  { additionalProperties: false },
);
const DecisionSchema = Type.Object(
  {
    allowed: Type.Boolean(),
    reasons: Type.Array(Type.String()),
    matchedPolicies: Type.Array(Type.String()),
    explanation: Type.Optional(
      Type.Object({
        roles: Type.Array(Type.String()),
        groups: Type.Array(Type.String()),
        permissions: Type.Array(Type.String()),
      }),
    ),
  },
  { title: 'Decision' },
);
export const DecisionResponse = DecisionSchema;
export const BatchCheckBody = Type.Object(
  { checks: Type.Array(CheckRequest, { minItems: 1, maxItems: 100 }) },
  { additionalProperties: false },
);
export const BatchDecisionResponse = Type.Object({ results: Type.Array(DecisionSchema) });

export const ApiKeySchema = Type.Object(
  {
    id: Type.String(),
    prefix: Type.String({ description: 'gh_<id>: the public part, to recognise the key' }),
    name: Type.String(),
    principal: Type.Object({ type: Type.String(), id: Type.String() }),
    scopes: Type.Array(Type.String(), {
      description: 'Permissions the key is limited to; empty: all of its principal',
    }),
    expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    lastUsedIp: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { title: 'ApiKey' },
);
export const ApiKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    scopes: Type.Optional(Type.Array(PermissionName, { maxItems: 100, uniqueItems: true })),
    expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
  },
  { additionalProperties: false },
);
export const RotateApiKeyBody = Type.Object(
  {
    overlapSeconds: Type.Integer({
      minimum: 0,
      maximum: 604_800,
      default: 3_600,
      description: 'How long the old secret keeps working',
    }),
  },
  { additionalProperties: false },
);
export const ApiKeyParams = Type.Object({ keyId: Type.String({ pattern: '^[0-9a-f]{16}$' }) });
export const ApiKeysResponse = Type.Object({ keys: Type.Array(ApiKeySchema) });
export const CreatedApiKeyResponse = Type.Object({
  key: ApiKeySchema,
  token: Type.String({ description: 'The whole key, shown only now: gh_<id>_<secret>' }),
});

export const ServiceAccountSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    disabled: Type.Boolean(),
    roles: Type.Array(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'ServiceAccount' },
);
export const ServiceAccountBody = Type.Object(
  { name: Name, description: Type.Optional(Description) },
  { additionalProperties: false },
);
export const ServiceAccountParams = Type.Object({ serviceAccount: Id });
export const ServiceAccountRoleParams = Type.Object({ serviceAccount: Id, role: Id });
export const ServiceAccountKeyParams = Type.Object({
  serviceAccount: Id,
  keyId: Type.String({ pattern: '^[0-9a-f]{16}$' }),
});
export const ServiceAccountResponse = Type.Object({ serviceAccount: ServiceAccountSchema });
export const ServiceAccountsResponse = Type.Object({ serviceAccounts: Type.Array(ServiceAccountSchema) });

export const PolicySchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    text: Type.String({ description: 'One Cedar statement' }),
    version: Type.Integer(),
    enabled: Type.Boolean(),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Policy' },
);
export const PolicyDetailResponse = Type.Object({
  policy: Type.Object({
    ...PolicySchema.properties,
    versions: Type.Array(
      Type.Object({
        version: Type.Integer(),
        text: Type.String(),
        enabled: Type.Boolean(),
        changedBy: Type.Union([Type.String(), Type.Null()]),
        createdAt: Type.String({ format: 'date-time' }),
      }),
    ),
  }),
});
const PolicyName = Type.String({
  pattern: '^[a-z0-9][a-z0-9._-]{0,79}$',
  description: 'lower-case words with . _ -',
});
export const PolicyParams = Type.Object({ policy: Type.String({ minLength: 1, maxLength: 100 }) });
export const PolicyNameParams = Type.Object({ policy: PolicyName });
export const PolicyBody = Type.Object(
  {
    text: Type.String({
      minLength: 1,
      maxLength: 20_000,
      description: 'One Cedar statement (permit or forbid)',
    }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    enabled: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);
export const PolicyResponse = Type.Object({ policy: PolicySchema });
export const PoliciesResponse = Type.Object({ policies: Type.Array(PolicySchema) });
/** Cedar's JSON schema format (https://docs.cedarpolicy.com/schema/json-schema.html), passed through as is. */
export const PolicySchemaResponse = Type.Object({
  schema: Type.Record(Type.String(), Type.Unknown()),
});
export const PolicyTestBody = Type.Object(
  {
    policy: Type.Object(
      { name: PolicyName, text: Type.String({ minLength: 1, maxLength: 20_000 }) },
      { additionalProperties: false },
    ),
    request: CheckRequest,
  },
  { additionalProperties: false },
);
