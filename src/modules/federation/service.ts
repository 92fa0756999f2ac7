import { Counter, type Registry } from 'prom-client';
import type { Clock } from '../../platform/clock.js';
import type { SealedBox, SealedField } from '../../platform/crypto/sealed.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import { GatehouseError, isGatehouseError } from '../../platform/errors.js';
import { changeWithRecord, type EventRecorder } from '../../platform/events.js';
import { newId } from '../../platform/ids.js';
import type { Logger } from '../../platform/logger.js';
import type { Breaker } from '../../platform/outbound/breakers.js';
import type { AccountService, LoginResult, MfaPendingResult } from '../accounts/service.js';
import type { RequestContext } from '../sessions/service.js';
import { FederationErrors } from './errors.js';
import { FederationEvents } from './events.js';
import { providerProblems, resolveProvider, type UpstreamProfile } from './presets.js';
import {
  claimOnce,
  deleteExpiredSingleUse,
  deleteIdentity,
  deleteProviderRow,
  findIdentity,
  findProviderRow,
  type IdentityRow,
  identitiesOf,
  insertIdentity,
  insertProvider,
  listProviderRows,
  type ProviderRow,
  providerSecretField,
  takeOnce,
  tokensField,
  updateIdentity,
  updateProviderRow,
} from './queries.js';
import type { FederationSettings, Preset, ProviderDefinition } from './settings.js';
import {
  createUpstreamClient,
  type UpstreamClient,
  UpstreamError,
  type UpstreamProvider,
} from './upstream.js';

/** The `amr` value of a session proven by an upstream provider (RFC 8176 has none; `fed` is ours). */
export const FEDERATED_AMR = 'fed';

export interface FederationServiceDependencies {
  readonly database: DatabaseHandle;
  readonly clock: Clock;
  readonly settings: FederationSettings;
  readonly publicUrl: string;
  readonly sealedBox: SealedBox;
  readonly events: EventRecorder;
  readonly logger: Logger;
  readonly registry?: Registry | undefined;
  readonly accounts: Pick<
    AccountService,
    'signInExternally' | 'createExternal' | 'findByEmail' | 'hasPassword' | 'get'
  >;
  /** Whether the account has a passkey it can sign in with alone. */
  readonly hasPasskey: (userId: string) => Promise<boolean>;
  /** Roles given by a provider's group mapping (the authorization service, acting as the system). */
  readonly roles: {
    holds(userId: string, role: string): Promise<boolean>;
    assign(userId: string, role: string): Promise<void>;
    unassign(userId: string, role: string): Promise<void>;
  };
  readonly breaker: (name: string) => Breaker;
  /** Replaces the protocol client (tests). */
  readonly upstream?: UpstreamClient | undefined;
}

export interface ProviderView {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  readonly preset: Preset;
  readonly protocol: 'oidc' | 'oauth2';
  /** `config` providers come from the configuration file and cannot be changed through the API. */
  readonly source: 'config' | 'database';
  readonly issuer?: string | undefined;
  readonly tenant?: string | undefined;
  readonly clientId: string;
  readonly hasClientSecret: boolean;
  readonly scopes: readonly string[];
  readonly endpoints: Readonly<Record<string, string | undefined>>;
  readonly mapping: ProviderDefinition['mapping'];
  readonly autoLink: boolean;
  readonly allowSignup: boolean;
  readonly keepTokens: boolean;
  readonly enabled: boolean;
  readonly callbackUrl: string;
  readonly createdAt?: number | undefined;
  readonly updatedAt?: number | undefined;
}

export interface IdentityView {
  readonly id: string;
  readonly providerId: string;
  readonly providerSlug?: string | undefined;
  readonly providerName: string;
  readonly email?: string | undefined;
  readonly emailVerified: boolean;
  readonly name?: string | undefined;
  readonly linkedAt: number;
  readonly lastUsedAt?: number | undefined;
}

/** What a sign-in carries from its start to the callback: sealed into a short-lived cookie, so any node can finish it. */
interface FlowState {
  readonly provider: string;
  readonly state: string;
  readonly nonce?: string | undefined;
  readonly verifier: string;
  readonly next: string;
  readonly intent: 'sign_in' | 'link';
  /** For `link`: who asked (the callback must come back to the same signed-in person). */
  readonly userId?: string | undefined;
  readonly expiresAt: number;
}

/** An upstream account waiting for its owner to prove they own the matching account here. */
interface PendingLink {
  readonly provider: string;
  readonly subject: string;
  readonly email?: string | undefined;
  readonly emailVerified: boolean;
  readonly name?: string | undefined;
  readonly next: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export type CallbackOutcome =
  | { kind: 'signed_in'; result: LoginResult | MfaPendingResult; next: string; provider: string }
  | { kind: 'linked'; next: string; provider: string }
  | {
      kind: 'link_required';
      pendingLink: { value: string; expiresAt: number };
      email: string;
      provider: string;
      next: string;
    };

const FLOW_FIELD: SealedField = { table: 'cookies', column: 'federation_flow', row: 'flow' };
const LINK_FIELD: SealedField = { table: 'cookies', column: 'federation_link', row: 'link' };
const FRESH_FIELD: SealedField = { table: 'cookies', column: 'federation_fresh', row: 'fresh' };

/** The definition's protocol settings, stored as JSON beside the switches that have columns. */
type StoredSettings = Pick<
  ProviderDefinition,
  'protocol' | 'issuer' | 'tenant' | 'clientId' | 'scopes' | 'endpoints'
>;

/** The provider's own error code when it gave one (invalid_grant, access_denied), else the check that failed. */
function refusalReason(error: unknown): string {
  let code: string | undefined;
  let message = 'refused';
  // openid-client wraps the precise check that failed (oauth4webapi's) in a generic error: use the innermost.
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    message = current.message;
    const body = current as Error & { error?: unknown };
    if (typeof body.error === 'string') code = body.error;
    current = current.cause;
  }
  return (code ? `${code}: ${message}` : message).slice(0, 200);
}

export function createFederationService(deps: FederationServiceDependencies) {
  const { database, clock, settings, sealedBox, events } = deps;
  const upstream =
    deps.upstream ??
    createUpstreamClient({
      timeoutMs: settings.timeoutMs,
      allowInsecure: settings.allowInsecureIssuers,
      breaker: (providerId) => deps.breaker(`federation:${providerId}`),
      now: () => clock.now(),
    });
  const signIns = new Counter({
    name: 'gatehouse_federation_signins_total',
    help: 'Sign-ins through upstream identity providers, by provider and outcome.',
    labelNames: ['provider', 'outcome'],
    registers: deps.registry ? [deps.registry] : [],
  });
  const callbackUrl = (slug: string) => `${deps.publicUrl}/login/federated/${slug}/callback`;

  /** What linking and signing in need of a provider, whatever its protocol (SAML connections too). */
  type Linkable = {
    readonly id: string;
    readonly definition: Pick<
      ProviderDefinition,
      'slug' | 'name' | 'autoLink' | 'allowSignup' | 'keepTokens' | 'mapping'
    >;
  };

  interface Provider extends UpstreamProvider {
    readonly source: 'config' | 'database';
    readonly createdAt?: number | undefined;
  }

  const fromConfig: Provider[] = settings.providers.map((definition) => ({
    id: `config:${definition.slug}`,
    version: 0,
    definition,
    source: 'config',
  }));

  function fromRow(row: ProviderRow): Provider {
    const stored = JSON.parse(row.settings) as StoredSettings;
    return {
      id: row.id,
      version: row.updated_at,
      source: 'database',
      createdAt: row.created_at,
      definition: {
        ...stored,
        slug: row.slug,
        name: row.name,
        preset: row.preset as Preset,
        mapping: JSON.parse(row.mapping),
        autoLink: row.auto_link === 1,
        allowSignup: row.allow_signup === 1,
        keepTokens: row.keep_tokens === 1,
        enabled: row.enabled === 1,
        ...(row.secret ? { clientSecret: sealedBox.open(row.secret, providerSecretField(row.id)) } : {}),
      },
    };
  }

  function view(provider: Provider): ProviderView {
    const { definition } = provider;
    const resolved = resolveProvider(definition);
    return {
      id: provider.id,
      slug: definition.slug,
      name: definition.name,
      preset: definition.preset,
      protocol: resolved.protocol,
      source: provider.source,
      issuer: resolved.issuer,
      tenant: definition.tenant,
      clientId: definition.clientId,
      hasClientSecret: definition.clientSecret !== undefined,
      scopes: resolved.scopes,
      endpoints: { ...resolved.endpoints },
      mapping: definition.mapping ?? {},
      autoLink: definition.autoLink,
      allowSignup: definition.allowSignup,
      keepTokens: definition.keepTokens,
      enabled: definition.enabled,
      callbackUrl: callbackUrl(definition.slug),
      createdAt: provider.createdAt,
      updatedAt: provider.source === 'database' ? provider.version : undefined,
    };
  }

  /** Upstream OpenID Connect and OAuth 2.0 providers (with SAML connections too, when asked: for link lists). */
  async function allProviders(options: { withSaml?: boolean } = {}): Promise<Provider[]> {
    const rows = (await listProviderRows(database.db)).filter(
      (row) => options.withSaml || row.kind !== 'saml',
    );
    const taken = new Set(fromConfig.map((provider) => provider.definition.slug));
    return [...fromConfig, ...rows.filter((row) => !taken.has(row.slug)).map(fromRow)];
  }

  async function find(idOrSlug: string): Promise<Provider | undefined> {
    const configured = fromConfig.find(
      (provider) => provider.id === idOrSlug || provider.definition.slug === idOrSlug,
    );
    if (configured) return configured;
    const row = await findProviderRow(database.db, idOrSlug);
    return row && row.kind !== 'saml' ? fromRow(row) : undefined;
  }

  /** Any provider a link can point at, SAML connections included. */
  async function findLinkable(id: string): Promise<Linkable | undefined> {
    const configured = fromConfig.find((provider) => provider.id === id);
    if (configured) return configured;
    const row = await findProviderRow(database.db, id);
    return row ? fromRow(row) : undefined;
  }

  async function requireProvider(idOrSlug: string, options: { enabled?: boolean } = {}): Promise<Provider> {
    const provider = await find(idOrSlug);
    if (!provider || (options.enabled && !provider.definition.enabled)) {
      throw new GatehouseError(FederationErrors.federation_provider_not_found);
    }
    return provider;
  }

  function assertValid(definition: ProviderDefinition): void {
    const problems = providerProblems(definition);
    if (problems.length > 0) {
      throw new GatehouseError(FederationErrors.federation_provider_invalid, problems.join('; '));
    }
  }

  function rowValues(id: string, definition: ProviderDefinition) {
    const stored: StoredSettings = {
      protocol: definition.protocol,
      issuer: definition.issuer,
      tenant: definition.tenant,
      clientId: definition.clientId,
      scopes: definition.scopes,
      endpoints: definition.endpoints,
    };
    return {
      slug: definition.slug,
      kind: resolveProvider(definition).protocol,
      preset: definition.preset,
      name: definition.name,
      settings: JSON.stringify(stored),
      secret: definition.clientSecret
        ? sealedBox.seal(definition.clientSecret, providerSecretField(id))
        : null,
      mapping: JSON.stringify(definition.mapping ?? {}),
      auto_link: definition.autoLink ? 1 : 0,
      allow_signup: definition.allowSignup ? 1 : 0,
      keep_tokens: definition.keepTokens ? 1 : 0,
      enabled: definition.enabled ? 1 : 0,
    };
  }

  const seal = (value: unknown, field: SealedField) => sealedBox.seal(JSON.stringify(value), field);
  function open<T extends { expiresAt: number }>(
    value: string | undefined,
    field: SealedField,
  ): T | undefined {
    if (!value) return undefined;
    try {
      const opened = JSON.parse(sealedBox.open(value, field)) as T;
      return opened.expiresAt > clock.now() ? opened : undefined;
    } catch {
      return undefined;
    }
  }

  function failed(
    provider: Linkable | undefined,
    reason: string,
    outcome: string,
    error: GatehouseError,
    cause?: unknown,
  ): GatehouseError {
    signIns.inc({ provider: provider?.definition.slug ?? 'unknown', outcome });
    deps.logger.warn(
      { provider: provider?.definition.slug, reason, err: cause },
      'sign-in through an upstream provider failed',
    );
    events.record({
      name: FederationEvents.signInFailed,
      severity: outcome === 'unavailable' ? 'medium' : 'low',
      outcome: 'failure',
      details: { provider: provider?.definition.slug, reason },
    });
    return error;
  }

  function identityView(row: IdentityRow, providers: readonly Provider[]): IdentityView {
    const provider = providers.find((candidate) => candidate.id === row.provider_id);
    return {
      id: row.id,
      providerId: row.provider_id,
      providerSlug: provider?.definition.slug,
      providerName: provider?.definition.name ?? row.provider_id,
      email: row.email ?? undefined,
      emailVerified: row.email_verified === 1,
      name: row.display_name ?? undefined,
      linkedAt: row.created_at,
      lastUsedAt: row.last_used_at ?? undefined,
    };
  }

  function linkRow(provider: Linkable, userId: string, profile: UpstreamProfile): IdentityRow {
    return {
      id: newId(),
      user_id: userId,
      provider_id: provider.id,
      subject: profile.subject,
      email: profile.email ?? null,
      email_verified: profile.emailVerified ? 1 : 0,
      display_name: profile.name ?? null,
      tokens: null,
      granted_roles: '[]',
      created_at: clock.now(),
      last_used_at: null,
    };
  }

  function linkedEvent(provider: Linkable, userId: string, identityId: string, method: string) {
    return {
      name: FederationEvents.identityLinked,
      severity: 'medium' as const,
      outcome: 'success' as const,
      targetUserId: userId,
      details: { provider: provider.definition.slug, identityId, method },
    };
  }

  /** Inserts a link; a race with another tab linking the same upstream account ends as identity_taken. */
  async function link(provider: Linkable, userId: string, profile: UpstreamProfile, method: string) {
    const row = linkRow(provider, userId, profile);
    try {
      await changeWithRecord(database, events, linkedEvent(provider, userId, row.id, method), (trx) =>
        insertIdentity(trx, row),
      );
    } catch (error) {
      const existing = await findIdentity(database.db, provider.id, profile.subject);
      if (existing && existing.user_id !== userId) {
        throw new GatehouseError(FederationErrors.federation_identity_taken);
      }
      if (!existing) throw error;
      return existing;
    }
    return row;
  }

  /**
   * Roles from the provider's group mapping: given when a mapped group appears, taken back when it goes.
   * Roles the person already held some other way are neither recorded nor taken back.
   */
  async function syncRoles(provider: Linkable, identity: IdentityRow, groups: readonly string[]) {
    const mapping = provider.definition.mapping?.roles ?? {};
    const previous = JSON.parse(identity.granted_roles) as string[];
    if (Object.keys(mapping).length === 0 && previous.length === 0) return;
    const desired = [
      ...new Set(groups.map((group) => mapping[group]).filter((role): role is string => !!role)),
    ];
    const granted = previous.filter((role) => desired.includes(role));
    const added: string[] = [];
    const removed: string[] = [];
    for (const role of desired.filter((role) => !previous.includes(role))) {
      try {
        if (await deps.roles.holds(identity.user_id, role)) continue;
        await deps.roles.assign(identity.user_id, role);
        granted.push(role);
        added.push(role);
      } catch (error) {
        deps.logger.warn(
          { err: error, provider: provider.definition.slug, role },
          'a role from the provider’s group mapping could not be given (does the role exist?)',
        );
      }
    }
    for (const role of previous.filter((role) => !desired.includes(role))) {
      try {
        await deps.roles.unassign(identity.user_id, role);
        removed.push(role);
      } catch (error) {
        granted.push(role);
        deps.logger.warn(
          { err: error, provider: provider.definition.slug, role },
          'a mapped role could not be taken back',
        );
      }
    }
    await updateIdentity(database.db, identity.id, { granted_roles: JSON.stringify(granted) });
    if (added.length > 0 || removed.length > 0) {
      events.record({
        name: FederationEvents.rolesSynced,
        severity: 'medium',
        outcome: 'success',
        targetUserId: identity.user_id,
        details: { provider: provider.definition.slug, added, removed },
      });
    }
  }

  /** Refreshes what we keep of the upstream account at each sign-in. */
  async function touch(provider: Linkable, identity: IdentityRow, profile: UpstreamProfile, tokens: unknown) {
    await updateIdentity(database.db, identity.id, {
      email: profile.email ?? null,
      email_verified: profile.emailVerified ? 1 : 0,
      display_name: profile.name ?? null,
      last_used_at: clock.now(),
      ...(provider.definition.keepTokens
        ? { tokens: seal(tokens, tokensField(identity.id)) }
        : { tokens: null }),
    });
  }

  async function signIn(
    provider: Linkable,
    identity: IdentityRow,
    profile: UpstreamProfile,
    context: RequestContext & { rememberedDevice?: string | undefined },
    next: string,
  ): Promise<CallbackOutcome> {
    await syncRoles(provider, identity, profile.groups);
    const result = await deps.accounts.signInExternally(identity.user_id, context, {
      amr: FEDERATED_AMR,
      provider: provider.definition.slug,
    });
    signIns.inc({
      provider: provider.definition.slug,
      outcome: result.status === 'mfa_required' ? 'mfa_required' : 'succeeded',
    });
    return { kind: 'signed_in', result, next, provider: provider.definition.name };
  }

  /** Adds a provider row with its audit record; a slug taken by anyone (config, database, a race) is refused. */
  async function addRow(row: ProviderRow, details: Record<string, unknown>, actorUserId?: string) {
    if (await find(row.slug)) throw new GatehouseError(FederationErrors.federation_provider_exists);
    try {
      await changeWithRecord(
        database,
        events,
        {
          name: FederationEvents.providerCreated,
          severity: 'high',
          outcome: 'success',
          actorUserId,
          details: { providerId: row.id, slug: row.slug, kind: row.kind, ...details },
        },
        (trx) => insertProvider(trx, row),
      );
    } catch (error) {
      if (await findProviderRow(database.db, row.slug)) {
        throw new GatehouseError(FederationErrors.federation_provider_exists);
      }
      throw error;
    }
    return row;
  }

  async function changeRow(
    current: { id: string; slug: string; kind: string; updatedAt: number },
    values: Partial<Omit<ProviderRow, 'id' | 'created_at' | 'updated_at'>>,
    changed: readonly string[],
    actorUserId?: string,
  ): Promise<ProviderRow> {
    const updated = await changeWithRecord(
      database,
      events,
      {
        name: FederationEvents.providerUpdated,
        severity: 'high',
        outcome: 'success',
        actorUserId,
        details: {
          providerId: current.id,
          slug: current.slug,
          kind: current.kind,
          changed: [...changed].sort(),
        },
      },
      (trx) =>
        updateProviderRow(trx, current.id, {
          ...values,
          updated_at: Math.max(clock.now(), current.updatedAt + 1),
        }),
    );
    upstream.forget(current.id);
    return updated!;
  }

  async function removeRow(current: { id: string; slug: string; kind: string }, actorUserId?: string) {
    await changeWithRecord(
      database,
      events,
      (unlinked: number) => ({
        name: FederationEvents.providerDeleted,
        severity: 'high',
        outcome: 'success',
        actorUserId,
        details: { providerId: current.id, slug: current.slug, kind: current.kind, unlinked },
      }),
      (trx) => deleteProviderRow(trx, current.id),
    );
    upstream.forget(current.id);
  }

  /**
   * From a proven upstream profile to an outcome: the linked account signs in; otherwise a link (portal), an
   * automatic link (verified address, when allowed), "sign in to connect", or a new account.
   */
  async function resolve(
    provider: Linkable,
    profile: UpstreamProfile,
    tokens: unknown,
    flow: { intent: 'sign_in' | 'link'; userId?: string | undefined; next: string },
    context: RequestContext & { rememberedDevice?: string | undefined; sessionUserId?: string | undefined },
  ): Promise<CallbackOutcome> {
    const existing = await findIdentity(database.db, provider.id, profile.subject);

    if (flow.intent === 'link') {
      if (!flow.userId || flow.userId !== context.sessionUserId) {
        throw failed(
          provider,
          'link_session_changed',
          'invalid',
          new GatehouseError(FederationErrors.federation_flow_invalid),
        );
      }
      if (existing && existing.user_id !== flow.userId) {
        throw failed(
          provider,
          'identity_taken',
          'denied',
          new GatehouseError(FederationErrors.federation_identity_taken),
        );
      }
      const identity = existing ?? (await link(provider, flow.userId, profile, 'portal'));
      await touch(provider, identity, profile, tokens);
      signIns.inc({ provider: provider.definition.slug, outcome: 'linked' });
      return { kind: 'linked', next: flow.next, provider: provider.definition.name };
    }

    if (existing) {
      await touch(provider, existing, profile, tokens);
      return signIn(provider, existing, profile, context, flow.next);
    }
    if (!profile.email) {
      throw failed(provider, 'no_email', 'denied', new GatehouseError(FederationErrors.federation_no_email));
    }
    const account = await deps.accounts.findByEmail(profile.email);
    if (account) {
      if (provider.definition.autoLink && profile.emailVerified) {
        const identity = await link(provider, account.id, profile, 'verified_email');
        await touch(provider, identity, profile, tokens);
        return signIn(provider, identity, profile, context, flow.next);
      }
      // Same address, but nothing proves this person owns the account here: they must sign in to it first.
      const now = clock.now();
      const pending: PendingLink = {
        provider: provider.id,
        subject: profile.subject,
        email: profile.email,
        emailVerified: profile.emailVerified,
        name: profile.name,
        next: flow.next,
        createdAt: now,
        expiresAt: now + settings.flowTtlSeconds * 1000,
      };
      signIns.inc({ provider: provider.definition.slug, outcome: 'link_required' });
      return {
        kind: 'link_required',
        pendingLink: { value: seal(pending, LINK_FIELD), expiresAt: pending.expiresAt },
        email: profile.email,
        provider: provider.definition.name,
        next: flow.next,
      };
    }
    if (!provider.definition.allowSignup) {
      throw failed(
        provider,
        'signup_not_allowed',
        'denied',
        new GatehouseError(FederationErrors.federation_signup_closed),
      );
    }
    let identity: IdentityRow | undefined;
    try {
      await deps.accounts.createExternal(
        {
          email: profile.email,
          name: profile.name,
          emailVerified: profile.emailVerified,
          provider: provider.definition.slug,
        },
        context,
        async (trx, user) => {
          identity = linkRow(provider, user.id, profile);
          await insertIdentity(trx, identity);
          await events.recordWithin(trx, linkedEvent(provider, user.id, identity.id, 'signup'));
        },
      );
    } catch (error) {
      if (isGatehouseError(error) && error.code === 'signup_closed') {
        throw failed(
          provider,
          'signup_closed',
          'denied',
          new GatehouseError(FederationErrors.federation_signup_closed),
        );
      }
      throw error;
    }
    await touch(provider, identity!, profile, tokens);
    return signIn(provider, identity!, profile, context, flow.next);
  }

  return {
    async listProviders(): Promise<ProviderView[]> {
      return (await allProviders()).map(view);
    },

    async getProvider(idOrSlug: string): Promise<ProviderView> {
      return view(await requireProvider(idOrSlug));
    },

    /** The buttons on the sign-in pages: enabled providers only, nothing secret. */
    async signInOptions(): Promise<{ slug: string; name: string; preset: Preset }[]> {
      return (await allProviders())
        .filter((provider) => provider.definition.enabled)
        .map(({ definition }) => ({
          slug: definition.slug,
          name: definition.name,
          preset: definition.preset,
        }));
    },

    async createProvider(definition: ProviderDefinition, context: { actorUserId?: string | undefined }) {
      assertValid(definition);
      const id = newId();
      const now = clock.now();
      const row = await addRow(
        { id, organization_id: null, created_at: now, updated_at: now, ...rowValues(id, definition) },
        { preset: definition.preset, autoLink: definition.autoLink },
        context.actorUserId,
      );
      return view(fromRow(row));
    },

    /** Changes a provider; a client secret left out stays as it was. */
    async updateProvider(
      idOrSlug: string,
      change: Partial<Omit<ProviderDefinition, 'slug'>>,
      context: { actorUserId?: string | undefined },
    ): Promise<ProviderView> {
      const current = await requireProvider(idOrSlug);
      if (current.source === 'config')
        throw new GatehouseError(FederationErrors.federation_provider_read_only);
      const definition: ProviderDefinition = {
        ...current.definition,
        ...change,
        slug: current.definition.slug,
      };
      assertValid(definition);
      const updated = await changeRow(
        {
          id: current.id,
          slug: definition.slug,
          kind: resolveProvider(definition).protocol,
          updatedAt: current.version,
        },
        rowValues(current.id, definition),
        Object.keys(change),
        context.actorUserId,
      );
      return view(fromRow(updated));
    },

    /** Removes a provider and its links; the people keep their accounts (and any other way in). */
    async deleteProvider(idOrSlug: string, context: { actorUserId?: string | undefined }): Promise<void> {
      const current = await requireProvider(idOrSlug);
      if (current.source === 'config')
        throw new GatehouseError(FederationErrors.federation_provider_read_only);
      await removeRow(
        { id: current.id, slug: current.definition.slug, kind: resolveProvider(current.definition).protocol },
        context.actorUserId,
      );
    },

    /**
     * Starts a sign-in (or, for a signed-in person, a link): where to send the browser, and the sealed
     * cookie that lets whichever node receives the callback check it.
     */
    async begin(
      slug: string,
      input: { next: string; intent: 'sign_in' | 'link'; userId?: string | undefined },
    ): Promise<{ url: string; flow: { value: string; expiresAt: number } }> {
      const provider = await requireProvider(slug, { enabled: true });
      let started: Awaited<ReturnType<UpstreamClient['begin']>>;
      try {
        started = await upstream.begin(provider, callbackUrl(provider.definition.slug));
      } catch (error) {
        throw failed(
          provider,
          'discovery',
          'unavailable',
          new GatehouseError(FederationErrors.federation_provider_unavailable, undefined, { cause: error }),
          error,
        );
      }
      const expiresAt = clock.now() + settings.flowTtlSeconds * 1000;
      const state: FlowState = {
        provider: provider.id,
        ...started.secrets,
        next: input.next,
        intent: input.intent,
        userId: input.userId,
        expiresAt,
      };
      return { url: started.url, flow: { value: seal(state, FLOW_FIELD), expiresAt } };
    },

    /**
     * The callback: checks the flow, lets openid-client check the response (state, issuer, code with PKCE,
     * ID token and nonce), then finds, links or creates the account and signs in through the same risk, MFA
     * and audit path as a password.
     */
    async complete(
      slug: string,
      callbackQuery: string,
      flowCookie: string | undefined,
      context: RequestContext & {
        rememberedDevice?: string | undefined;
        /** The person signed in on this browser, if any (a link must come back to them). */
        sessionUserId?: string | undefined;
      },
    ): Promise<CallbackOutcome> {
      const provider = await find(slug);
      const flow = open<FlowState>(flowCookie, FLOW_FIELD);
      if (!provider || !flow || flow.provider !== provider.id) {
        throw failed(
          provider,
          'no_flow',
          'invalid',
          new GatehouseError(FederationErrors.federation_flow_invalid),
        );
      }
      if (!provider.definition.enabled)
        throw new GatehouseError(FederationErrors.federation_provider_not_found);
      // One use per flow on every node: a callback replayed (even with its cookie) finds the state spent.
      if (!(await claimOnce(database.db, `fed:${flow.state}`, flow.expiresAt, clock.now()))) {
        throw failed(
          provider,
          'state_reused',
          'invalid',
          new GatehouseError(FederationErrors.federation_flow_invalid),
        );
      }
      // openid-client takes the redirect_uri for the code exchange from this URL, so it must be ours exactly.
      const callback = new URL(callbackUrl(provider.definition.slug));
      callback.search = callbackQuery;
      let finished: Awaited<ReturnType<UpstreamClient['finish']>>;
      try {
        finished = await upstream.finish(provider, callback, flow);
      } catch (error) {
        if (error instanceof UpstreamError && error.kind === 'unavailable') {
          throw failed(
            provider,
            'unavailable',
            'unavailable',
            new GatehouseError(FederationErrors.federation_provider_unavailable, undefined, { cause: error }),
            error,
          );
        }
        const reason = refusalReason(error);
        throw failed(
          provider,
          reason,
          'denied',
          new GatehouseError(FederationErrors.federation_denied, undefined, { cause: error }),
          error,
        );
      }
      return resolve(provider, finished.profile, finished.tokens, flow, context);
    },

    /**
     * Connections of other protocols (SAML) live beside the providers, so links, the portal and the console
     * treat them alike; their protocol settings are the caller's JSON. Changes commit with their audit record.
     */
    connections: {
      async list(kind: string): Promise<ProviderRow[]> {
        return (await listProviderRows(database.db)).filter((row) => row.kind === kind);
      },
      async get(kind: string, idOrSlug: string): Promise<ProviderRow | undefined> {
        const row = await findProviderRow(database.db, idOrSlug);
        return row?.kind === kind ? row : undefined;
      },
      async create(
        row: Omit<ProviderRow, 'created_at' | 'updated_at' | 'secret' | 'keep_tokens'>,
        actorUserId?: string,
      ) {
        const now = clock.now();
        return addRow(
          { ...row, secret: null, keep_tokens: 0, created_at: now, updated_at: now },
          { autoLink: row.auto_link === 1 },
          actorUserId,
        );
      },
      update: (
        current: ProviderRow,
        change: Partial<
          Pick<
            ProviderRow,
            'name' | 'organization_id' | 'settings' | 'mapping' | 'auto_link' | 'allow_signup' | 'enabled'
          >
        >,
        changed: readonly string[],
        actorUserId?: string,
      ) => changeRow({ ...current, updatedAt: current.updated_at }, change, changed, actorUserId),
      remove: (current: ProviderRow, actorUserId?: string) => removeRow(current, actorUserId),
      /** The account linked to a connection's subject (a SAML NameID), for single logout. */
      async linkedUser(providerId: string, subject: string): Promise<string | undefined> {
        return (await findIdentity(database.db, providerId, subject))?.user_id;
      },
    },

    /** The same ending for a profile proven by another protocol (a SAML assertion). */
    completeWithProfile: (
      provider: Linkable,
      profile: UpstreamProfile,
      flow: { next: string },
      context: RequestContext & { rememberedDevice?: string | undefined },
    ) => resolve(provider, profile, undefined, { intent: 'sign_in', next: flow.next }, context),

    /** Records a sign-in another protocol refused before anyone was identified (event, metric, log). */
    recordFailure(
      provider: Linkable,
      reason: string,
      outcome: 'denied' | 'invalid' | 'unavailable',
      error: GatehouseError,
    ) {
      return failed(provider, reason, outcome, error, error);
    },

    /**
     * A sign-in through a provider that started on an OAuth interaction's page returns to it; this marks the
     * session as signed in for that interaction, which then counts it as fresh (prompt=login, max_age).
     */
    freshSignIn: {
      mark(sessionId: string, next: string): { value: string; expiresAt: number } {
        const expiresAt = clock.now() + 60_000;
        return { value: seal({ sessionId, next, expiresAt }, FRESH_FIELD), expiresAt };
      },
      check(value: string | undefined, sessionId: string | undefined, path: string): boolean {
        const marked = open<{ sessionId: string; next: string; expiresAt: number }>(value, FRESH_FIELD);
        return (
          marked !== undefined &&
          sessionId !== undefined &&
          marked.sessionId === sessionId &&
          marked.next === path
        );
      },
    },

    /** What the confirmation page shows about a link waiting for its owner. */
    async pendingLink(value: string | undefined) {
      const pending = open<PendingLink>(value, LINK_FIELD);
      if (!pending) return undefined;
      const provider = await findLinkable(pending.provider);
      return provider
        ? {
            provider: provider.definition.name,
            email: pending.email,
            next: pending.next,
            createdAt: pending.createdAt,
          }
        : undefined;
    },

    /**
     * Links the upstream account to the signed-in person once they have proven they own this account (a
     * sign-in that finished after the link was offered).
     */
    async confirmLink(value: string | undefined, session: { userId: string; authTime: number }) {
      const pending = open<PendingLink>(value, LINK_FIELD);
      const provider = pending ? await findLinkable(pending.provider) : undefined;
      if (!pending || !provider || session.authTime < pending.createdAt) {
        throw new GatehouseError(FederationErrors.federation_flow_invalid);
      }
      const profile: UpstreamProfile = {
        subject: pending.subject,
        email: pending.email,
        emailVerified: pending.emailVerified,
        name: pending.name,
        groups: [],
      };
      const existing = await findIdentity(database.db, provider.id, pending.subject);
      if (existing && existing.user_id !== session.userId) {
        throw new GatehouseError(FederationErrors.federation_identity_taken);
      }
      if (!existing) await link(provider, session.userId, profile, 'proved_ownership');
      signIns.inc({ provider: provider.definition.slug, outcome: 'linked' });
      return { provider: provider.definition.name, next: pending.next };
    },

    async identities(userId: string): Promise<IdentityView[]> {
      const providers = await allProviders({ withSaml: true });
      return (await identitiesOf(database.db, userId)).map((row) => identityView(row, providers));
    },

    /** Removes a link, unless it is the account's last way to sign in. */
    async unlink(userId: string, identityId: string): Promise<void> {
      const linked = await identitiesOf(database.db, userId);
      const target = linked.find((row) => row.id === identityId);
      if (!target) throw new GatehouseError(FederationErrors.federation_identity_not_found);
      const otherWayIn =
        linked.length > 1 || (await deps.accounts.hasPassword(userId)) || (await deps.hasPasskey(userId));
      if (!otherWayIn) throw new GatehouseError(FederationErrors.federation_last_method);
      const providers = await allProviders({ withSaml: true });
      await changeWithRecord(
        database,
        events,
        {
          name: FederationEvents.identityUnlinked,
          severity: 'medium',
          outcome: 'success',
          actorUserId: userId,
          targetUserId: userId,
          details: {
            provider: identityView(target, providers).providerSlug ?? target.provider_id,
            identityId,
          },
        },
        (trx) => deleteIdentity(trx, userId, identityId),
      );
    },

    /** The upstream tokens kept for an identity (for operators' integrations), opened from the keyring. */
    async upstreamTokens(userId: string, identityId: string): Promise<unknown> {
      const row = (await identitiesOf(database.db, userId)).find((identity) => identity.id === identityId);
      if (!row) throw new GatehouseError(FederationErrors.federation_identity_not_found);
      return row.tokens ? JSON.parse(sealedBox.open(row.tokens, tokensField(row.id))) : undefined;
    },

    /** Single-use keys shared by every node (SAML request and assertion ids). */
    singleUse: {
      claim: (key: string, expiresAt: number) => claimOnce(database.db, key, expiresAt, clock.now()),
      take: (key: string) => takeOnce(database.db, key, clock.now()),
    },

    /** Housekeeping: spent single-use keys past their expiry. */
    deleteExpired: () => deleteExpiredSingleUse(database.db, clock.now()),
  };
}

export type FederationService = ReturnType<typeof createFederationService>;
/** A provider row as other protocols' connections (SAML) store and read it. */
export type ConnectionRow = ProviderRow;
