import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { formatTime } from '../format.js';
import { NoticeLine, submitting, useNotice } from '../notice.js';

interface ServiceAccount {
  id: string;
  name: string;
  description: string;
  disabled: boolean;
  roles: string[];
  createdAt: string;
}

interface ApiKey {
  id: string;
  prefix: string;
  name: string;
  scopes: string[];
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** Non-human callers: service accounts, their roles, and their API keys (each shown once, then only its prefix). */
export function ServiceAccountsView({ canWrite }: { canWrite: boolean }) {
  const [accounts, setAccounts] = useState<ServiceAccount[]>([]);
  const [keys, setKeys] = useState<Record<string, ApiKey[]>>({});
  const [token, setToken] = useState<{ account: string; value: string } | undefined>();

  const loadKeys = async (account: ServiceAccount) => {
    const { keys: list } = await api<{ keys: ApiKey[] }>(
      `/api/v1/admin/service-accounts/${account.id}/api-keys`,
    );
    setKeys((previous) => ({ ...previous, [account.id]: list }));
  };
  const load = async () => {
    const { serviceAccounts } = await api<{ serviceAccounts: ServiceAccount[] }>(
      '/api/v1/admin/service-accounts',
    );
    setAccounts(serviceAccounts);
    await Promise.all(serviceAccounts.map(loadKeys));
  };
  // Every action is followed by a fresh list.
  const { notice: message, run, fail } = useNotice(load);
  useEffect(() => {
    load().catch(fail);
  }, []);

  const create = submitting(
    run,
    (data) => {
      const description = String(data.get('description') ?? '').trim();
      return api('/api/v1/admin/service-accounts', {
        method: 'POST',
        body: { name: String(data.get('name')).trim(), ...(description ? { description } : {}) },
      });
    },
    () => 'Service account created.',
  );
  const newKey = (account: ServiceAccount) =>
    run(async () => {
      const name = window.prompt(`A name for the new key of ${account.name}`, 'deploy');
      if (!name) return;
      const created = await api<{ token: string }>(`/api/v1/admin/service-accounts/${account.id}/api-keys`, {
        method: 'POST',
        body: { name },
      });
      setToken({ account: account.name, value: created.token });
    });
  const revoke = (account: ServiceAccount, key: ApiKey) =>
    run(async () => {
      if (!window.confirm(`Revoke ${key.name} (${key.prefix})? Callers using it are refused at once.`))
        return;
      await api(`/api/v1/admin/service-accounts/${account.id}/api-keys/${key.id}`, { method: 'DELETE' });
    }, 'Key revoked.');

  return (
    <section aria-labelledby="service-accounts-title">
      <h1 id="service-accounts-title">Service accounts and API keys</h1>
      <NoticeLine notice={message} />
      {token && (
        <div class="secret" role="status">
          <p>
            <strong>The new key of {token.account}</strong>, shown only now (Gatehouse keeps a keyed hash):
          </p>
          <code class="secret-value">{token.value}</code>
          <button type="button" class="secondary small" onClick={() => setToken(undefined)}>
            I have stored it
          </button>
        </div>
      )}
      {accounts.map((account) => (
        <div class="panel" key={account.id}>
          <h2>
            {account.name}
            {account.disabled && <span class="badge status-disabled"> disabled</span>}
          </h2>
          <p class="muted">
            {account.description || 'No description'} · roles: {account.roles.join(', ') || 'none'} · since{' '}
            {formatTime(account.createdAt)}
          </p>
          <ul class="plain">
            {(keys[account.id] ?? []).map((key) => (
              <li key={key.id}>
                <code>{key.prefix}</code> <strong>{key.name}</strong> ·{' '}
                {key.revokedAt
                  ? `revoked ${formatTime(key.revokedAt)}`
                  : `last used ${key.lastUsedAt ? formatTime(key.lastUsedAt) : 'never'}`}
                {key.expiresAt && ` · expires ${formatTime(key.expiresAt)}`}{' '}
                {canWrite && !key.revokedAt && (
                  <button type="button" class="secondary small danger" onClick={() => revoke(account, key)}>
                    Revoke
                  </button>
                )}
              </li>
            ))}
            {(keys[account.id] ?? []).length === 0 && <li>No keys.</li>}
          </ul>
          {canWrite && (
            <button type="button" class="secondary small" onClick={() => newKey(account)}>
              New API key
            </button>
          )}
        </div>
      ))}
      {canWrite && (
        <form class="panel filters" onSubmit={create}>
          <div>
            <label for="service-name">New service account</label>
            <input id="service-name" name="name" required maxLength={100} placeholder="billing-worker" />
          </div>
          <div>
            <label for="service-description">What it is for</label>
            <input id="service-description" name="description" maxLength={500} />
          </div>
          <div class="filter-buttons">
            <button type="submit">Create</button>
          </div>
        </form>
      )}
    </section>
  );
}
