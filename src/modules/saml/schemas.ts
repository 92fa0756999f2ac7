import { type Static, Type } from '@sinclair/typebox';
import { forPatches } from '../../platform/http/schemas.js';

const Iso = Type.String({ format: 'date-time' });
const Url = Type.String({ format: 'uri', maxLength: 1000 });
// `idp` is taken: /saml/idp/… are Gatehouse's own identity-provider endpoints.
const Slug = Type.String({
  pattern: '^(?!idp$)[a-z0-9][a-z0-9-]{0,39}$',
  description: 'Used in URLs (/login/saml/<slug>); not "idp"',
});

const IdpSchema = Type.Object(
  {
    entityId: Type.String({ minLength: 1, maxLength: 1000 }),
    ssoUrl: Url,
    sloUrl: Type.Optional(Url),
    certificates: Type.Array(Type.String({ minLength: 100, maxLength: 20_000 }), {
      minItems: 1,
      maxItems: 5,
    }),
  },
  { additionalProperties: false },
);

const SamlMapping = Type.Object(
  {
    email: Type.Optional(
      Type.String({ maxLength: 200, description: 'Attribute with the e-mail (else the NameID)' }),
    ),
    name: Type.Optional(Type.String({ maxLength: 200 })),
    groups: Type.Optional(Type.String({ maxLength: 200 })),
    roles: Type.Optional(Type.Record(Type.String({ maxLength: 200 }), Type.String({ maxLength: 100 }))),
  },
  { additionalProperties: false },
);

export const ConnectionBody = Type.Object(
  {
    slug: Slug,
    name: Type.String({ minLength: 1, maxLength: 100 }),
    organizationId: Type.Optional(
      Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Null()], {
        description: 'Organization id or slug; null for none',
      }),
    ),
    metadataXml: Type.Optional(Type.String({ minLength: 50, maxLength: 200_000 })),
    metadataUrl: Type.Optional(Url),
    idp: Type.Optional(IdpSchema),
    allowIdpInitiated: Type.Boolean({ default: false }),
    domains: Type.Array(Type.String({ pattern: '^[a-z0-9.-]{1,253}$' }), {
      default: [],
      maxItems: 50,
      description:
        'E-mail domains this connection may sign in; its addresses count as verified only within them',
    }),
    autoLink: Type.Boolean({ default: false }),
    allowSignup: Type.Boolean({ default: true }),
    enabled: Type.Boolean({ default: true }),
    mapping: Type.Optional(SamlMapping),
  },
  { additionalProperties: false },
);
export type ConnectionInput = Static<typeof ConnectionBody>;
export const ConnectionPatch = forPatches(
  Type.Partial(Type.Omit(ConnectionBody, ['slug']), { additionalProperties: false, minProperties: 1 }),
);

export const ConnectionSchema = Type.Object(
  {
    id: Type.String(),
    slug: Type.String(),
    name: Type.String(),
    organizationId: Type.Optional(Type.String()),
    idp: IdpSchema,
    metadataUrl: Type.Optional(Type.String()),
    allowIdpInitiated: Type.Boolean(),
    domains: Type.Array(Type.String()),
    autoLink: Type.Boolean(),
    allowSignup: Type.Boolean(),
    enabled: Type.Boolean(),
    mapping: SamlMapping,
    spEntityId: Type.String({ description: 'Give these three to the identity provider' }),
    acsUrl: Type.String(),
    metadataUrlForIdp: Type.String({ description: 'Our service-provider metadata' }),
    signInUrl: Type.String(),
    createdAt: Iso,
    updatedAt: Iso,
  },
  { title: 'SamlConnection' },
);
export const ConnectionParams = Type.Object({ connectionId: Type.String({ minLength: 1, maxLength: 64 }) });
export const ConnectionResponse = Type.Object({ connection: ConnectionSchema });
export const ConnectionsResponse = Type.Object({ connections: Type.Array(ConnectionSchema) });

const AttributeSource = Type.Union(
  ['email', 'name', 'id', 'groups', 'roles'].map((source) => Type.Literal(source)),
);
export const AppBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    entityId: Type.String({ minLength: 1, maxLength: 1000 }),
    acsUrl: Url,
    nameIdFormat: Type.Union(
      [Type.Literal('email'), Type.Literal('persistent'), Type.Literal('unspecified')],
      {
        default: 'email',
      },
    ),
    attributes: Type.Record(Type.String({ pattern: '^[\\x21-\\x7e]{1,200}$' }), AttributeSource, {
      default: { email: 'email', name: 'name' },
      description: 'SAML attribute name → what it carries',
    }),
    signResponse: Type.Boolean({ default: true }),
    enabled: Type.Boolean({ default: true }),
  },
  { additionalProperties: false },
);
export type AppInput = Static<typeof AppBody>;
export const AppPatch = forPatches(Type.Partial(AppBody, { additionalProperties: false, minProperties: 1 }));
export const AppSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    entityId: Type.String(),
    acsUrl: Type.String(),
    nameIdFormat: Type.String(),
    attributes: Type.Record(Type.String(), Type.String()),
    signResponse: Type.Boolean(),
    enabled: Type.Boolean(),
    signInUrl: Type.String({ description: 'IdP-initiated sign-in to this app' }),
    createdAt: Iso,
    updatedAt: Iso,
  },
  { title: 'SamlApp' },
);
export const AppParams = Type.Object({ appId: Type.String({ minLength: 1, maxLength: 64 }) });
export const AppResponse = Type.Object({ app: AppSchema });
export const AppsResponse = Type.Object({
  apps: Type.Array(AppSchema),
  idp: Type.Object({ entityId: Type.String(), ssoUrl: Type.String(), metadataUrl: Type.String() }),
});
