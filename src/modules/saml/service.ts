import { createHmac } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import type { SealedBox } from '../../platform/crypto/sealed.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import { changeWithRecord, type EventRecorder } from '../../platform/events.js';
import { newId } from '../../platform/ids.js';
import type { Logger } from '../../platform/logger.js';
import type { AccountService } from '../accounts/service.js';
import type { ConnectionRow, FederationService } from '../federation/service.js';
import type { RequestContext } from '../sessions/service.js';
import { SamlError } from './errors.js';
import { SamlEvents } from './events.js';
import { createIdentityProvider, createSigningCertificate, type IdentityProvider } from './idp.js';
import {
  currentIdpKey,
  deleteApp,
  findApp,
  idpKeyField,
  insertApp,
  insertIdpKey,
  listApps,
  type SamlAppRow,
  updateApp,
} from './queries.js';
import type { AppInput, ConnectionInput } from './schemas.js';
import type { SamlSettings } from './settings.js';
import {
  createServiceProvider,
  type IdpDescriptor,
  NAME_ID_FORMAT_UNSPECIFIED,
  parseIdpMetadata,
  type SamlAssertion,
} from './sp.js';

const NAME_ID_FORMATS = {
  email: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  unspecified: NAME_ID_FORMAT_UNSPECIFIED,
} as const;

/** A connection's protocol settings, stored as the provider row's JSON. */
interface StoredConnection {
  readonly idp: IdpDescriptor;
  readonly metadataUrl?: string | undefined;
  readonly allowIdpInitiated: boolean;
  readonly domains: readonly string[];
}

export interface ConnectionView {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  readonly organizationId?: string | undefined;
  readonly idp: IdpDescriptor;
  readonly metadataUrl?: string | undefined;
  readonly allowIdpInitiated: boolean;
  readonly domains: readonly string[];
  readonly autoLink: boolean;
  readonly allowSignup: boolean;
  readonly enabled: boolean;
  readonly mapping: ConnectionInput['mapping'] & object;
  readonly spEntityId: string;
  readonly acsUrl: string;
  readonly metadataUrlForIdp: string;
  readonly signInUrl: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface AppView {
  readonly id: string;
  readonly name: string;
  readonly entityId: string;
  readonly acsUrl: string;
  readonly nameIdFormat: string;
  readonly attributes: Record<string, string>;
  readonly signResponse: boolean;
  readonly enabled: boolean;
  readonly signInUrl: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A sign-in an app asked for, waiting for the person to sign in here (sealed into a cookie). */
interface PendingAssertion {
  readonly appId: string;
  readonly requestId?: string | undefined;
  readonly relayState?: string | undefined;
  readonly forceAuthn: boolean;
  readonly createdAt: number;
  readonly expiresAt: number;
}

const PENDING_FIELD = { table: 'cookies', column: 'saml_pending', row: 'pending' };

export interface SamlServiceDependencies {
  readonly database: DatabaseHandle;
  readonly clock: Clock;
  readonly settings: SamlSettings;
  readonly publicUrl: string;
  readonly secretKey: Buffer;
  readonly sealedBox: SealedBox;
  readonly events: EventRecorder;
  readonly logger: Logger;
  readonly federation: FederationService;
  readonly accounts: Pick<AccountService, 'get'>;
  readonly organizationId: (idOrSlug: string) => Promise<string | undefined>;
  /** Makes the person a member of the connection's organization (just-in-time), if they are not. */
  readonly joinOrganization: (organizationId: string, userId: string) => Promise<void>;
  readonly access: (userId: string) => Promise<{ roles: readonly string[]; groups: readonly string[] }>;
  readonly endSessions: (userId: string, reason: string) => Promise<number>;
  /** Fetches metadata from the identity provider's URL (tests point it at a local server). */
  readonly fetchMetadata?: ((url: string, signal: AbortSignal) => Promise<string>) | undefined;
}

/**
 * SAML 2.0 both ways. As a service provider: enterprise connections (per organization), whose assertions
 * end in the same linking, risk, MFA and audit path as every other sign-in. As an identity provider: apps
 * that only speak SAML get signed assertions about the signed-in person.
 */
export function createSamlService(deps: SamlServiceDependencies) {
  const { database, clock, settings, publicUrl, sealedBox, events, federation } = deps;
  const urls = (slug: string) => ({
    spEntityId: `${publicUrl}/saml/${slug}/metadata`,
    metadataUrlForIdp: `${publicUrl}/saml/${slug}/metadata`,
    acsUrl: `${publicUrl}/saml/${slug}/acs`,
    sloUrl: `${publicUrl}/saml/${slug}/slo`,
    signInUrl: `${publicUrl}/login/saml/${slug}`,
  });
  const idpUrls = {
    entityId: `${publicUrl}/saml/idp/metadata`,
    metadataUrl: `${publicUrl}/saml/idp/metadata`,
    ssoUrl: `${publicUrl}/saml/idp/sso`,
  };
  const stores = {
    saveRequest: async (id: string, expiresAt: number) => {
      await federation.singleUse.claim(`saml:request:${id}`, expiresAt);
    },
    takeRequest: (id: string) => federation.singleUse.take(`saml:request:${id}`),
    claimAssertion: (id: string, expiresAt: number) =>
      federation.singleUse.claim(`saml:assertion:${id}`, expiresAt),
  };

  const stored = (row: ConnectionRow) => JSON.parse(row.settings) as StoredConnection;
  function connectionView(row: ConnectionRow): ConnectionView {
    const connection = stored(row);
    const { sloUrl: _slo, ...addresses } = urls(row.slug);
    return {
      id: row.id,
      slug: row.slug,
      name: row.name,
      organizationId: row.organization_id ?? undefined,
      idp: connection.idp,
      metadataUrl: connection.metadataUrl,
      allowIdpInitiated: connection.allowIdpInitiated,
      domains: connection.domains,
      autoLink: row.auto_link === 1,
      allowSignup: row.allow_signup === 1,
      enabled: row.enabled === 1,
      mapping: JSON.parse(row.mapping),
      ...addresses,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  async function requireConnection(idOrSlug: string, options: { enabled?: boolean } = {}) {
    const row = await federation.connections.get('saml', idOrSlug);
    if (!row || (options.enabled && row.enabled !== 1)) throw new SamlError('saml_connection_not_found');
    return row;
  }

  function serviceProvider(row: ConnectionRow) {
    const connection = stored(row);
    return createServiceProvider(
      {
        ...urls(row.slug),
        idp: connection.idp,
        allowIdpInitiated: connection.allowIdpInitiated,
        clockSkewMs: settings.clockSkewSeconds * 1000,
        maxAssertionAgeMs: settings.maxAssertionAgeSeconds * 1000,
        requestTtlMs: settings.requestTtlSeconds * 1000,
      },
      stores,
      () => clock.now(),
    );
  }

  /** The identity provider as given: metadata XML, a metadata URL (fetched now), or its parts. */
  async function identityProviderOf(input: Partial<ConnectionInput>): Promise<IdpDescriptor | undefined> {
    if (input.metadataXml) return parseIdpMetadata(input.metadataXml);
    if (input.metadataUrl) {
      const signal = AbortSignal.timeout(settings.metadataTimeoutMs);
      let xml: string;
      try {
        xml = deps.fetchMetadata
          ? await deps.fetchMetadata(input.metadataUrl, signal)
          : await fetch(input.metadataUrl, { signal, redirect: 'error' }).then((response) => {
              if (!response.ok) {
                void response.body?.cancel();
                throw new Error(`the metadata URL answered ${response.status}`);
              }
              return response.text();
            });
      } catch (error) {
        throw new SamlError(
          'saml_metadata_invalid',
          `The metadata could not be fetched: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      return parseIdpMetadata(xml);
    }
    if (input.idp) {
      // Parsed the same way as metadata, so bad certificates are refused now rather than at the first sign-in.
      createServiceProvider(
        {
          ...urls('check'),
          idp: input.idp,
          allowIdpInitiated: false,
          clockSkewMs: 0,
          maxAssertionAgeMs: 1,
          requestTtlMs: 1,
        },
        stores,
      );
      return input.idp;
    }
    return undefined;
  }

  async function organizationOf(idOrSlug: string | null | undefined): Promise<string | null> {
    if (!idOrSlug) return null;
    const id = await deps.organizationId(idOrSlug);
    if (!id) throw new SamlError('saml_connection_invalid', `No organization ${idOrSlug}`);
    return id;
  }

  /** What Gatehouse learns from an assertion, by the connection's mapping. */
  function profileOf(row: ConnectionRow, assertion: SamlAssertion) {
    const connection = stored(row);
    const mapping = JSON.parse(row.mapping) as NonNullable<ConnectionInput['mapping']>;
    const first = (name: string | undefined) => (name ? assertion.attributes[name]?.[0] : undefined);
    const emailCandidate =
      first(mapping.email) ??
      first('email') ??
      first('http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress') ??
      (/^[^@\s]+@[^@\s]+$/.test(assertion.nameId) ? assertion.nameId : undefined);
    const email = emailCandidate?.trim().toLowerCase();
    const domain = email?.split('@')[1];
    if (email && connection.domains.length > 0 && !connection.domains.includes(domain!)) {
      throw new SamlError('saml_email_domain');
    }
    return {
      subject: assertion.nameId,
      email,
      // An enterprise IdP speaks for the addresses of its own domains, and only those.
      emailVerified: email !== undefined && connection.domains.includes(domain!),
      name: first(mapping.name) ?? first('name') ?? first('displayName'),
      groups: mapping.groups ? (assertion.attributes[mapping.groups] ?? []) : [],
    };
  }

  const linkable = (row: ConnectionRow) => ({
    id: row.id,
    definition: {
      slug: row.slug,
      name: row.name,
      autoLink: row.auto_link === 1,
      allowSignup: row.allow_signup === 1,
      keepTokens: false,
      mapping: JSON.parse(row.mapping),
    },
  });

  // ----- Gatehouse as identity provider ------------------------------------------------------------------

  let identityProvider: { keyId: string; idp: IdentityProvider } | undefined;
  async function idp(): Promise<IdentityProvider> {
    let key = await currentIdpKey(database.db);
    if (!key) {
      const created = createSigningCertificate({
        commonName: new URL(publicUrl).hostname,
        validDays: 3650,
        now: clock.now(),
      });
      const id = newId();
      await insertIdpKey(database.db, {
        id,
        certificate: created.certificatePem,
        private_sealed: sealedBox.seal(created.privateKeyPem, idpKeyField(id)),
        created_at: clock.now(),
      });
      key = await currentIdpKey(database.db);
    }
    if (identityProvider?.keyId !== key!.id) {
      identityProvider = {
        keyId: key!.id,
        idp: createIdentityProvider(
          {
            entityId: idpUrls.entityId,
            ssoUrl: idpUrls.ssoUrl,
            signing: {
              certificatePem: key!.certificate,
              privateKeyPem: sealedBox.open(key!.private_sealed, idpKeyField(key!.id)),
            },
            assertionLifetimeSeconds: settings.assertionLifetimeSeconds,
          },
          () => clock.now(),
        ),
      };
    }
    return identityProvider.idp;
  }

  function appView(row: SamlAppRow): AppView {
    return {
      id: row.id,
      name: row.name,
      entityId: row.entity_id,
      acsUrl: row.acs_url,
      nameIdFormat: row.name_id_format,
      attributes: JSON.parse(row.attributes),
      signResponse: row.sign_response === 1,
      enabled: row.enabled === 1,
      signInUrl: `${publicUrl}/saml/idp/apps/${row.id}/start`,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  async function requireApp(idOrEntityId: string): Promise<SamlAppRow> {
    const row = await findApp(database.db, idOrEntityId);
    if (!row) throw new SamlError('saml_app_not_found');
    return row;
  }

  const appEvent = (name: string, row: { id: string; entity_id: string }, actorUserId?: string) => ({
    name,
    severity: 'high' as const,
    outcome: 'success' as const,
    actorUserId,
    details: { appId: row.id, entityId: row.entity_id },
  });

  /** A pairwise, stable NameID for the persistent format: the same person looks different to each app. */
  const persistentId = (userId: string, entityId: string) =>
    createHmac('sha256', deps.secretKey).update(`saml-persistent:${entityId}:${userId}`).digest('base64url');

  return {
    // ----- connections (service provider) -----
    async listConnections(): Promise<ConnectionView[]> {
      return (await federation.connections.list('saml')).map(connectionView);
    },
    async getConnection(idOrSlug: string): Promise<ConnectionView> {
      return connectionView(await requireConnection(idOrSlug));
    },
    async createConnection(input: ConnectionInput, actorUserId?: string): Promise<ConnectionView> {
      const descriptor = await identityProviderOf(input);
      if (!descriptor) {
        throw new SamlError(
          'saml_connection_invalid',
          'Give the identity provider’s metadata (XML or URL) or its details',
        );
      }
      const connection: StoredConnection = {
        idp: descriptor,
        metadataUrl: input.metadataUrl,
        allowIdpInitiated: input.allowIdpInitiated,
        domains: input.domains,
      };
      const row = await federation.connections.create(
        {
          id: newId(),
          slug: input.slug,
          kind: 'saml',
          preset: 'saml',
          name: input.name,
          organization_id: await organizationOf(input.organizationId),
          settings: JSON.stringify(connection),
          mapping: JSON.stringify(input.mapping ?? {}),
          auto_link: input.autoLink ? 1 : 0,
          allow_signup: input.allowSignup ? 1 : 0,
          enabled: input.enabled ? 1 : 0,
        },
        actorUserId,
      );
      return connectionView(row);
    },
    async updateConnection(
      idOrSlug: string,
      change: Partial<Omit<ConnectionInput, 'slug'>>,
      actorUserId?: string,
    ): Promise<ConnectionView> {
      const current = await requireConnection(idOrSlug);
      const previous = stored(current);
      const descriptor = (await identityProviderOf(change)) ?? previous.idp;
      const connection: StoredConnection = {
        idp: descriptor,
        metadataUrl:
          change.metadataUrl ?? (change.metadataXml || change.idp ? undefined : previous.metadataUrl),
        allowIdpInitiated: change.allowIdpInitiated ?? previous.allowIdpInitiated,
        domains: change.domains ?? previous.domains,
      };
      const updated = await federation.connections.update(
        current,
        {
          name: change.name ?? current.name,
          ...(change.organizationId !== undefined
            ? { organization_id: await organizationOf(change.organizationId) }
            : {}),
          settings: JSON.stringify(connection),
          ...(change.mapping ? { mapping: JSON.stringify(change.mapping) } : {}),
          ...(change.autoLink !== undefined ? { auto_link: change.autoLink ? 1 : 0 } : {}),
          ...(change.allowSignup !== undefined ? { allow_signup: change.allowSignup ? 1 : 0 } : {}),
          ...(change.enabled !== undefined ? { enabled: change.enabled ? 1 : 0 } : {}),
        },
        Object.keys(change),
        actorUserId,
      );
      return connectionView(updated);
    },
    async deleteConnection(idOrSlug: string, actorUserId?: string): Promise<void> {
      await federation.connections.remove(await requireConnection(idOrSlug), actorUserId);
    },

    /** Our metadata for a connection's identity provider. */
    async spMetadata(slug: string): Promise<string> {
      return serviceProvider(await requireConnection(slug)).metadataXml();
    },

    /** Where to send the browser to sign in at the connection's identity provider (SP-initiated). */
    async begin(slug: string, next: string): Promise<string> {
      const row = await requireConnection(slug, { enabled: true });
      // RelayState carries only the path to return to; it is checked again (safeNext) when it comes back.
      const relayState = next.length <= 80 ? next : '/account';
      return (await serviceProvider(row).authorizeUrl(relayState)).url;
    },

    /** The assertion consumer service: validates the response, then signs in like any other provider. */
    async acs(
      slug: string,
      form: { SAMLResponse?: string; RelayState?: string },
      next: string,
      context: RequestContext & { rememberedDevice?: string | undefined },
    ) {
      const row = await requireConnection(slug, { enabled: true });
      let profile: ReturnType<typeof profileOf>;
      try {
        profile = profileOf(row, await serviceProvider(row).acceptResponse(form));
      } catch (error) {
        if (error instanceof SamlError) {
          throw federation.recordFailure(linkable(row), error.code, 'denied', error);
        }
        throw error;
      }
      const outcome = await federation.completeWithProfile(linkable(row), profile, { next }, context);
      // An organization's connection vouches for its people: once linked, they are members (even while a
      // second factor is still to come: membership alone grants nothing without a session).
      const userId = row.organization_id
        ? await federation.connections.linkedUser(row.id, profile.subject)
        : undefined;
      if (row.organization_id && userId && outcome.kind === 'signed_in') {
        await deps.joinOrganization(row.organization_id, userId);
      }
      return outcome;
    },

    /** Single logout started by the identity provider: ends the person's sessions here, then answers. */
    async slo(slug: string, query: Record<string, string>, rawQuery: string) {
      const row = await requireConnection(slug);
      const message = await serviceProvider(row).acceptLogout(query, rawQuery);
      if (message.kind === 'response') return { redirect: '/' };
      const userId = await federation.connections.linkedUser(row.id, message.nameId);
      const ended = userId ? await deps.endSessions(userId, 'saml_logout') : 0;
      events.record({
        name: SamlEvents.loggedOut,
        severity: 'low',
        outcome: 'success',
        targetUserId: userId,
        details: { connection: row.slug, sessionsEnded: ended },
      });
      return { redirect: message.responseUrl };
    },

    // ----- apps (identity provider) -----
    idpAddresses: idpUrls,
    async idpMetadata(): Promise<string> {
      return (await idp()).metadataXml();
    },
    async listApps(): Promise<AppView[]> {
      return (await listApps(database.db)).map(appView);
    },
    async getApp(id: string): Promise<AppView> {
      return appView(await requireApp(id));
    },
    async createApp(input: AppInput, actorUserId?: string): Promise<AppView> {
      if (await findApp(database.db, input.entityId)) throw new SamlError('saml_app_exists');
      const now = clock.now();
      const row: SamlAppRow = {
        id: newId(),
        name: input.name,
        entity_id: input.entityId,
        acs_url: input.acsUrl,
        name_id_format: input.nameIdFormat,
        attributes: JSON.stringify(input.attributes),
        sign_response: input.signResponse ? 1 : 0,
        enabled: input.enabled ? 1 : 0,
        created_at: now,
        updated_at: now,
      };
      await changeWithRecord(database, events, appEvent(SamlEvents.appCreated, row, actorUserId), (trx) =>
        insertApp(trx, row),
      );
      return appView(row);
    },
    async updateApp(id: string, change: Partial<AppInput>, actorUserId?: string): Promise<AppView> {
      const current = await requireApp(id);
      const updated = await changeWithRecord(
        database,
        events,
        appEvent(SamlEvents.appUpdated, current, actorUserId),
        (trx) =>
          updateApp(trx, current.id, {
            ...(change.name !== undefined ? { name: change.name } : {}),
            ...(change.entityId !== undefined ? { entity_id: change.entityId } : {}),
            ...(change.acsUrl !== undefined ? { acs_url: change.acsUrl } : {}),
            ...(change.nameIdFormat !== undefined ? { name_id_format: change.nameIdFormat } : {}),
            ...(change.attributes !== undefined ? { attributes: JSON.stringify(change.attributes) } : {}),
            ...(change.signResponse !== undefined ? { sign_response: change.signResponse ? 1 : 0 } : {}),
            ...(change.enabled !== undefined ? { enabled: change.enabled ? 1 : 0 } : {}),
            updated_at: Math.max(clock.now(), current.updated_at + 1),
          }),
      );
      return appView(updated!);
    },
    async deleteApp(id: string, actorUserId?: string): Promise<void> {
      const current = await requireApp(id);
      await changeWithRecord(database, events, appEvent(SamlEvents.appDeleted, current, actorUserId), (trx) =>
        deleteApp(trx, current.id),
      );
    },

    /**
     * An app's AuthnRequest: it must come from a registered, enabled app, and ask (if it names one) for the
     * registered ACS URL. Returns the sealed request to carry through the sign-in.
     */
    async receiveRequest(input: { SAMLRequest: string; RelayState?: string }, binding: 'redirect' | 'post') {
      const request = (await idp()).parseAuthnRequest(input, binding);
      const app = await findApp(database.db, request.issuer);
      if (app?.enabled !== 1 || (request.acsUrl !== undefined && request.acsUrl !== app.acs_url)) {
        throw new SamlError('saml_unknown_app');
      }
      const now = clock.now();
      const pending: PendingAssertion = {
        appId: app.id,
        requestId: request.id,
        relayState: request.relayState,
        forceAuthn: request.forceAuthn,
        createdAt: now,
        expiresAt: now + settings.requestTtlSeconds * 1000,
      };
      return {
        value: sealedBox.seal(JSON.stringify(pending), PENDING_FIELD),
        expiresAt: pending.expiresAt,
        forceAuthn: request.forceAuthn,
      };
    },

    /** A request carried through the sign-in; undefined when missing, tampered with or expired. */
    openPending(value: string | undefined): PendingAssertion | undefined {
      if (!value) return undefined;
      try {
        const pending = JSON.parse(sealedBox.open(value, PENDING_FIELD)) as PendingAssertion;
        return pending.expiresAt > clock.now() ? pending : undefined;
      } catch {
        return undefined;
      }
    },

    /** An IdP-initiated sign-in to an app (from the portal). */
    async unsolicited(appId: string): Promise<PendingAssertion> {
      const app = await requireApp(appId);
      if (app.enabled !== 1) throw new SamlError('saml_app_not_found');
      const now = clock.now();
      return { appId: app.id, forceAuthn: false, createdAt: now, expiresAt: now + 60_000 };
    },

    /** The signed response about the signed-in person, and where the browser posts it. */
    async respond(
      pending: PendingAssertion,
      session: { id: string; userId: string; authTime: number; acr: string },
    ): Promise<{ acsUrl: string; samlResponse: string; relayState?: string | undefined }> {
      const app = await requireApp(pending.appId);
      const user = await deps.accounts.get(session.userId);
      const access = await deps.access(session.userId);
      const sources: Record<string, string | string[]> = {
        email: user.email,
        name: user.name ?? user.email,
        id: user.id,
        groups: [...access.groups],
        roles: [...access.roles],
      };
      const attributes: Record<string, string | string[]> = {};
      for (const [attribute, source] of Object.entries(
        JSON.parse(app.attributes) as Record<string, string>,
      )) {
        const value = sources[source];
        if (value !== undefined) attributes[attribute] = value;
      }
      const format = app.name_id_format as keyof typeof NAME_ID_FORMATS;
      const nameId =
        format === 'email'
          ? user.email
          : format === 'persistent'
            ? persistentId(user.id, app.entity_id)
            : user.id;
      const samlResponse = (await idp()).buildResponse({
        app: {
          entityId: app.entity_id,
          acsUrl: app.acs_url,
          nameIdFormat: NAME_ID_FORMATS[format] ?? NAME_ID_FORMAT_UNSPECIFIED,
          signResponse: app.sign_response === 1,
        },
        ...(pending.requestId ? { inResponseTo: pending.requestId } : {}),
        nameId,
        sessionIndex: createHmac('sha256', deps.secretKey)
          .update(`saml-session:${session.id}`)
          .digest('base64url'),
        attributes,
        authnContextClassRef:
          session.acr === '1'
            ? 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport'
            : 'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract',
        authnInstant: session.authTime,
      });
      events.record({
        name: SamlEvents.assertionIssued,
        severity: 'low',
        outcome: 'success',
        actorUserId: session.userId,
        targetUserId: session.userId,
        details: {
          appId: app.id,
          entityId: app.entity_id,
          attributes: Object.keys(attributes),
          unsolicited: !pending.requestId,
        },
      });
      return { acsUrl: app.acs_url, samlResponse, relayState: pending.relayState };
    },

    async postForm(input: {
      acsUrl: string;
      samlResponse: string;
      relayState?: string | undefined;
      nonce: string;
    }) {
      return (await idp()).postForm({
        acsUrl: input.acsUrl,
        samlResponse: input.samlResponse,
        nonce: input.nonce,
        ...(input.relayState !== undefined ? { relayState: input.relayState } : {}),
      });
    },
  };
}

export type SamlService = ReturnType<typeof createSamlService>;
