import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api.js';
import { type Notice, NoticeLine, useNotice } from '../notice.js';
import {
  BreakableUrl,
  CopyValues,
  pairsText,
  RowActionButtons,
  rolesFrom,
  StateBadge,
  text,
  useEditableRows,
  yesNo,
} from './provider-fields.js';

interface SamlMapping {
  email?: string;
  name?: string;
  groups?: string;
  roles?: Record<string, string>;
}

interface Connection {
  id: string;
  slug: string;
  name: string;
  organizationId?: string;
  idp: { entityId: string; ssoUrl: string; sloUrl?: string; certificates: string[] };
  metadataUrl?: string;
  allowIdpInitiated: boolean;
  domains: string[];
  autoLink: boolean;
  allowSignup: boolean;
  enabled: boolean;
  mapping: SamlMapping;
  spEntityId: string;
  acsUrl: string;
  metadataUrlForIdp: string;
  signInUrl: string;
  createdAt: string;
  updatedAt: string;
}

interface Organization {
  id: string;
  name: string;
  slug: string;
}

/** How the form is given the identity provider: the URL of its metadata, or the document pasted in. */
type Source = 'url' | 'xml';

const CONNECTIONS = '/api/v1/admin/saml/connections';

/** `acme.example, @corp.example beta.example` → the lower-case domains, as the API takes them. */
const domainsFrom = (value: string) =>
  value
    .split(/[\s,;]+/)
    .map((domain) => domain.replace(/^@/, '').toLowerCase())
    .filter(Boolean);

/**
 * The request body from the connection form. For a change, metadata left empty keeps the identity provider
 * as it is, and an organization left as it was is not sent; the mapping is sent whole (it replaces the old).
 */
function connectionBodyFrom(
  data: FormData,
  source: Source,
  current: Connection | undefined,
  currentOrganization: string | undefined,
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: text(data, 'name'),
    domains: domainsFrom(text(data, 'domains')),
    allowIdpInitiated: data.get('allowIdpInitiated') === 'on',
    autoLink: data.get('autoLink') === 'on',
    allowSignup: data.get('allowSignup') === 'on',
    enabled: data.get('enabled') === 'on',
  };
  if (!current) body.slug = text(data, 'slug');
  const organization = text(data, 'organization');
  if (organization && organization !== currentOrganization && organization !== current?.organizationId) {
    body.organizationId = organization;
  }
  if (source === 'url' && text(data, 'metadataUrl')) body.metadataUrl = text(data, 'metadataUrl');
  const xml = source === 'xml' ? text(data, 'metadataXml') : '';
  // The API's own limit; its message (about characters) would not say what is wrong.
  if (xml && xml.length < 50) {
    throw new ApiError(
      400,
      'saml_metadata_invalid',
      'This is too short to be SAML metadata: paste the whole XML document (its EntityDescriptor)',
    );
  }
  if (xml) body.metadataXml = xml;
  const mapping: SamlMapping = {};
  for (const name of ['email', 'name', 'groups'] as const) {
    const attribute = text(data, `${name}Attribute`);
    if (attribute) mapping[name] = attribute;
  }
  const roles = rolesFrom(String(data.get('roles') ?? ''));
  if (Object.keys(roles).length > 0) {
    if (!mapping.groups) {
      throw new ApiError(400, 'invalid_mapping', 'Name the groups attribute that the group=role lines read');
    }
    mapping.roles = roles;
  }
  if (current || Object.keys(mapping).length > 0) body.mapping = mapping;
  return body;
}

/** The fields of a connection, for adding one and for changing one in place (its slug then fixed). */
function ConnectionForm({
  connection,
  organization,
  organizations,
  notice,
  onSubmit,
  onInvalid,
  onCancel,
}: {
  connection?: Connection;
  /** The connection's organization as the form shows it (its slug when known, else its id). */
  organization?: string;
  /** The organizations to suggest (by slug), when this administrator may read them. */
  organizations: Organization[];
  notice: Notice;
  onSubmit(body: Record<string, unknown>): Promise<boolean>;
  onInvalid(failure: unknown): void;
  onCancel(): void;
}) {
  const [source, setSource] = useState<Source>(connection && !connection.metadataUrl ? 'xml' : 'url');
  // Each field's id carries the connection's, so a form open in place never shares one with another.
  const id = (name: string) => `saml-${name}-${connection?.id ?? 'new'}`;
  const keep = connection ? ' (empty: keep the current one)' : '';
  const submit = async (event: Event) => {
    event.preventDefault();
    let body: Record<string, unknown>;
    try {
      body = connectionBodyFrom(
        new FormData(event.currentTarget as HTMLFormElement),
        source,
        connection,
        organization,
      );
    } catch (failure) {
      onInvalid(failure);
      return;
    }
    await onSubmit(body);
  };
  const title = connection ? `Change ${connection.name}` : 'New SAML connection';

  return (
    <form
      class={connection ? 'edit-row provider-form' : 'panel create provider-form'}
      onSubmit={submit}
      aria-label={title}
    >
      <h3>{title}</h3>
      {connection && (
        <p class="muted">
          Slug <code>{connection.slug}</code> (to change it, add a new connection). Identity provider now:{' '}
          <BreakableUrl url={connection.idp.entityId} />
          {connection.metadataUrl && (
            <>
              {', from '}
              <BreakableUrl url={connection.metadataUrl} />
            </>
          )}
          .
        </p>
      )}
      <p class="muted">
        Give Gatehouse the identity provider’s metadata: its URL (fetched once, when saved) or the XML
        document itself. People sign in at the connection’s sign-in URL; with an organization, they become its
        members.
      </p>
      <div class="form-grid">
        {!connection && (
          <div>
            <label for={id('slug')}>Connection slug (in URLs: a-z, 0-9, -)</label>
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
        )}
        <div>
          <label for={id('name')}>Connection name</label>
          <input id={id('name')} name="name" required maxLength={100} defaultValue={connection?.name ?? ''} />
        </div>
        <div>
          <label for={id('organization')}>
            {connection?.organizationId ? 'Organization (id or slug)' : 'Organization (id or slug, optional)'}
          </label>
          <input
            id={id('organization')}
            name="organization"
            // The API keeps an organization once set: a connection without one is a new connection.
            required={Boolean(connection?.organizationId)}
            maxLength={100}
            autocomplete="off"
            defaultValue={organization ?? ''}
            list={id('organizations')}
          />
          <datalist id={id('organizations')}>
            {organizations.map((entry) => (
              <option value={entry.slug} key={entry.id}>
                {entry.name}
              </option>
            ))}
          </datalist>
        </div>
        <fieldset class="span-all">
          <legend>Identity provider metadata</legend>
          <label class="check">
            <input
              type="radio"
              name="source"
              value="url"
              checked={source === 'url'}
              onChange={() => setSource('url')}
            />{' '}
            By URL (Gatehouse fetches it)
          </label>
          <label class="check">
            <input
              type="radio"
              name="source"
              value="xml"
              checked={source === 'xml'}
              onChange={() => setSource('xml')}
            />{' '}
            By pasting the XML document
          </label>
          {source === 'url' ? (
            <>
              <label for={id('metadata-url')}>IdP metadata URL{keep}</label>
              <input
                id={id('metadata-url')}
                name="metadataUrl"
                type="url"
                required={!connection}
                maxLength={1000}
                autocomplete="off"
              />
            </>
          ) : (
            <>
              <label for={id('metadata-xml')}>IdP metadata XML{keep}</label>
              <textarea
                id={id('metadata-xml')}
                name="metadataXml"
                rows={5}
                required={!connection}
                maxLength={200_000}
                placeholder={'<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" …'}
                spellcheck={false}
              />
            </>
          )}
        </fieldset>
        <div class="span-all">
          <label for={id('domains')}>E-mail domains (comma or space separated)</label>
          <input
            id={id('domains')}
            name="domains"
            maxLength={5000}
            placeholder="acme.example, acme-corp.example"
            autocomplete="off"
            defaultValue={connection?.domains.join(', ') ?? ''}
          />
          <p class="muted">
            The identity provider vouches for addresses within these domains only; with domains set, other
            addresses are refused.
          </p>
        </div>
        <fieldset class="span-all">
          <legend>Attributes in the assertions</legend>
          <div class="form-grid">
            <div>
              <label for={id('email-attribute')}>E-mail attribute</label>
              <input
                id={id('email-attribute')}
                name="emailAttribute"
                maxLength={200}
                placeholder="email (else the NameID)"
                defaultValue={connection?.mapping.email ?? ''}
              />
            </div>
            <div>
              <label for={id('name-attribute')}>Display name attribute</label>
              <input
                id={id('name-attribute')}
                name="nameAttribute"
                maxLength={200}
                placeholder="name or displayName"
                defaultValue={connection?.mapping.name ?? ''}
              />
            </div>
            <div>
              <label for={id('groups-attribute')}>Groups attribute</label>
              <input
                id={id('groups-attribute')}
                name="groupsAttribute"
                maxLength={200}
                placeholder="memberOf"
                defaultValue={connection?.mapping.groups ?? ''}
              />
            </div>
            <div class="span-all">
              <label for={id('roles')}>Roles from the groups (group=role, one a line)</label>
              <textarea
                id={id('roles')}
                name="roles"
                rows={3}
                placeholder="IT=admin"
                defaultValue={pairsText(connection?.mapping.roles)}
              />
            </div>
          </div>
          <p class="muted">
            Each role is given at every sign-in while its group is listed, and taken back when it is not.
          </p>
        </fieldset>
        <fieldset class="span-all">
          <legend>Behaviour</legend>
          <label class="check">
            <input
              type="checkbox"
              name="allowIdpInitiated"
              defaultChecked={connection?.allowIdpInitiated ?? false}
            />{' '}
            Allow IdP-initiated sign-in (responses the identity provider sends unasked)
          </label>
          <label class="check">
            <input type="checkbox" name="autoLink" defaultChecked={connection?.autoLink ?? false} />{' '}
            Auto-link: an address within the domains signs in to the account that has it
          </label>
          <label class="check">
            <input type="checkbox" name="allowSignup" defaultChecked={connection?.allowSignup ?? true} />{' '}
            Allow sign-up: a first sign-in creates the account (while sign-up is open)
          </label>
          <label class="check">
            <input type="checkbox" name="enabled" defaultChecked={connection?.enabled ?? true} /> Connection
            enabled (people can sign in through it)
          </label>
        </fieldset>
      </div>
      <NoticeLine notice={notice} />
      <div class="filter-buttons">
        <button type="submit">{connection ? 'Save' : 'Add connection'}</button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** What a connection's identity provider must be told: our entity ID and metadata, the ACS URL, the sign-in URL. */
function valuesForIdp(connection: Connection): [string, string][] {
  const ours: [string, string][] =
    connection.spEntityId === connection.metadataUrlForIdp
      ? [['Entity ID and metadata URL', connection.spEntityId]]
      : [
          ['Entity ID', connection.spEntityId],
          ['Metadata URL', connection.metadataUrlForIdp],
        ];
  return [...ours, ['ACS URL', connection.acsUrl], ['Sign-in URL', connection.signInUrl]];
}

/** A connection's mapping in a line: `e-mail ← mail · name ← displayName · roles from memberOf: IT → admin`. */
function MappingSummary({ mapping }: { mapping: SamlMapping }) {
  const parts = (['email', 'name', 'groups'] as const)
    .filter((name) => mapping[name])
    // Each pair stays on one line (non-breaking spaces around the arrow).
    .map((name) => `${name === 'email' ? 'e-mail' : name}\u00a0←\u00a0${mapping[name]}`);
  const roles = Object.entries(mapping.roles ?? {});
  if (parts.length === 0 && roles.length === 0) return null;
  return (
    <>
      <br />
      {parts.join(' · ')}
      {roles.length > 0 && (
        <>
          {parts.length > 0 && <br />}
          roles from {mapping.groups ?? 'groups'}:{' '}
          {roles.map(([group, role]) => `${group} → ${role}`).join(', ')}
        </>
      )}
    </>
  );
}

/**
 * Enterprise SAML connections: companies' identity providers, each with the values to give it (entity ID and
 * metadata URL, ACS URL) and the URL people sign in at; add one from its metadata, change one in place,
 * enable or disable, delete.
 */
export function SamlConnectionsSection({ canWrite }: { canWrite: boolean }) {
  const [connections, setConnections] = useState<Connection[] | undefined>();
  const [organizations, setOrganizations] = useState<Organization[]>([]);
  const load = async () =>
    setConnections((await api<{ connections: Connection[] }>(CONNECTIONS)).connections);
  const { notice, setNotice, run, fail } = useNotice(load);
  useEffect(() => {
    load().catch(fail);
    // Names for the organizations' ids, when this administrator may read them; ids otherwise.
    api<{ organizations: Organization[] }>('/api/v1/admin/organizations?limit=500')
      .then((answer) => setOrganizations(answer.organizations))
      .catch(() => undefined);
  }, []);
  const organizationOf = (connection: Connection) =>
    organizations.find((organization) => organization.id === connection.organizationId);

  const { creating, editing, create, save, toggle, remove, startCreating, startEditing, cancel } =
    useEditableRows<Connection>({
      base: CONNECTIONS,
      notice: { run, setNotice },
      added: (name) => `${name} added. Give its identity provider the entity ID and ACS URL listed.`,
      deleting: (connection) =>
        `Delete the SAML connection ${connection.name}? Its links go with it: people who signed in through it keep their accounts, but need another way in.`,
    });

  return (
    <section aria-labelledby="saml-connections-title" class="provider-section">
      <div class="heading">
        <h2 id="saml-connections-title">SAML connections</h2>
        {canWrite && !creating && (
          <button type="button" onClick={startCreating}>
            Add a SAML connection
          </button>
        )}
      </div>
      <p class="muted intro">
        A company’s own identity provider (Entra ID, Okta, ADFS…): Gatehouse is its service provider. Give the
        identity provider the entity ID and ACS URL of the connection, and send its people to the sign-in URL.
      </p>
      {!creating && !editing && <NoticeLine notice={notice} />}
      {creating && (
        <ConnectionForm
          organizations={organizations}
          notice={notice}
          onSubmit={create}
          onInvalid={fail}
          onCancel={cancel}
        />
      )}
      <div class="table-scroll">
        <table class="saml-connections">
          <thead>
            <tr>
              <th scope="col">Connection</th>
              <th scope="col">Give the identity provider</th>
              <th scope="col">Sign-in</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {connections?.map((connection) => {
              const organization = organizationOf(connection);
              return editing === connection.id ? (
                <tr key={connection.id}>
                  <td colSpan={5}>
                    <ConnectionForm
                      connection={connection}
                      organization={organization?.slug ?? connection.organizationId}
                      organizations={organizations}
                      notice={notice}
                      onSubmit={(body) => save(connection, body)}
                      onInvalid={fail}
                      onCancel={cancel}
                    />
                  </td>
                </tr>
              ) : (
                <tr key={connection.id}>
                  <td>
                    <strong>{connection.name}</strong> <code>{connection.slug}</code>
                    <br />
                    <span class="muted">
                      {connection.organizationId && (
                        <>
                          organization{' '}
                          {organization ? (
                            <>
                              {organization.name} <code>{organization.slug}</code>
                            </>
                          ) : (
                            <code>{connection.organizationId}</code>
                          )}
                          <br />
                        </>
                      )}
                      identity provider <BreakableUrl url={connection.idp.entityId} />
                      {connection.metadataUrl && ' (from its metadata URL)'}
                      <br />
                      domains:{' '}
                      {connection.domains.length > 0 ? connection.domains.join(', ') : 'any (none verified)'}
                      <MappingSummary mapping={connection.mapping} />
                    </span>
                  </td>
                  <td>
                    <CopyValues values={valuesForIdp(connection)} />
                  </td>
                  <td class="switches">
                    IdP-initiated: {yesNo(connection.allowIdpInitiated)}
                    <br />
                    auto-link: {yesNo(connection.autoLink)}
                    <br />
                    sign-up: {yesNo(connection.allowSignup)}
                  </td>
                  <td>
                    <StateBadge enabled={connection.enabled} updatedAt={connection.updatedAt} />
                  </td>
                  <td class="row-actions">
                    {canWrite && (
                      <RowActionButtons
                        label={`SAML connection ${connection.name}`}
                        enabled={connection.enabled}
                        onEdit={() => startEditing(connection)}
                        onToggle={() => toggle(connection)}
                        onRemove={() => remove(connection)}
                      />
                    )}
                  </td>
                </tr>
              );
            })}
            {connections?.length === 0 && (
              <tr>
                <td colSpan={5}>No SAML connections yet.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
