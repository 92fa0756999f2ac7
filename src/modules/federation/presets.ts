import type { AttributeMapping, Preset, ProviderDefinition } from './settings.js';

/** What Gatehouse learns about a person from an upstream provider, whatever the protocol. */
export interface UpstreamProfile {
  readonly subject: string;
  readonly email?: string | undefined;
  /** Only true when the provider says so explicitly; an address it does not vouch for never links accounts. */
  readonly emailVerified: boolean;
  readonly name?: string | undefined;
  readonly picture?: string | undefined;
  readonly groups: readonly string[];
}

/** A provider with its preset applied: the endpoints, scopes and claim names to use. */
export interface ResolvedProvider {
  readonly protocol: 'oidc' | 'oauth2';
  readonly issuer?: string | undefined;
  readonly endpoints: {
    readonly authorization?: string | undefined;
    readonly token?: string | undefined;
    readonly userinfo?: string | undefined;
    readonly emails?: string | undefined;
  };
  readonly scopes: readonly string[];
  readonly mapping: AttributeMapping;
}

interface PresetDefaults {
  readonly protocol: 'oidc' | 'oauth2';
  readonly issuer?: (definition: ProviderDefinition) => string | undefined;
  readonly endpoints?: ResolvedProvider['endpoints'];
  readonly scopes: readonly string[];
  readonly mapping: AttributeMapping;
}

const OIDC_CLAIMS: AttributeMapping = {
  email: 'email',
  emailVerified: 'email_verified',
  name: 'name',
  picture: 'picture',
};

/**
 * The providers people ask for first. GitHub and Discord speak plain OAuth 2.0 (no ID token): the profile
 * comes from their user APIs. Microsoft's `email` claim is not verified by Microsoft, so it never links
 * accounts by itself.
 */
const PRESET_DEFAULTS: Record<Preset, PresetDefaults> = {
  generic: { protocol: 'oidc', scopes: ['openid', 'email', 'profile'], mapping: OIDC_CLAIMS },
  google: {
    protocol: 'oidc',
    issuer: () => 'https://accounts.google.com',
    scopes: ['openid', 'email', 'profile'],
    mapping: OIDC_CLAIMS,
  },
  microsoft: {
    protocol: 'oidc',
    issuer: (definition) =>
      definition.tenant ? `https://login.microsoftonline.com/${definition.tenant}/v2.0` : undefined,
    scopes: ['openid', 'email', 'profile'],
    mapping: { email: 'email', name: 'name' },
  },
  github: {
    protocol: 'oauth2',
    endpoints: {
      authorization: 'https://github.com/login/oauth/authorize',
      token: 'https://github.com/login/oauth/access_token',
      userinfo: 'https://api.github.com/user',
      emails: 'https://api.github.com/user/emails',
    },
    scopes: ['read:user', 'user:email'],
    mapping: { subject: 'id', name: 'name', picture: 'avatar_url' },
  },
  discord: {
    protocol: 'oauth2',
    endpoints: {
      authorization: 'https://discord.com/oauth2/authorize',
      token: 'https://discord.com/api/oauth2/token',
      userinfo: 'https://discord.com/api/users/@me',
    },
    scopes: ['identify', 'email'],
    mapping: { subject: 'id', email: 'email', emailVerified: 'verified', name: 'global_name' },
  },
};

export function resolveProvider(definition: ProviderDefinition): ResolvedProvider {
  const defaults = PRESET_DEFAULTS[definition.preset];
  const protocol = definition.preset === 'generic' ? (definition.protocol ?? 'oidc') : defaults.protocol;
  return {
    protocol,
    issuer: definition.issuer ?? defaults.issuer?.(definition),
    endpoints: { ...defaults.endpoints, ...definition.endpoints },
    scopes: definition.scopes ?? (protocol === 'oidc' ? defaults.scopes : (defaults.scopes ?? [])),
    mapping: { ...defaults.mapping, ...definition.mapping },
  };
}

/** What is wrong with a definition, as messages for the config check and the admin API. */
export function providerProblems(definition: ProviderDefinition): string[] {
  const resolved = resolveProvider(definition);
  const problems: string[] = [];
  if (definition.preset === 'microsoft' && !definition.tenant) {
    problems.push('tenant is required for microsoft (the Entra ID tenant id or domain)');
  }
  if (resolved.protocol === 'oidc' && !resolved.issuer)
    problems.push('issuer is required for OpenID Connect');
  if (resolved.protocol === 'oidc' && !resolved.scopes.includes('openid')) {
    problems.push('scopes must include openid for OpenID Connect');
  }
  if (resolved.protocol === 'oauth2') {
    for (const endpoint of ['authorization', 'token', 'userinfo'] as const) {
      if (!resolved.endpoints[endpoint]) problems.push(`endpoints.${endpoint} is required for OAuth 2.0`);
    }
  }
  for (const [group, role] of Object.entries(definition.mapping?.roles ?? {})) {
    if (!group || !role) problems.push('mapping.roles needs group and role names');
  }
  return problems;
}

/** A claim by dotted path (`realm_access.roles`), from the first source that has it. */
export function claim(sources: readonly Record<string, unknown>[], path: string | undefined): unknown {
  if (!path) return undefined;
  for (const source of sources) {
    let value: unknown = source;
    for (const part of path.split('.')) {
      value =
        typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[part] : undefined;
    }
    if (value !== undefined && value !== null) return value;
  }
  return undefined;
}

const text = (value: unknown, max = 300): string | undefined =>
  typeof value === 'string' && value.length > 0
    ? value.slice(0, max)
    : typeof value === 'number'
      ? String(value)
      : undefined;

/** Normalizes claims (ID token first, then user info) into a profile; extra addresses come from GitHub's list. */
export function profileFrom(
  definition: ProviderDefinition,
  resolved: ResolvedProvider,
  sources: readonly Record<string, unknown>[],
  addresses?: readonly { email: string; primary?: boolean; verified?: boolean }[],
): UpstreamProfile {
  const { mapping } = resolved;
  const subject = text(claim(sources, resolved.protocol === 'oidc' ? 'sub' : (mapping.subject ?? 'id')), 255);
  if (!subject) throw new Error('the provider did not name the user (no subject)');
  let email = text(claim(sources, mapping.email), 320);
  let emailVerified =
    claim(sources, mapping.emailVerified) === true || claim(sources, mapping.emailVerified) === 'true';
  const primary =
    addresses?.find((address) => address.primary) ?? addresses?.find((address) => address.verified);
  if (primary) {
    email = primary.email;
    emailVerified = primary.verified === true;
  }
  const groupsClaim = claim(sources, mapping.groups);
  const groups = Array.isArray(groupsClaim)
    ? groupsClaim.filter((group): group is string => typeof group === 'string').slice(0, 200)
    : typeof groupsClaim === 'string'
      ? [groupsClaim]
      : [];
  let picture = text(claim(sources, mapping.picture), 1000);
  if (definition.preset === 'discord' && !picture) {
    const avatar = text(claim(sources, 'avatar'), 100);
    if (avatar)
      picture = `https://cdn.discordapp.com/avatars/${encodeURIComponent(subject)}/${encodeURIComponent(avatar)}.png`;
  }
  const name =
    text(claim(sources, mapping.name), 200) ??
    text(claim(sources, 'login'), 200) ??
    text(claim(sources, 'username'), 200);
  return {
    subject,
    email: email?.toLowerCase(),
    emailVerified: email !== undefined && emailVerified,
    name,
    picture,
    groups,
  };
}
