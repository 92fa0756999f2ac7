import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { formatTime } from '../format.js';
import { NoticeLine, SaveOrCancel, useNotice } from '../notice.js';

interface Client {
  id: string;
  name: string;
  enabled: boolean;
  firstParty: boolean;
  public: boolean;
  grants: string[];
  redirectUris: string[];
  createdAt: string;
}

interface Resource {
  id: string;
  identifier: string;
  name: string;
  scopes: string[];
}

const lines = (value: FormDataEntryValue | null) =>
  String(value ?? '')
    .split(/\s+/)
    .filter(Boolean);

const GRANTS = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:device_code',
];

/**
 * OAuth clients (register one, its secret shown once; rename it and change its redirect URIs; enable or
 * disable; new secret; remove) and the APIs that accept their access tokens (register, remove).
 */
export function ClientsView({ canWrite }: { canWrite: boolean }) {
  const [clients, setClients] = useState<Client[]>([]);
  const [resources, setResources] = useState<Resource[]>([]);
  const [editing, setEditing] = useState<string | undefined>();
  const [secret, setSecret] = useState<{ client: string; value: string } | undefined>();
  const { notice: message, setNotice: setMessage, fail } = useNotice();
  const [creating, setCreating] = useState(false);

  const load = async () => {
    try {
      const [clientList, resourceList] = await Promise.all([
        api<{ clients: Client[] }>('/api/v1/admin/clients'),
        api<{ resources: Resource[] }>('/api/v1/admin/resources'),
      ]);
      setClients(clientList.clients);
      setResources(resourceList.resources);
    } catch (failure) {
      fail(failure);
    }
  };
  const edit = async (event: Event, client: Client) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    setMessage(undefined);
    try {
      await api(`/api/v1/admin/clients/${client.id}`, {
        method: 'PATCH',
        body: { name: String(data.get('name')).trim(), redirectUris: lines(data.get('redirectUris')) },
      });
      setEditing(undefined);
      setMessage({ kind: 'ok', text: `${String(data.get('name')).trim()} saved.` });
      await load();
    } catch (failure) {
      fail(failure);
    }
  };
  const addResource = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    setMessage(undefined);
    try {
      await api('/api/v1/admin/resources', {
        method: 'POST',
        body: {
          identifier: String(data.get('identifier')).trim(),
          name: String(data.get('name')).trim(),
          scopes: lines(data.get('scopes')),
        },
      });
      form.reset();
      setMessage({ kind: 'ok', text: `API ${String(data.get('name')).trim()} registered.` });
      await load();
    } catch (failure) {
      fail(failure);
    }
  };
  const removeResource = async (resource: Resource) => {
    if (!window.confirm(`Remove the API ${resource.name}? Clients can no longer get tokens for it.`)) return;
    try {
      await api(`/api/v1/admin/resources/${resource.id}`, { method: 'DELETE' });
      setMessage({ kind: 'ok', text: `API ${resource.name} removed.` });
      await load();
    } catch (failure) {
      fail(failure);
    }
  };
  useEffect(() => {
    void load();
  }, []);

  const create = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const isPublic = data.get('public') === 'on';
    const redirectUris = String(data.get('redirectUris') ?? '')
      .split(/\s+/)
      .filter(Boolean);
    setMessage(undefined);
    try {
      const created = await api<{ client: Client; secret?: string }>('/api/v1/admin/clients', {
        method: 'POST',
        body: {
          name: data.get('name'),
          grants: data.getAll('grants'),
          ...(redirectUris.length ? { redirectUris } : {}),
          public: isPublic,
          firstParty: data.get('firstParty') === 'on',
        },
      });
      setSecret(created.secret ? { client: created.client.name, value: created.secret } : undefined);
      setMessage({ kind: 'ok', text: `${created.client.name} registered (client id ${created.client.id}).` });
      setCreating(false);
      form.reset();
      await load();
    } catch (failure) {
      fail(failure);
    }
  };

  const toggle = async (client: Client) => {
    try {
      await api(`/api/v1/admin/clients/${client.id}`, {
        method: 'PATCH',
        body: { enabled: !client.enabled },
      });
      await load();
    } catch (failure) {
      fail(failure);
    }
  };
  const rotate = async (client: Client) => {
    if (!window.confirm(`Give ${client.name} a new secret? The current one stops working at once.`)) return;
    try {
      const rotated = await api<{ secret: string }>(`/api/v1/admin/clients/${client.id}/rotate-secret`, {
        method: 'POST',
      });
      setSecret({ client: client.name, value: rotated.secret });
    } catch (failure) {
      fail(failure);
    }
  };
  const remove = async (client: Client) => {
    if (!window.confirm(`Remove ${client.name}? Its tokens stop working.`)) return;
    try {
      await api(`/api/v1/admin/clients/${client.id}`, { method: 'DELETE' });
      setMessage({ kind: 'ok', text: `${client.name} removed.` });
      await load();
    } catch (failure) {
      fail(failure);
    }
  };

  return (
    <section aria-labelledby="clients-title">
      <div class="heading">
        <h1 id="clients-title">OAuth clients</h1>
        {canWrite && !creating && (
          <button type="button" onClick={() => setCreating(true)}>
            Register a client
          </button>
        )}
      </div>
      {secret && (
        <div class="secret" role="status">
          <p>
            <strong>The secret of {secret.client}</strong>, shown only now (Gatehouse keeps only a keyed
            hash):
          </p>
          <code class="secret-value">{secret.value}</code>
          <button type="button" class="secondary small" onClick={() => setSecret(undefined)}>
            I have stored it
          </button>
        </div>
      )}
      <NoticeLine notice={message} />
      {creating && (
        <form class="panel create" onSubmit={create}>
          <h2>New client</h2>
          <label for="client-name">Name</label>
          <input id="client-name" name="name" required maxLength={200} />
          <fieldset>
            <legend>Grants</legend>
            {GRANTS.map((grant) => (
              <label class="check" key={grant}>
                <input
                  type="checkbox"
                  name="grants"
                  value={grant}
                  defaultChecked={grant === 'authorization_code'}
                />{' '}
                {grant.replace('urn:ietf:params:oauth:grant-type:', '')}
              </label>
            ))}
          </fieldset>
          <label for="client-redirects">Redirect URIs (one per line)</label>
          <textarea id="client-redirects" name="redirectUris" rows={2} />
          <label class="check">
            <input type="checkbox" name="public" /> Public (a browser or mobile app without a secret; PKCE
            only)
          </label>
          <label class="check">
            <input type="checkbox" name="firstParty" /> First party (users are not asked for consent)
          </label>
          <div class="filter-buttons">
            <button type="submit">Register</button>
            <button type="button" class="secondary" onClick={() => setCreating(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      <div class="table-scroll">
        <table class="clients">
          <thead>
            <tr>
              <th scope="col">Client</th>
              <th scope="col">Grants</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {clients.map((client) =>
              editing === client.id ? (
                <tr key={client.id}>
                  <td colSpan={4}>
                    <form class="edit-row" onSubmit={(event) => edit(event, client)}>
                      <code>{client.id}</code>
                      <label for={`client-name-${client.id}`}>Name</label>
                      <input
                        id={`client-name-${client.id}`}
                        name="name"
                        required
                        maxLength={200}
                        defaultValue={client.name}
                      />
                      <label for={`client-redirects-${client.id}`}>Redirect URIs (one per line)</label>
                      <textarea
                        id={`client-redirects-${client.id}`}
                        name="redirectUris"
                        rows={3}
                        defaultValue={client.redirectUris.join('\n')}
                      />
                      <SaveOrCancel onCancel={() => setEditing(undefined)} />
                    </form>
                  </td>
                </tr>
              ) : (
                <tr key={client.id}>
                  <td>
                    <strong>{client.name}</strong>
                    <br />
                    <code>{client.id}</code>
                    <br />
                    <span class="muted">
                      {client.public ? 'public' : 'confidential'}
                      {client.firstParty && ' · first party'} · since {formatTime(client.createdAt)}
                    </span>
                  </td>
                  <td>
                    {client.grants
                      .map((grant) => grant.replace('urn:ietf:params:oauth:grant-type:', ''))
                      .join(', ')}
                  </td>
                  <td>
                    <span class={`badge ${client.enabled ? 'status-active' : 'status-disabled'}`}>
                      {client.enabled ? 'enabled' : 'disabled'}
                    </span>
                  </td>
                  <td class="row-actions">
                    {canWrite && (
                      <>
                        <button
                          type="button"
                          class="secondary small"
                          aria-label={`Edit ${client.name}`}
                          onClick={() => setEditing(client.id)}
                        >
                          Edit
                        </button>
                        <button type="button" class="secondary small" onClick={() => toggle(client)}>
                          {client.enabled ? 'Disable' : 'Enable'}
                        </button>
                        {!client.public && (
                          <button type="button" class="secondary small" onClick={() => rotate(client)}>
                            New secret
                          </button>
                        )}
                        <button type="button" class="secondary small danger" onClick={() => remove(client)}>
                          Remove
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ),
            )}
            {clients.length === 0 && (
              <tr>
                <td colSpan={4}>No clients yet.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <div class="panel">
        <h2>APIs</h2>
        <p class="muted">
          APIs (resource servers) that accept Gatehouse's access tokens: clients ask for them by identifier
          and get JWTs with that audience and the scopes they are allowed.
        </p>
        <ul class="plain">
          {resources.map((resource) => (
            <li key={resource.id}>
              <strong>{resource.name}</strong> <code>{resource.identifier}</code>{' '}
              {resource.scopes.map((scope) => (
                <code key={scope} class="chip">
                  {scope}
                </code>
              ))}
              {canWrite && (
                <button
                  type="button"
                  class="secondary small danger"
                  aria-label={`Remove ${resource.name}`}
                  onClick={() => removeResource(resource)}
                >
                  Remove
                </button>
              )}
            </li>
          ))}
          {resources.length === 0 && <li>No APIs registered.</li>}
        </ul>
        {canWrite && (
          <form class="inline-form" onSubmit={addResource}>
            <label for="resource-identifier">Identifier (the audience: an https:// URL)</label>
            <input id="resource-identifier" name="identifier" type="url" required />
            <label for="resource-name">Name</label>
            <input id="resource-name" name="name" required maxLength={200} />
            <label for="resource-scopes">Scopes (separated by spaces)</label>
            <input id="resource-scopes" name="scopes" required placeholder="invoices:read invoices:write" />
            <button type="submit">Register API</button>
          </form>
        )}
      </div>
    </section>
  );
}
