import { type Static, Type } from '@sinclair/typebox';
import { Seconds } from '../../config/fields.js';

export const PRESETS = ['generic', 'google', 'microsoft', 'github', 'discord'] as const;
export type Preset = (typeof PRESETS)[number];

const Url = (description: string) => Type.String({ format: 'uri', maxLength: 500, description });

/** How an upstream account's claims become ours. Claim names are paths into the ID token and profile. */
export const AttributeMappingSchema = Type.Object(
  {
    email: Type.Optional(Type.String({ maxLength: 100, description: 'Claim with the e-mail address.' })),
    emailVerified: Type.Optional(
      Type.String({ maxLength: 100, description: 'Claim saying the address is verified (true/false).' }),
    ),
    name: Type.Optional(Type.String({ maxLength: 100, description: 'Claim with the display name.' })),
    picture: Type.Optional(Type.String({ maxLength: 100, description: 'Claim with a picture URL.' })),
    groups: Type.Optional(Type.String({ maxLength: 100, description: 'Claim with a list of groups.' })),
    subject: Type.Optional(
      Type.String({ maxLength: 100, description: 'Plain OAuth 2.0: the profile field with the user id.' }),
    ),
    roles: Type.Optional(
      Type.Record(Type.String({ maxLength: 200 }), Type.String({ maxLength: 100 }), {
        description: 'Upstream group → Gatehouse role, applied at every sign-in.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type AttributeMapping = Static<typeof AttributeMappingSchema>;

/** One upstream provider, as the config file and the admin API describe it. */
export const ProviderDefinitionSchema = Type.Object(
  {
    slug: Type.String({
      pattern: '^[a-z0-9][a-z0-9-]{0,39}$',
      description: 'Short name used in URLs (/login/federated/<slug>).',
      errorMessage: 'must be lower-case letters, digits and dashes (at most 40)',
    }),
    name: Type.String({
      minLength: 1,
      maxLength: 100,
      description: 'What the button says: "Continue with <name>".',
    }),
    preset: Type.Union(
      PRESETS.map((preset) => Type.Literal(preset)),
      { default: 'generic', description: 'Known providers fill in their endpoints and claims.' },
    ),
    protocol: Type.Optional(
      Type.Union([Type.Literal('oidc'), Type.Literal('oauth2')], {
        description:
          'generic only: OpenID Connect (discovery from the issuer) or plain OAuth 2.0 (endpoints).',
      }),
    ),
    issuer: Type.Optional(Url('OpenID Connect issuer; its discovery document gives the endpoints.')),
    tenant: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9.-]{1,100}$',
        description: 'microsoft: the Entra ID tenant id or domain.',
      }),
    ),
    clientId: Type.String({ minLength: 1, maxLength: 300 }),
    clientSecret: Type.Optional(Type.String({ minLength: 1, maxLength: 500, secret: true })),
    scopes: Type.Optional(Type.Array(Type.String({ pattern: '^[\\x21-\\x7e]{1,100}$' }), { maxItems: 30 })),
    endpoints: Type.Optional(
      Type.Object(
        {
          authorization: Type.Optional(Url('Authorization endpoint.')),
          token: Type.Optional(Url('Token endpoint.')),
          userinfo: Type.Optional(Url('User info or profile endpoint.')),
          emails: Type.Optional(Url('github: the endpoint listing the user’s addresses.')),
        },
        { additionalProperties: false },
      ),
    ),
    mapping: Type.Optional(AttributeMappingSchema),
    autoLink: Type.Boolean({
      default: false,
      description: 'Link to an existing account with the same e-mail when the provider says it is verified.',
    }),
    allowSignup: Type.Boolean({
      default: true,
      description: 'Create an account at a first sign-in (only while accounts.signup is open).',
    }),
    keepTokens: Type.Boolean({
      default: false,
      description: 'Keep the upstream tokens, sealed by the keyring.',
    }),
    enabled: Type.Boolean({ default: true }),
  },
  { additionalProperties: false },
);
export type ProviderDefinition = Static<typeof ProviderDefinitionSchema>;

export const FederationSettingsSchema = Type.Object(
  {
    providers: Type.Array(ProviderDefinitionSchema, {
      default: [],
      description: 'Upstream providers from configuration (read-only in the console).',
    }),
    flowTtlSeconds: Seconds(
      600,
      'How long a sign-in may stay at the upstream provider before it must start again.',
    ),
    timeoutMs: Type.Integer({
      minimum: 100,
      default: 10_000,
      description: 'Time limit of each call to an upstream provider (discovery, token, user info).',
    }),
    allowInsecureIssuers: Type.Boolean({
      default: false,
      description: 'Allow http:// providers (development and tests only; refused in production).',
    }),
  },
  { default: {}, additionalProperties: false },
);

export type FederationSettings = Static<typeof FederationSettingsSchema>;
