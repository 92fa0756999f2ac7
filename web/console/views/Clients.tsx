import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { formatTime } from '../format.js';
import { NoticeLine, useNotice } from '../notice.js';

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

const GRANTS = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:device_code',
];

/** OAuth clients: register one (its secret is shown once), enable or disable, rotate the secret, remove. */
export function ClientsView({ canWrite }: { canWrite: boolean }) {
  const [clients, setClients] = useState<Client[]>([]);
  const [secret, setSecret] = useState<{ client: string; value: string } | undefined>();
  const { notice: message, setNotice: setMessage, fail } = useNotice();
  const [creating, setCreating] = useState(false);

  const load = async () => {
    try {
      setClients((await api<{ clients: Client[] }>('/api/v1/admin/clients')).clients);
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
            {clients.map((client) => (
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
            ))}
            {clients.length === 0 && (
              <tr>
                <td colSpan={4}>No clients yet.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
