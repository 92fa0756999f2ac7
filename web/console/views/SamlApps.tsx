import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api.js';
import { type Notice, NoticeLine, useNotice } from '../notice.js';
import {
  BreakableUrl,
  CopyValues,
  pairsFrom,
  pairsText,
  RowActionButtons,
  StateBadge,
  text,
  useEditableRows,
} from './provider-fields.js';

const APPS = '/api/v1/admin/saml/apps';

type NameIdFormat = 'email' | 'persistent' | 'unspecified';

interface SamlApp {
  id: string;
  name: string;
  entityId: string;
  acsUrl: string;
  nameIdFormat: NameIdFormat;
  attributes: Record<string, string>;
  signResponse: boolean;
  enabled: boolean;
  signInUrl: string;
  createdAt: string;
  updatedAt: string;
}

interface IdpAddresses {
  entityId: string;
  ssoUrl: string;
  metadataUrl: string;
}

const NAME_ID_FORMATS: { value: NameIdFormat; label: string }[] = [
  { value: 'email', label: 'E-mail address' },
  { value: 'persistent', label: 'Persistent (per-app pseudonym)' },
  { value: 'unspecified', label: 'Unspecified (user id)' },
];
const nameIdLabel = (format: string) =>
  NAME_ID_FORMATS.find((entry) => entry.value === format)?.label.toLowerCase() ?? format;

/** What an attribute can carry about the person. */
const SOURCES = ['email', 'name', 'id', 'groups', 'roles'];

/** `attributeName=source` lines into the app's attributes, each source one Gatehouse knows. */
function attributesFrom(value: string): Record<string, string> {
  const attributes = pairsFrom(value, 'attributeName=source (one attribute a line)', 'invalid_attributes');
  for (const [attribute, source] of Object.entries(attributes)) {
    if (/\s/.test(attribute)) {
      throw new ApiError(400, 'invalid_attributes', `The attribute name “${attribute}” has a space in it`);
    }
    if (!SOURCES.includes(source)) {
      throw new ApiError(
        400,
        'invalid_attributes',
        `“${attribute}=${source}”: the source is one of ${SOURCES.join(', ')}`,
      );
    }
  }
  return attributes;
}

function appBodyFrom(data: FormData): Record<string, unknown> {
  return {
    name: text(data, 'name'),
    entityId: text(data, 'entityId'),
    acsUrl: text(data, 'acsUrl'),
    nameIdFormat: text(data, 'nameIdFormat'),
    attributes: attributesFrom(String(data.get('attributes') ?? '')),
    signResponse: data.get('signResponse') === 'on',
    enabled: data.get('enabled') === 'on',
  };
}

/** The fields of an app, for registering one and for changing one in place. */
function AppForm({
  app,
  notice,
  onSubmit,
  onInvalid,
  onCancel,
}: {
  app?: SamlApp;
  notice: Notice;
  onSubmit(body: Record<string, unknown>): Promise<boolean>;
  onInvalid(failure: unknown): void;
  onCancel(): void;
}) {
  const id = (name: string) => `saml-app-${name}-${app?.id ?? 'new'}`;
  const submit = async (event: Event) => {
    event.preventDefault();
    let body: Record<string, unknown>;
    try {
      body = appBodyFrom(new FormData(event.currentTarget as HTMLFormElement));
    } catch (failure) {
      onInvalid(failure);
      return;
    }
    await onSubmit(body);
  };
  const title = app ? `Change ${app.name}` : 'New SAML app';

  return (
    <form
      class={app ? 'edit-row provider-form' : 'panel create provider-form'}
      onSubmit={submit}
      aria-label={title}
    >
      <h3>{title}</h3>
      <p class="muted">
        The app’s SAML settings page gives its entity ID (or issuer) and ACS URL; Gatehouse sends responses to
        that ACS URL only.
      </p>
      <div class="form-grid">
        <div>
          <label for={id('name')}>App name</label>
          <input id={id('name')} name="name" required maxLength={100} defaultValue={app?.name ?? ''} />
        </div>
        <div>
          <label for={id('entity-id')}>App entity ID (issuer)</label>
          <input
            id={id('entity-id')}
            name="entityId"
            required
            maxLength={1000}
            autocomplete="off"
            defaultValue={app?.entityId ?? ''}
          />
        </div>
        <div>
          <label for={id('acs-url')}>App ACS URL</label>
          <input
            id={id('acs-url')}
            name="acsUrl"
            type="url"
            required
            maxLength={1000}
            autocomplete="off"
            defaultValue={app?.acsUrl ?? ''}
          />
        </div>
        <div>
          <label for={id('name-id-format')}>NameID format</label>
          <select id={id('name-id-format')} name="nameIdFormat">
            {NAME_ID_FORMATS.map((entry) => (
              <option
                value={entry.value}
                key={entry.value}
                selected={entry.value === (app?.nameIdFormat ?? 'email')}
              >
                {entry.label}
              </option>
            ))}
          </select>
        </div>
        <div class="span-all">
          <label for={id('attributes')}>Attributes (attributeName=source, one a line)</label>
          <textarea
            id={id('attributes')}
            name="attributes"
            rows={4}
            placeholder={'email=email\ndisplayName=name\nmemberOf=roles'}
            spellcheck={false}
            defaultValue={app ? pairsText(app.attributes) : 'email=email\nname=name'}
          />
          <p class="muted">Sources: {SOURCES.join(', ')} (the groups and roles are lists).</p>
        </div>
        <fieldset class="span-all">
          <legend>Behaviour</legend>
          <label class="check">
            <input type="checkbox" name="signResponse" defaultChecked={app?.signResponse ?? true} /> Sign the
            whole response too (the assertion is always signed)
          </label>
          <label class="check">
            <input type="checkbox" name="enabled" defaultChecked={app?.enabled ?? true} /> App enabled (people
            can sign in to it)
          </label>
        </fieldset>
      </div>
      <NoticeLine notice={notice} />
      <div class="filter-buttons">
        <button type="submit">{app ? 'Save' : 'Add app'}</button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/**
 * Apps that sign people in with Gatehouse over SAML: our identity provider's metadata and SSO URLs to give
 * them, and the apps themselves (register, change in place, enable or disable, delete).
 */
export function SamlAppsSection({ canWrite }: { canWrite: boolean }) {
  const [apps, setApps] = useState<SamlApp[] | undefined>();
  const [idp, setIdp] = useState<IdpAddresses | undefined>();
  const load = async () => {
    const answer = await api<{ apps: SamlApp[]; idp: IdpAddresses }>(APPS);
    setApps(answer.apps);
    setIdp(answer.idp);
  };
  const { notice, setNotice, run, fail } = useNotice(load);
  useEffect(() => {
    load().catch(fail);
  }, []);

  const { creating, editing, create, save, toggle, remove, startCreating, startEditing, cancel } =
    useEditableRows<SamlApp>({
      base: APPS,
      notice: { run, setNotice },
      added: (name) => `${name} added. Give it our metadata URL.`,
      deleting: (app) =>
        `Delete the SAML app ${app.name}? People can no longer sign in to it with Gatehouse.`,
    });

  return (
    <section aria-labelledby="saml-apps-title" class="provider-section">
      <div class="heading">
        <h2 id="saml-apps-title">SAML apps (Gatehouse as identity provider)</h2>
        {canWrite && !creating && (
          <button type="button" onClick={startCreating}>
            Add a SAML app
          </button>
        )}
      </div>
      <p class="muted intro">
        Apps that only speak SAML sign people in here. Give each app our metadata URL, or the entity ID and
        SSO URL (Redirect and POST bindings); assertions are signed with a key made at first use.
      </p>
      {idp && (
        <CopyValues
          values={[
            ...(idp.entityId === idp.metadataUrl
              ? ([['Our entity ID and metadata URL', idp.metadataUrl]] as [string, string][])
              : ([
                  ['Our entity ID', idp.entityId],
                  ['Our metadata URL', idp.metadataUrl],
                ] as [string, string][])),
            ['Our SSO URL', idp.ssoUrl],
          ]}
          inline
        />
      )}
      {!creating && !editing && <NoticeLine notice={notice} />}
      {creating && <AppForm notice={notice} onSubmit={create} onInvalid={fail} onCancel={cancel} />}
      <div class="table-scroll">
        <table class="saml-apps">
          <thead>
            <tr>
              <th scope="col">App</th>
              <th scope="col">Sends</th>
              <th scope="col">Sign-in from Gatehouse (IdP-initiated)</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {apps?.map((app) =>
              editing === app.id ? (
                <tr key={app.id}>
                  <td colSpan={5}>
                    <AppForm
                      app={app}
                      notice={notice}
                      onSubmit={(body) => save(app, body)}
                      onInvalid={fail}
                      onCancel={cancel}
                    />
                  </td>
                </tr>
              ) : (
                <tr key={app.id}>
                  <td>
                    <strong>{app.name}</strong>
                    <br />
                    <span class="muted">
                      entity ID{' '}
                      <code>
                        <BreakableUrl url={app.entityId} />
                      </code>
                      <br />
                      ACS URL{' '}
                      <code>
                        <BreakableUrl url={app.acsUrl} />
                      </code>
                    </span>
                  </td>
                  <td>
                    <span class="muted">NameID: {nameIdLabel(app.nameIdFormat)}</span>
                    <br />
                    {Object.keys(app.attributes).length > 0 ? (
                      Object.entries(app.attributes).map(([attribute, source]) => (
                        <code class="chip" key={attribute}>
                          {attribute}={source}
                        </code>
                      ))
                    ) : (
                      <span class="muted">no attributes</span>
                    )}
                    <br />
                    <span class="muted">
                      signed: {app.signResponse ? 'response and assertion' : 'assertion only'}
                    </span>
                  </td>
                  <td>
                    <code class="copy" title="A link that signs the person in to the app">
                      <BreakableUrl url={app.signInUrl} />
                    </code>
                  </td>
                  <td>
                    <StateBadge enabled={app.enabled} updatedAt={app.updatedAt} />
                  </td>
                  <td class="row-actions">
                    {canWrite && (
                      <RowActionButtons
                        label={`SAML app ${app.name}`}
                        enabled={app.enabled}
                        onEdit={() => startEditing(app)}
                        onToggle={() => toggle(app)}
                        onRemove={() => remove(app)}
                      />
                    )}
                  </td>
                </tr>
              ),
            )}
            {apps?.length === 0 && (
              <tr>
                <td colSpan={5}>No SAML apps yet.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
