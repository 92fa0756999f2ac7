import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { type Notice, NoticeLine, useNotice } from '../notice.js';
import {
  BreakableUrl,
  pairsText,
  RowActionButtons,
  rolesFrom,
  StateBadge,
  text,
  useEditableRows,
  words,
  yesNo,
} from './provider-fields.js';
import { SamlAppsSection } from './SamlApps.js';
import { SamlConnectionsSection } from './SamlConnections.js';

type Preset = 'generic' | 'google' | 'microsoft' | 'github' | 'discord';

interface Mapping {
  email?: string;
  emailVerified?: string;
  name?: string;
  picture?: string;
  groups?: string;
  subject?: string;
  roles?: Record<string, string>;
}

interface Provider {
  id: string;
  slug: string;
  name: string;
  preset: Preset;
  protocol: 'oidc' | 'oauth2';
  source: 'config' | 'database';
  issuer?: string;
  tenant?: string;
  clientId: string;
  hasClientSecret: boolean;
  scopes: string[];
  endpoints: { authorization?: string; token?: string; userinfo?: string; emails?: string };
  mapping: Mapping;
  autoLink: boolean;
  allowSignup: boolean;
  keepTokens: boolean;
  enabled: boolean;
  callbackUrl: string;
  createdAt?: string;
  updatedAt?: string;
}

/** What the form asks about: a preset, with the generic one split by protocol. */
type Kind = 'generic-oidc' | 'generic-oauth2' | Exclude<Preset, 'generic'>;

const KINDS: { value: Kind; label: string; scopes: string }[] = [
  { value: 'generic-oidc', label: 'OpenID Connect (any provider)', scopes: 'openid email profile' },
  { value: 'generic-oauth2', label: 'OAuth 2.0 (any provider)', scopes: '' },
  { value: 'google', label: 'Google', scopes: 'openid email profile' },
  { value: 'microsoft', label: 'Microsoft Entra ID', scopes: 'openid email profile' },
  { value: 'github', label: 'GitHub', scopes: 'read:user user:email' },
  { value: 'discord', label: 'Discord', scopes: 'identify email' },
];

const kindOf = (provider: Provider): Kind =>
  provider.preset === 'generic' ? `generic-${provider.protocol}` : provider.preset;
const kindLabel = (kind: Kind) => KINDS.find((entry) => entry.value === kind)?.label ?? kind;

/** `OpenID Connect`, `OAuth 2.0`, or the preset with its protocol: `GitHub (OAuth 2.0)`. */
function describe(provider: Provider): string {
  const protocol = provider.protocol === 'oidc' ? 'OpenID Connect' : 'OAuth 2.0';
  return provider.preset === 'generic' ? protocol : `${kindLabel(provider.preset)} (${protocol})`;
}

/**
 * The request body from the form: everything the kind of provider uses. For a change, a secret left empty,
 * and scopes left as they were, are not sent (the server keeps them); the rest of the mapping is kept.
 */
function bodyFrom(data: FormData, kind: Kind, current?: Provider): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: text(data, 'name'),
    clientId: text(data, 'clientId'),
    autoLink: data.get('autoLink') === 'on',
    allowSignup: data.get('allowSignup') === 'on',
    keepTokens: data.get('keepTokens') === 'on',
    enabled: data.get('enabled') === 'on',
  };
  if (!current) {
    body.slug = text(data, 'slug');
    body.preset = kind.startsWith('generic') ? 'generic' : kind;
    if (kind === 'generic-oauth2') body.protocol = 'oauth2';
  }
  const secret = String(data.get('clientSecret') ?? '');
  if (secret) body.clientSecret = secret;
  const scopes = words(text(data, 'scopes'));
  if (scopes.length > 0 && scopes.join(' ') !== current?.scopes.join(' ')) body.scopes = scopes;
  if (kind === 'generic-oidc') body.issuer = text(data, 'issuer');
  if (kind === 'microsoft') body.tenant = text(data, 'tenant');
  if (kind === 'generic-oauth2') {
    body.endpoints = {
      authorization: text(data, 'authorization'),
      token: text(data, 'token'),
      userinfo: text(data, 'userinfo'),
    };
  }
  const mapping: Mapping = { ...current?.mapping };
  const groups = text(data, 'groups');
  if (groups) mapping.groups = groups;
  else delete mapping.groups;
  const roles = rolesFrom(String(data.get('roles') ?? ''));
  if (Object.keys(roles).length > 0) mapping.roles = roles;
  else delete mapping.roles;
  if (kind === 'generic-oauth2') {
    const subject = text(data, 'subject');
    if (subject) mapping.subject = subject;
    else delete mapping.subject;
  }
  if (current || Object.keys(mapping).length > 0) body.mapping = mapping;
  return body;
}

/** The fields of a provider, for adding one (kind chosen here) and for changing one in place (kind fixed). */
function ProviderForm({
  provider,
  notice,
  onSubmit,
  onInvalid,
  onCancel,
}: {
  provider?: Provider;
  /** How the last attempt went, shown under the form (the server's message when it refused). */
  notice: Notice;
  onSubmit(body: Record<string, unknown>): Promise<boolean>;
  onInvalid(failure: unknown): void;
  onCancel(): void;
}) {
  const [kind, setKind] = useState<Kind>(provider ? kindOf(provider) : 'generic-oidc');
  // Each field's id carries the provider's, so a form open in place never shares one with another.
  const id = (name: string) => `provider-${name}-${provider?.id ?? 'new'}`;
  const submit = async (event: Event) => {
    event.preventDefault();
    let body: Record<string, unknown>;
    try {
      body = bodyFrom(new FormData(event.currentTarget as HTMLFormElement), kind, provider);
    } catch (failure) {
      onInvalid(failure);
      return;
    }
    await onSubmit(body);
  };
  const defaults = KINDS.find((entry) => entry.value === kind)?.scopes ?? '';

  return (
    <form
      class={provider ? 'edit-row provider-form' : 'panel create provider-form'}
      onSubmit={submit}
      aria-label={provider ? `Change ${provider.name}` : 'New sign-in provider'}
    >
      <h3>{provider ? `Change ${provider.name}` : 'New sign-in provider'}</h3>
      {provider && (
        <p class="muted">
          {kindLabel(kind)} · slug <code>{provider.slug}</code> (to change either, add a new provider)
        </p>
      )}
      <p class="muted">
        The sign-in page shows “Continue with” and the name. An OpenID Connect issuer’s discovery document
        gives its endpoints; scopes left empty are the usual ones for the kind of provider.
      </p>
      <div class="form-grid">
        {!provider && (
          <>
            <div>
              <label for={id('kind')}>Kind of provider</label>
              <select
                id={id('kind')}
                name="kind"
                value={kind}
                onChange={(event) => setKind((event.currentTarget as HTMLSelectElement).value as Kind)}
              >
                {KINDS.map((entry) => (
                  <option value={entry.value} key={entry.value}>
                    {entry.label}
                  </option>
                ))}
              </select>
            </div>
            <div>
              <label for={id('slug')}>Slug (in URLs: a-z, 0-9, -)</label>
              <input
                id={id('slug')}
                name="slug"
                required
                maxLength={40}
                pattern="[a-z0-9][a-z0-9\-]{0,39}"
                title="Lower-case letters, digits and dashes, starting with a letter or digit"
                autocomplete="off"
              />
            </div>
          </>
        )}
        <div>
          <label for={id('name')}>Name on the button</label>
          <input id={id('name')} name="name" required maxLength={100} defaultValue={provider?.name ?? ''} />
        </div>
        {kind === 'generic-oidc' && (
          <div>
            <label for={id('issuer')}>Issuer URL</label>
            <input
              id={id('issuer')}
              name="issuer"
              type="url"
              required
              maxLength={500}
              defaultValue={provider?.issuer ?? ''}
            />
          </div>
        )}
        {kind === 'microsoft' && (
          <div>
            <label for={id('tenant')}>Tenant id or domain</label>
            <input
              id={id('tenant')}
              name="tenant"
              required
              maxLength={100}
              pattern="[A-Za-z0-9.\-]{1,100}"
              defaultValue={provider?.tenant ?? ''}
            />
          </div>
        )}
        <div>
          <label for={id('client-id')}>Client id</label>
          <input
            id={id('client-id')}
            name="clientId"
            required
            maxLength={300}
            autocomplete="off"
            defaultValue={provider?.clientId ?? ''}
          />
        </div>
        <div>
          <label for={id('client-secret')}>
            {provider?.hasClientSecret ? 'Client secret (empty: keep it)' : 'Client secret (optional)'}
          </label>
          <input
            id={id('client-secret')}
            name="clientSecret"
            type="password"
            maxLength={500}
            autocomplete="new-password"
          />
        </div>
        <div>
          <label for={id('scopes')}>Scopes (space-separated)</label>
          <input
            id={id('scopes')}
            name="scopes"
            maxLength={1000}
            placeholder={defaults}
            defaultValue={provider?.scopes.join(' ') ?? ''}
          />
        </div>
        {kind === 'generic-oauth2' && (
          <fieldset class="span-all">
            <legend>Endpoints (URLs)</legend>
            <div class="form-grid">
              {(
                [
                  ['authorization', 'Authorization endpoint'],
                  ['token', 'Token endpoint'],
                  ['userinfo', 'User info endpoint'],
                ] as const
              ).map(([name, label]) => (
                <div key={name}>
                  <label for={id(name)}>{label}</label>
                  <input
                    id={id(name)}
                    name={name}
                    type="url"
                    required
                    maxLength={500}
                    defaultValue={provider?.endpoints[name] ?? ''}
                  />
                </div>
              ))}
              <div>
                <label for={id('subject')}>User id field (empty: id)</label>
                <input
                  id={id('subject')}
                  name="subject"
                  maxLength={100}
                  defaultValue={provider?.mapping.subject ?? ''}
                />
              </div>
            </div>
          </fieldset>
        )}
        <fieldset class="span-all">
          <legend>Roles from the provider’s groups</legend>
          <div class="form-grid">
            <div>
              <label for={id('groups')}>Groups claim</label>
              <input
                id={id('groups')}
                name="groups"
                maxLength={100}
                placeholder="groups"
                defaultValue={provider?.mapping.groups ?? ''}
              />
            </div>
            <div>
              <label for={id('roles')}>Group to role (group=role, one a line)</label>
              <textarea
                id={id('roles')}
                name="roles"
                rows={3}
                placeholder="engineering=developer"
                defaultValue={pairsText(provider?.mapping.roles)}
              />
            </div>
          </div>
          <p class="muted">
            The groups claim names a list in the ID token or profile. Each role is given at every sign-in
            while its group is listed, and taken back when it is not.
          </p>
        </fieldset>
        <fieldset class="span-all">
          <legend>Behaviour</legend>
          <label class="check">
            <input type="checkbox" name="autoLink" defaultChecked={provider?.autoLink ?? false} /> Link to an
            existing account with the same address, when the provider says it is verified
          </label>
          <label class="check">
            <input type="checkbox" name="allowSignup" defaultChecked={provider?.allowSignup ?? true} /> Create
            an account at a first sign-in (while sign-up is open)
          </label>
          <label class="check">
            <input type="checkbox" name="keepTokens" defaultChecked={provider?.keepTokens ?? false} /> Keep
            the provider’s tokens (sealed), for integrations
          </label>
          <label class="check">
            <input type="checkbox" name="enabled" defaultChecked={provider?.enabled ?? true} /> Enabled (shown
            on the sign-in page)
          </label>
        </fieldset>
      </div>
      <NoticeLine notice={notice} />
      <div class="filter-buttons">
        <button type="submit">{provider ? 'Save' : 'Add provider'}</button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/**
 * Upstream sign-in providers (OpenID Connect and OAuth 2.0): list them with the callback URL to register at
 * each, add one, change one in place, enable or disable, delete. Those from the configuration file are shown
 * read-only. SAML has two sections of its own below (SamlConnections.tsx, SamlApps.tsx): companies' identity providers, and the
 * apps Gatehouse signs people in to as an identity provider.
 */
export function ProvidersView({ canWrite }: { canWrite: boolean }) {
  const [providers, setProviders] = useState<Provider[] | undefined>();
  const load = async () =>
    setProviders((await api<{ providers: Provider[] }>('/api/v1/admin/identity-providers')).providers);
  const { notice, setNotice, run, fail } = useNotice(load);
  useEffect(() => {
    load().catch(fail);
  }, []);

  const { creating, editing, create, save, toggle, remove, startCreating, startEditing, cancel } =
    useEditableRows<Provider>({
      base: '/api/v1/admin/identity-providers',
      notice: { run, setNotice },
      added: (name) => `${name} added. Register its callback URL at the provider.`,
      deleting: (provider) =>
        `Delete ${provider.name}? Its links go with it: people who signed in through it keep their accounts, but need another way in.`,
    });

  return (
    <section aria-labelledby="providers-title">
      <h1 id="providers-title">Sign-in providers</h1>
      <p class="muted intro">
        People can sign in through these upstream providers: the sign-in page shows a “Continue with …” button
        for each one enabled, and the account portal lets people link them to their accounts.
      </p>
      <section aria-labelledby="oidc-providers-title">
        <div class="heading">
          <h2 id="oidc-providers-title">OpenID Connect and OAuth 2.0</h2>
          {canWrite && !creating && (
            <button type="button" onClick={startCreating}>
              Add a provider
            </button>
          )}
        </div>
        {/* While a form is open, what happened to it shows under it. */}
        {!creating && !editing && <NoticeLine notice={notice} />}
        {creating && <ProviderForm notice={notice} onSubmit={create} onInvalid={fail} onCancel={cancel} />}
        <div class="table-scroll">
          <table class="providers">
            <thead>
              <tr>
                <th scope="col">Provider</th>
                <th scope="col">Callback URL (register it at the provider)</th>
                <th scope="col">Sign-in</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {providers?.map((provider) =>
                editing === provider.id ? (
                  <tr key={provider.id}>
                    <td colSpan={5}>
                      <ProviderForm
                        provider={provider}
                        notice={notice}
                        onSubmit={(body) => save(provider, body)}
                        onInvalid={fail}
                        onCancel={cancel}
                      />
                    </td>
                  </tr>
                ) : (
                  <tr key={provider.id}>
                    <td>
                      <strong>{provider.name}</strong> <code>{provider.slug}</code>
                      <br />
                      <span class="muted">
                        {describe(provider)}
                        {provider.issuer && provider.preset !== 'google' && (
                          <>
                            {' · '}
                            <BreakableUrl url={provider.issuer} />
                          </>
                        )}
                        <br />
                        client <code>{provider.clientId}</code>
                        {provider.hasClientSecret ? ' · secret set' : ' · no secret'}
                        {provider.scopes.length > 0 && ` · ${provider.scopes.join(' ')}`}
                        {provider.mapping.roles && Object.keys(provider.mapping.roles).length > 0 && (
                          <>
                            <br />
                            roles from {provider.mapping.groups ?? 'groups'}:{' '}
                            {Object.entries(provider.mapping.roles)
                              .map(([group, role]) => `${group} → ${role}`)
                              .join(', ')}
                          </>
                        )}
                      </span>
                    </td>
                    <td>
                      <code class="copy" title="Register this redirect URI at the provider">
                        <BreakableUrl url={provider.callbackUrl} />
                      </code>
                    </td>
                    <td class="switches">
                      auto-link: {yesNo(provider.autoLink)}
                      <br />
                      sign-up: {yesNo(provider.allowSignup)}
                      <br />
                      keeps tokens: {yesNo(provider.keepTokens)}
                    </td>
                    <td>
                      <StateBadge
                        enabled={provider.enabled}
                        updatedAt={provider.source === 'database' ? provider.updatedAt : undefined}
                      />
                    </td>
                    <td class="row-actions">
                      {provider.source === 'config' ? (
                        <>
                          <span class="badge read-only">read-only</span>
                          <br />
                          <span class="muted">from the configuration file</span>
                        </>
                      ) : (
                        canWrite && (
                          <RowActionButtons
                            label={provider.name}
                            enabled={provider.enabled}
                            onEdit={() => startEditing(provider)}
                            onToggle={() => toggle(provider)}
                            onRemove={() => remove(provider)}
                          />
                        )
                      )}
                    </td>
                  </tr>
                ),
              )}
              {providers?.length === 0 && (
                <tr>
                  <td colSpan={5}>No sign-in providers yet.</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>
      <SamlConnectionsSection canWrite={canWrite} />
      <SamlAppsSection canWrite={canWrite} />
    </section>
  );
}
