import { Type } from '@sinclair/typebox';

const Url = Type.String({ format: 'uri', maxLength: 2000 });
const Grant = Type.Union([
  Type.Literal('authorization_code'),
  Type.Literal('refresh_token'),
  Type.Literal('client_credentials'),
  Type.Literal('urn:ietf:params:oauth:grant-type:device_code'),
]);

export const ClientSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    enabled: Type.Boolean(),
    firstParty: Type.Boolean(),
    public: Type.Boolean(),
    grants: Type.Array(Type.String()),
    redirectUris: Type.Array(Type.String()),
    postLogoutRedirectUris: Type.Array(Type.String()),
    backchannelLogoutUri: Type.Union([Type.String(), Type.Null()]),
    scopes: Type.Array(Type.String()),
    tokenEndpointAuthMethod: Type.String(),
    accessTokenTtlSeconds: Type.Union([Type.Integer(), Type.Null()]),
    refreshTokenTtlSeconds: Type.Union([Type.Integer(), Type.Null()]),
    idTokenSigningAlg: Type.String(),
    authzClaims: Type.Array(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { title: 'OAuthClient' },
);

export const ClientBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    grants: Type.Array(Grant, { minItems: 1, uniqueItems: true }),
    redirectUris: Type.Optional(Type.Array(Url, { maxItems: 20 })),
    postLogoutRedirectUris: Type.Optional(Type.Array(Url, { maxItems: 20 })),
    backchannelLogoutUri: Type.Optional(Url),
    public: Type.Optional(
      Type.Boolean({ description: 'A browser or native app without a secret (PKCE only).' }),
    ),
    tokenEndpointAuthMethod: Type.Optional(
      Type.Union([
        Type.Literal('client_secret_basic'),
        Type.Literal('client_secret_post'),
        Type.Literal('private_key_jwt'),
        Type.Literal('none'),
      ]),
    ),
    jwksUri: Type.Optional(Url),
    scopes: Type.Optional(
      Type.Array(Type.String({ pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' }), { maxItems: 100 }),
    ),
    firstParty: Type.Optional(Type.Boolean({ description: 'Trusted: users are not asked for consent.' })),
    authzClaims: Type.Optional(
      Type.Array(Type.Union([Type.Literal('roles'), Type.Literal('groups'), Type.Literal('permissions')]), {
        uniqueItems: true,
        description:
          "Put the user's roles, groups or permissions in ID tokens, userinfo and JWT access tokens",
      }),
    ),
    idTokenSigningAlg: Type.Optional(
      Type.Union([Type.Literal('ES256'), Type.Literal('RS256'), Type.Literal('EdDSA')], {
        description: 'How ID tokens for this client are signed; EdDSA needs oidc.enableEdDSA.',
      }),
    ),
    accessTokenTtlSeconds: Type.Optional(
      Type.Integer({ minimum: 60, maximum: 86_400, description: 'Access token lifetime for this client.' }),
    ),
    refreshTokenTtlSeconds: Type.Optional(
      Type.Integer({
        minimum: 300,
        maximum: 31_536_000,
        description: 'Refresh token lifetime for this client.',
      }),
    ),
  },
  { additionalProperties: false },
);
export const PatchClientBody = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    redirectUris: Type.Optional(Type.Array(Url, { maxItems: 20 })),
    postLogoutRedirectUris: Type.Optional(Type.Array(Url, { maxItems: 20 })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export const ClientParams = Type.Object({ clientId: Type.String({ minLength: 1, maxLength: 100 }) });
export const ClientResponse = Type.Object({ client: ClientSchema });
export const ClientsResponse = Type.Object({ clients: Type.Array(ClientSchema) });
export const CreatedClientResponse = Type.Object({
  client: ClientSchema,
  secret: Type.Optional(Type.String({ description: 'Shown only now; Gatehouse keeps a keyed hash.' })),
});

const Scope = Type.String({ pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$', maxLength: 200 });
export const ResourceSchema = Type.Object(
  {
    id: Type.String(),
    identifier: Type.String(),
    name: Type.String(),
    scopes: Type.Array(Type.String()),
    accessTokenTtlSeconds: Type.Union([Type.Integer(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'ApiResource' },
);
export const ResourceBody = Type.Object(
  {
    identifier: Type.String({
      format: 'uri',
      maxLength: 500,
      description: 'The audience, e.g. https://api.example.com',
    }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    scopes: Type.Array(Scope, { minItems: 1, maxItems: 100, uniqueItems: true }),
    accessTokenTtlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 86_400 })),
  },
  { additionalProperties: false },
);
export const ResourceParams = Type.Object({ resourceId: Type.String({ minLength: 1, maxLength: 64 }) });
export const ResourceResponse = Type.Object({ resource: ResourceSchema });
export const ResourcesResponse = Type.Object({ resources: Type.Array(ResourceSchema) });

export const ConnectedAppSchema = Type.Object(
  {
    clientId: Type.String(),
    name: Type.String(),
    scopes: Type.Array(Type.String(), {
      description: 'OpenID scopes allowed (openid, email, profile, offline_access)',
    }),
    apis: Type.Array(Type.Object({ identifier: Type.String(), scopes: Type.Array(Type.String()) })),
    grantedAt: Type.String({ format: 'date-time' }),
  },
  { title: 'ConnectedApp' },
);
export const ConnectedAppsResponse = Type.Object({ apps: Type.Array(ConnectedAppSchema) });
export const ConnectedAppParams = Type.Object({ clientId: Type.String({ minLength: 1, maxLength: 100 }) });
