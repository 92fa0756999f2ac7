import { useEffect, useState } from 'preact/hooks';
import { api, queryString } from '../api.js';
import { formatTime } from '../format.js';
import { NoticeLine, useNotice } from '../notice.js';

interface User {
  id: string;
  email: string;
  emailVerified: boolean;
  name: string | null;
  status: 'active' | 'disabled' | 'locked';
  isAdmin: boolean;
  lockedUntil: string | null;
  mfaRequired: boolean;
  createdAt: string;
  lastLoginAt: string | null;
}

/** Accounts: search, status, and the support actions (disable, enable, unlock, end sessions). */
export function UsersView({ canWrite }: { canWrite: boolean }) {
  const [query, setQuery] = useState('');
  const [status, setStatus] = useState('');
  const [applied, setApplied] = useState({ query: '', status: '' });
  const [users, setUsers] = useState<User[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const { notice: message, setNotice: setMessage, fail } = useNotice();
  const [loading, setLoading] = useState(false);

  const load = async (next?: string) => {
    setLoading(true);
    try {
      const page = await api<{ users: User[]; nextCursor: string | null }>(
        `/api/v1/admin/users${queryString({ ...applied, cursor: next, limit: '50' })}`,
      );
      setUsers((previous) => (next ? [...previous, ...page.users] : page.users));
      setCursor(page.nextCursor);
    } catch (failure) {
      fail(failure);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load();
  }, [applied]);

  const [creating, setCreating] = useState(false);
  const create = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    setMessage(undefined);
    try {
      const name = String(data.get('name') ?? '').trim();
      const { user } = await api<{ user: User }>('/api/v1/admin/users', {
        method: 'POST',
        body: {
          email: data.get('email'),
          password: data.get('password'),
          ...(name ? { name } : {}),
          emailVerified: data.get('emailVerified') === 'on',
        },
      });
      setUsers((list) => [user, ...list]);
      setMessage({ kind: 'ok', text: `${user.email} created.` });
      setCreating(false);
      form.reset();
    } catch (failure) {
      fail(failure);
    }
  };

  const act = async (user: User, action: string, done: string, confirmText?: string) => {
    if (confirmText && !window.confirm(confirmText)) return;
    setMessage(undefined);
    try {
      if (action === 'revoke-sessions' || action === 'mfa/reset') {
        await api(`/api/v1/admin/users/${user.id}/${action}`, { method: 'POST' });
      } else {
        const { user: changed } = await api<{ user: User }>(`/api/v1/admin/users/${user.id}/${action}`, {
          method: 'POST',
        });
        setUsers((list) => list.map((entry) => (entry.id === changed.id ? changed : entry)));
      }
      setMessage({ kind: 'ok', text: `${user.email}: ${done}.` });
    } catch (failure) {
      fail(failure);
    }
  };

  /** What an administrator can do to a user in their state, in the order the buttons show. */
  const actionsFor = (user: User, locked: boolean) => {
    const actions: { action: string; label: string; done: string; confirm?: string; danger?: boolean }[] = [];
    if (locked) actions.push({ action: 'unlock', label: 'Unlock', done: 'unlocked' });
    actions.push(
      user.status === 'disabled'
        ? { action: 'enable', label: 'Enable', done: 'enabled' }
        : {
            action: 'disable',
            label: 'Disable',
            done: 'disabled, sessions ended',
            confirm: `Disable ${user.email} and end their sessions?`,
            danger: true,
          },
      {
        action: 'mfa/reset',
        label: 'Reset 2FA',
        done: 'second factors removed; they can add new ones',
        confirm: `Remove every second factor of ${user.email} (a lost phone)? They sign in with the password alone until they add one.`,
      },
      {
        action: 'revoke-sessions',
        label: 'End sessions',
        done: 'every session ended',
        confirm: `End every session of ${user.email}?`,
      },
    );
    return actions;
  };

  return (
    <section aria-labelledby="users-title">
      <div class="heading">
        <h1 id="users-title">Users</h1>
        {canWrite && !creating && (
          <button type="button" onClick={() => setCreating(true)}>
            Create a user
          </button>
        )}
      </div>
      {creating && (
        <form class="panel create" onSubmit={create}>
          <h2>New user</h2>
          <label for="new-user-email">E-mail</label>
          <input id="new-user-email" name="email" type="email" required />
          <label for="new-user-name">Name (optional)</label>
          <input id="new-user-name" name="name" maxLength={200} />
          <label for="new-user-password">First password (they should change it)</label>
          <input
            id="new-user-password"
            name="password"
            type="password"
            required
            minLength={8}
            autocomplete="new-password"
          />
          <label class="check">
            <input type="checkbox" name="emailVerified" /> The address is known to be theirs
          </label>
          <div class="filter-buttons">
            <button type="submit">Create</button>
            <button type="button" class="secondary" onClick={() => setCreating(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      <form
        class="filters inline"
        onSubmit={(event) => {
          event.preventDefault();
          setApplied({ query, status });
        }}
      >
        <div>
          <label for="user-query">E-mail or name</label>
          <input
            id="user-query"
            type="search"
            value={query}
            onInput={(event) => setQuery((event.target as HTMLInputElement).value)}
          />
        </div>
        <div>
          <label for="user-status">Status</label>
          <select
            id="user-status"
            value={status}
            onChange={(event) => setStatus((event.target as HTMLSelectElement).value)}
          >
            <option value="">any</option>
            <option>active</option>
            <option>locked</option>
            <option>disabled</option>
          </select>
        </div>
        <div class="filter-buttons">
          <button type="submit">Search</button>
        </div>
      </form>
      <NoticeLine notice={message} />
      <div class="table-scroll">
        <table class="users">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Status</th>
              <th scope="col">Last sign-in</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {users.map((user) => {
              // A temporary lockout keeps the status `active` until it ends.
              const locked =
                user.status === 'locked' ||
                (user.lockedUntil !== null && Date.parse(user.lockedUntil) > Date.now());
              const shown = locked ? 'locked' : user.status;
              return (
                <tr key={user.id}>
                  <td>
                    <strong>{user.email}</strong>
                    {user.name && <span class="muted"> · {user.name}</span>}
                    <br />
                    <span class="muted">
                      {user.emailVerified ? 'verified' : 'unverified'}
                      {user.isAdmin && ' · administrator'}
                      {user.mfaRequired && ' · second factor required'}
                    </span>
                  </td>
                  <td>
                    <span class={`badge status-${shown}`}>{shown}</span>
                    {locked && user.lockedUntil && (
                      <span class="muted">
                        <br />
                        until {formatTime(user.lockedUntil)}
                      </span>
                    )}
                  </td>
                  <td>{user.lastLoginAt ? formatTime(user.lastLoginAt) : 'never'}</td>
                  <td class="row-actions">
                    <a href={`#/audit?target=${encodeURIComponent(user.id)}`}>Activity</a>
                    {canWrite &&
                      actionsFor(user, locked).map((entry) => (
                        <button
                          type="button"
                          key={entry.action}
                          class={entry.danger ? 'secondary small danger' : 'secondary small'}
                          onClick={() => act(user, entry.action, entry.done, entry.confirm)}
                        >
                          {entry.label}
                        </button>
                      ))}
                  </td>
                </tr>
              );
            })}
            {!loading && users.length === 0 && (
              <tr>
                <td colSpan={4}>No users match.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <p class="more">
        {loading
          ? 'Loading…'
          : cursor && (
              <button type="button" class="secondary" onClick={() => load(cursor)}>
                More users
              </button>
            )}
      </p>
    </section>
  );
}
