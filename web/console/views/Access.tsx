import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, queryString } from '../api.js';
import { NoticeLine, SaveOrCancel, submitting, useNotice } from '../notice.js';

interface Role {
  id: string;
  name: string;
  description: string;
  builtin: boolean;
  permissions: string[];
  includes: string[];
}

export interface Decision {
  allowed: boolean;
  reasons: string[];
  matchedPolicies: string[];
  explanation?: { roles: string[]; groups: string[]; permissions: string[] };
}

/** The user with exactly this e-mail address, through the users search. */
export async function userIdFor(email: string): Promise<string> {
  const { users } = await api<{ users: { id: string; email: string }[] }>(
    `/api/v1/admin/users${queryString({ query: email, limit: '20' })}`,
  );
  const user = users.find((entry) => entry.email.toLowerCase() === email.trim().toLowerCase());
  if (!user) throw new ApiError(404, 'user_not_found', `No user with the e-mail ${email}`);
  return user.id;
}

/** Parses an optional JSON object typed into a field, naming the field when it is not JSON. */
export function jsonField(data: FormData, name: string, label: string): Record<string, unknown> | undefined {
  const text = String(data.get(name) ?? '').trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ApiError(400, 'invalid_json', `${label} is not valid JSON`);
  }
}

/** A decision and why: the reasons, the policies that matched, and the roles and groups it looked at. */
export function DecisionLine({ decision }: { decision: Decision }) {
  return (
    <div class={decision.allowed ? 'verification ok' : 'verification failed'} role="status">
      <p>
        <strong>{decision.allowed ? 'Allowed' : 'Denied'}</strong>
      </p>
      <ul>
        {decision.reasons.map((reason) => (
          <li key={reason}>{reason}</li>
        ))}
        {decision.matchedPolicies.map((policy) => (
          <li key={policy}>policy {policy}</li>
        ))}
      </ul>
      {decision.explanation && (
        <p class="muted">
          Roles: {decision.explanation.roles.join(', ') || 'none'} · groups:{' '}
          {decision.explanation.groups.join(', ') || 'none'}
        </p>
      )}
    </div>
  );
}

/** Names separated by commas, spaces or new lines. */
export const namesIn = (text: FormDataEntryValue | null) =>
  String(text ?? '')
    .split(/[\s,]+/)
    .filter(Boolean);

/**
 * Roles (create, change their permissions and included roles, delete), giving a user a role, and the
 * decision tester (the check API with its explanation).
 */
export function AccessView({ canWrite, canCheck }: { canWrite: boolean; canCheck: boolean }) {
  const [roles, setRoles] = useState<Role[]>([]);
  const [permissions, setPermissions] = useState<{ name: string; description: string; builtin: boolean }[]>(
    [],
  );
  const [editing, setEditing] = useState<string | undefined>();
  const [creating, setCreating] = useState(false);
  const load = async () => {
    const [roleList, permissionList] = await Promise.all([
      api<{ roles: Role[] }>('/api/v1/admin/roles'),
      api<{ permissions: typeof permissions }>('/api/v1/admin/permissions'),
    ]);
    setRoles(roleList.roles);
    setPermissions(permissionList.permissions);
  };
  const { notice: message, setNotice: setMessage, fail, run } = useNotice(load);
  const [decision, setDecision] = useState<Decision | undefined>();

  useEffect(() => {
    load().catch(fail);
  }, []);

  const create = submitting(
    run,
    (data) =>
      api('/api/v1/admin/roles', {
        method: 'POST',
        body: {
          name: String(data.get('name')).trim(),
          description: String(data.get('description') ?? '').trim(),
          permissions: namesIn(data.get('permissions')),
          includes: namesIn(data.get('includes')),
        },
      }),
    (data) => `Role ${String(data.get('name')).trim()} created.`,
    () => setCreating(false),
  );

  const register = submitting(
    run,
    (data) =>
      api('/api/v1/admin/permissions', {
        method: 'POST',
        body: {
          name: String(data.get('name')).trim(),
          description: String(data.get('description') ?? '').trim(),
        },
      }),
    (data) => `Permission ${String(data.get('name')).trim()} registered.`,
  );

  const save = async (event: Event, role: Role) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const done = await run(
      () =>
        api(`/api/v1/admin/roles/${encodeURIComponent(role.name)}`, {
          method: 'PATCH',
          body: {
            description: String(data.get('description') ?? '').trim(),
            permissions: namesIn(data.get('permissions')),
            includes: namesIn(data.get('includes')),
          },
        }),
      `Role ${role.name} saved.`,
    );
    if (done) setEditing(undefined);
  };

  const remove = (role: Role) => {
    if (!window.confirm(`Delete the role ${role.name}? Everyone holding it loses its permissions.`)) return;
    void run(
      () => api(`/api/v1/admin/roles/${encodeURIComponent(role.name)}`, { method: 'DELETE' }),
      `Role ${role.name} deleted.`,
    );
  };

  const assign = async (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    setMessage(undefined);
    try {
      const email = String(data.get('email'));
      const role = String(data.get('role'));
      await api(`/api/v1/admin/users/${await userIdFor(email)}/roles/${encodeURIComponent(role)}`, {
        method: 'PUT',
      });
      setMessage({ kind: 'ok', text: `${email} now holds ${role}.` });
    } catch (failure) {
      fail(failure);
    }
  };

  const test = async (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    setMessage(undefined);
    setDecision(undefined);
    try {
      const resource = jsonField(data, 'resource', 'Resource');
      const context = jsonField(data, 'context', 'Context');
      setDecision(
        await api<Decision>('/api/v1/authz/check?explain=true', {
          method: 'POST',
          body: {
            subject: { type: 'user', id: await userIdFor(String(data.get('subject'))) },
            action: String(data.get('action')).trim(),
            ...(resource ? { resource } : {}),
            ...(context ? { context } : {}),
          },
        }),
      );
    } catch (failure) {
      fail(failure);
    }
  };

  return (
    <section aria-labelledby="access-title">
      <h1 id="access-title">Roles and access</h1>
      <NoticeLine notice={message} />
      <div class="columns">
        {canCheck && (
          <form class="panel narrow-form" onSubmit={test}>
            <h2>Test a decision</h2>
            <label for="check-subject">User (e-mail)</label>
            <input id="check-subject" name="subject" type="email" required />
            <label for="check-action">Permission</label>
            <input id="check-action" name="action" required placeholder="invoices:write" />
            <label for="check-resource">Resource (JSON, optional)</label>
            <textarea
              id="check-resource"
              name="resource"
              rows={2}
              placeholder='{"type":"invoice","owner":"…"}'
            />
            <label for="check-context">Context (JSON, optional)</label>
            <textarea id="check-context" name="context" rows={2} />
            <button type="submit">Decide</button>
            {decision && <DecisionLine decision={decision} />}
          </form>
        )}
        {canWrite && (
          <form class="panel narrow-form" onSubmit={assign}>
            <h2>Give a user a role</h2>
            <label for="assign-email">User (e-mail)</label>
            <input id="assign-email" name="email" type="email" required />
            <label for="assign-role">Role</label>
            <select id="assign-role" name="role">
              {roles
                .filter((role) => role.name !== 'user')
                .map((role) => (
                  <option key={role.id}>{role.name}</option>
                ))}
            </select>
            <button type="submit">Give role</button>
          </form>
        )}
        {canWrite && (
          <form class="panel narrow-form" onSubmit={register}>
            <h2>Register a permission</h2>
            <p class="muted">Roles can only give permissions registered here (or built in).</p>
            <label for="permission-name">Permission (resource:action)</label>
            <input
              id="permission-name"
              name="name"
              required
              maxLength={129}
              pattern="(\*|[a-z][a-z0-9._\-]{0,63}:(\*|[a-z][a-z0-9._\-]{0,63}))"
              title="resource:action, e.g. invoices:read"
              placeholder="invoices:read"
            />
            <label for="permission-description">Description</label>
            <input id="permission-description" name="description" maxLength={500} />
            <button type="submit">Register</button>
          </form>
        )}
      </div>
      <div class="panel">
        <div class="heading">
          <h2>Roles</h2>
          {canWrite && !creating && (
            <button type="button" onClick={() => setCreating(true)}>
              New role
            </button>
          )}
        </div>
        {creating && (
          <form class="create" onSubmit={create}>
            <label for="role-name">Name</label>
            <input id="role-name" name="name" required maxLength={80} placeholder="billing-admin" />
            <label for="role-description">Description</label>
            <input id="role-description" name="description" maxLength={500} />
            <label for="role-permissions">Permissions (resource:action, separated by spaces or commas)</label>
            <textarea
              id="role-permissions"
              name="permissions"
              rows={2}
              placeholder="invoices:read invoices:write"
            />
            <label for="role-includes">Includes the roles</label>
            <input id="role-includes" name="includes" placeholder="user" />
            <div class="filter-buttons">
              <button type="submit">Create role</button>
              <button type="button" class="secondary" onClick={() => setCreating(false)}>
                Cancel
              </button>
            </div>
          </form>
        )}
        <div class="table-scroll">
          <table class="roles">
            <thead>
              <tr>
                <th scope="col">Role</th>
                <th scope="col">Permissions</th>
                <th scope="col">Includes</th>
                {canWrite && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {roles.map((role) =>
                editing === role.id ? (
                  <tr key={role.id}>
                    <td colSpan={canWrite ? 4 : 3}>
                      <form class="edit-row" onSubmit={(event) => save(event, role)}>
                        <strong>{role.name}</strong>
                        <label for={`edit-description-${role.id}`}>Description</label>
                        <input
                          id={`edit-description-${role.id}`}
                          name="description"
                          maxLength={500}
                          defaultValue={role.description}
                        />
                        <label for={`edit-permissions-${role.id}`}>Permissions</label>
                        <textarea
                          id={`edit-permissions-${role.id}`}
                          name="permissions"
                          rows={2}
                          defaultValue={role.permissions.join(' ')}
                        />
                        <label for={`edit-includes-${role.id}`}>Includes the roles</label>
                        <input
                          id={`edit-includes-${role.id}`}
                          name="includes"
                          defaultValue={role.includes.join(' ')}
                        />
                        <SaveOrCancel onCancel={() => setEditing(undefined)} />
                      </form>
                    </td>
                  </tr>
                ) : (
                  <tr key={role.id}>
                    <td>
                      <strong>{role.name}</strong>
                      {role.builtin && <span class="badge low"> built in</span>}
                      <br />
                      <span class="muted">{role.description}</span>
                    </td>
                    <td>
                      {role.permissions.map((permission) => (
                        <code key={permission} class="chip">
                          {permission}
                        </code>
                      ))}
                    </td>
                    <td>{role.includes.join(', ') || '—'}</td>
                    {canWrite && (
                      <td class="row-actions">
                        <button
                          type="button"
                          class="secondary small"
                          onClick={() => setEditing(role.id)}
                          aria-label={`Edit ${role.name}`}
                        >
                          Edit
                        </button>
                        {!role.builtin && (
                          <button
                            type="button"
                            class="secondary small danger"
                            onClick={() => remove(role)}
                            aria-label={`Delete ${role.name}`}
                          >
                            Delete
                          </button>
                        )}
                      </td>
                    )}
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
      </div>
      <details class="panel">
        <summary>Registered permissions ({permissions.length})</summary>
        <p>
          {permissions.map((permission) => (
            <code key={permission.name} class="chip" title={permission.description}>
              {permission.name}
            </code>
          ))}
        </p>
      </details>
    </section>
  );
}
