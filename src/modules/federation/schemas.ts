import { Type } from '@sinclair/typebox';
import { forPatches, forRequests } from '../../platform/http/schemas.js';
import { AttributeMappingSchema, ProviderDefinitionSchema } from './settings.js';

const Iso = Type.String({ format: 'date-time' });

export const ProviderSchema = Type.Object(
  {
    id: Type.String(),
    slug: Type.String(),
    name: Type.String(),
    preset: Type.String(),
    protocol: Type.Union([Type.Literal('oidc'), Type.Literal('oauth2')]),
    source: Type.Union([Type.Literal('config'), Type.Literal('database')], {
      description: 'config: from the configuration file, read-only here',
    }),
    issuer: Type.Optional(Type.String()),
    tenant: Type.Optional(Type.String()),
    clientId: Type.String(),
    hasClientSecret: Type.Boolean({ description: 'The secret itself is never shown' }),
    scopes: Type.Array(Type.String()),
    endpoints: Type.Record(Type.String(), Type.String()),
    mapping: AttributeMappingSchema,
    autoLink: Type.Boolean(),
    allowSignup: Type.Boolean(),
    keepTokens: Type.Boolean(),
    enabled: Type.Boolean(),
    callbackUrl: Type.String({ description: 'Register this redirect URI at the provider' }),
    createdAt: Type.Optional(Iso),
    updatedAt: Type.Optional(Iso),
  },
  { title: 'IdentityProvider' },
);

export const ProviderBody = forRequests(ProviderDefinitionSchema);
export const ProviderPatch = forPatches(
  Type.Partial(Type.Omit(ProviderDefinitionSchema, ['slug']), {
    additionalProperties: false,
    minProperties: 1,
  }),
);
export const ProviderParams = Type.Object({ providerId: Type.String({ minLength: 1, maxLength: 64 }) });
export const ProviderResponse = Type.Object({ provider: ProviderSchema });
export const ProvidersResponse = Type.Object({ providers: Type.Array(ProviderSchema) });

export const SignInOptionsResponse = Type.Object({
  providers: Type.Array(
    Type.Object({
      slug: Type.String(),
      name: Type.String(),
      preset: Type.String(),
      url: Type.String({ description: 'Send the browser here to sign in (add ?next=/path to come back)' }),
    }),
  ),
});

export const IdentitySchema = Type.Object(
  {
    id: Type.String(),
    providerId: Type.String(),
    providerSlug: Type.Optional(Type.String()),
    providerName: Type.String(),
    email: Type.Optional(Type.String()),
    emailVerified: Type.Boolean(),
    name: Type.Optional(Type.String()),
    linkedAt: Iso,
    lastUsedAt: Type.Optional(Iso),
  },
  { title: 'LinkedAccount' },
);
export const IdentitiesResponse = Type.Object({ identities: Type.Array(IdentitySchema) });
export const IdentityParams = Type.Object({ identityId: Type.String({ minLength: 1, maxLength: 64 }) });
export const LinkParams = Type.Object({ slug: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,39}$' }) });
export const LinkResponse = Type.Object({
  url: Type.String({ description: 'Send the browser here; it comes back to the portal once linked' }),
});
