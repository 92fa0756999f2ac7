import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, queryString } from '../api.js';
import { NoticeLine, useNotice } from '../notice.js';

interface Role {
  id: string;
  name: string;
  description: string;
  builtin: boolean;
  permissions: string[];
  includes: string[];
}

interface Group {
  id: string;
  name: string;
  description: string;
}

interface Decision {
  allowed: boolean;
  reasons: string[];
  matchedPolicies: string[];
  explanation?: { roles: string[]; groups: string[]; permissions: string[] };
}

/** The user with exactly this e-mail address, through the users search. */
async function userIdFor(email: string): Promise<string> {
  const { users } = await api<{ users: { id: string; email: string }[] }>(
    `/api/v1/admin/users${queryString({ query: email, limit: '20' })}`,
  );
  const user = users.find((entry) => entry.email.toLowerCase() === email.trim().toLowerCase());
  if (!user) throw new ApiError(404, 'user_not_found', `No user with the e-mail ${email}`);
  return user.id;
}

/** Roles and groups, giving a user a role, and the decision tester (the check API with its explanation). */
export function AccessView({ canWrite, canCheck }: { canWrite: boolean; canCheck: boolean }) {
  const [roles, setRoles] = useState<Role[]>([]);
  const [groups, setGroups] = useState<Group[]>([]);
  const { notice: message, setNotice: setMessage, fail } = useNotice();
  const [decision, setDecision] = useState<Decision | undefined>();

  useEffect(() => {
    Promise.all([
      api<{ roles: Role[] }>('/api/v1/admin/roles'),
      api<{ groups: Group[] }>('/api/v1/admin/groups'),
    ])
      .then(([roleList, groupList]) => {
        setRoles(roleList.roles);
        setGroups(groupList.groups);
      })
      .catch(fail);
  }, []);

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
      const parse = (name: string) => {
        const text = String(data.get(name) ?? '').trim();
        if (!text) return undefined;
        try {
          return JSON.parse(text) as Record<string, unknown>;
        } catch {
          throw new ApiError(400, 'invalid_json', `${name} is not valid JSON`);
        }
      };
      const resource = parse('resource');
      const context = parse('context');
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
            {decision && (
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
            )}
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
      </div>
      <div class="panel">
        <h2>Roles</h2>
        <div class="table-scroll">
          <table class="roles">
            <thead>
              <tr>
                <th scope="col">Role</th>
                <th scope="col">Permissions</th>
                <th scope="col">Includes</th>
              </tr>
            </thead>
            <tbody>
              {roles.map((role) => (
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
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
      <div class="panel">
        <h2>Groups</h2>
        <ul class="plain">
          {groups.map((group) => (
            <li key={group.id}>
              <strong>{group.name}</strong>{' '}
              {group.description && <span class="muted">· {group.description}</span>}
            </li>
          ))}
          {groups.length === 0 && <li>No groups yet.</li>}
        </ul>
      </div>
    </section>
  );
}
