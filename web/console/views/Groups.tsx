import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { NoticeLine, submitting, useNotice } from '../notice.js';
import { userIdFor } from './Access.js';

interface Group {
  id: string;
  name: string;
  description: string;
}

interface GroupDetail extends Group {
  members: { id: string; email: string }[];
  parents: string[];
  children: string[];
  roles: string[];
}

const path = (group: string, ...rest: string[]) =>
  ['/api/v1/admin/groups', group, ...rest]
    .map((part, index) => (index ? encodeURIComponent(part) : part))
    .join('/');

/** Groups: create and delete them, and change one's members, roles and parent groups. */
export function GroupsView({ canWrite }: { canWrite: boolean }) {
  const [groups, setGroups] = useState<Group[]>([]);
  const [roles, setRoles] = useState<string[]>([]);
  const [open, setOpen] = useState<GroupDetail | undefined>();
  const reload = async () => {
    setGroups((await api<{ groups: Group[] }>('/api/v1/admin/groups')).groups);
    if (open) setOpen((await api<{ group: GroupDetail }>(path(open.id))).group);
  };
  const { notice, fail, run } = useNotice(reload);

  useEffect(() => {
    Promise.all([
      api<{ groups: Group[] }>('/api/v1/admin/groups'),
      api<{ roles: { name: string }[] }>('/api/v1/admin/roles'),
    ])
      .then(([groupList, roleList]) => {
        setGroups(groupList.groups);
        setRoles(roleList.roles.map((role) => role.name));
      })
      .catch(fail);
  }, []);

  const show = (group: Group) =>
    run(async () => setOpen((await api<{ group: GroupDetail }>(path(group.id))).group));

  const submit = (action: (data: FormData) => Promise<unknown>, done: (data: FormData) => string) =>
    submitting(run, action, done);

  const create = submit(
    async (data) => {
      const { group } = await api<{ group: Group }>('/api/v1/admin/groups', {
        method: 'POST',
        body: {
          name: String(data.get('name')).trim(),
          description: String(data.get('description') ?? '').trim(),
        },
      });
      setOpen({ ...group, members: [], parents: [], children: [], roles: [] });
    },
    (data) => `Group ${String(data.get('name')).trim()} created.`,
  );

  const remove = (group: Group) => {
    if (!window.confirm(`Delete the group ${group.name}? Its members lose the roles it gives.`)) return;
    void run(async () => {
      await api(path(group.id), { method: 'DELETE' });
      if (open?.id === group.id) setOpen(undefined);
    }, `Group ${group.name} deleted.`);
  };

  const parentChoices = open
    ? groups.filter((group) => group.id !== open.id && !open.parents.includes(group.name))
    : [];

  return (
    <section aria-labelledby="groups-title">
      <h1 id="groups-title">Groups</h1>
      <NoticeLine notice={notice} />
      <div class="columns">
        <div class="panel">
          <h2>All groups</h2>
          <ul class="plain">
            {groups.map((group) => (
              <li key={group.id}>
                <button
                  type="button"
                  class="link"
                  onClick={() => show(group)}
                  aria-current={open?.id === group.id}
                >
                  {group.name}
                </button>{' '}
                {group.description && <span class="muted">· {group.description}</span>}
                {canWrite && (
                  <button
                    type="button"
                    class="secondary small danger"
                    onClick={() => remove(group)}
                    aria-label={`Delete ${group.name}`}
                  >
                    Delete
                  </button>
                )}
              </li>
            ))}
            {groups.length === 0 && <li>No groups yet.</li>}
          </ul>
          {canWrite && (
            <form class="narrow-form" onSubmit={create}>
              <h3>New group</h3>
              <label for="group-name">Name</label>
              <input id="group-name" name="name" required maxLength={80} placeholder="finance" />
              <label for="group-description">Description</label>
              <input id="group-description" name="description" maxLength={500} />
              <button type="submit">Create group</button>
            </form>
          )}
        </div>
        {open && (
          <section class="panel" aria-labelledby="group-detail-title">
            <h2 id="group-detail-title">Group {open.name}</h2>
            {open.description && <p class="muted">{open.description}</p>}
            <h3>Members</h3>
            <ul class="plain">
              {open.members.map((member) => (
                <li key={member.id}>
                  {member.email}{' '}
                  {canWrite && (
                    <button
                      type="button"
                      class="secondary small"
                      aria-label={`Remove ${member.email}`}
                      onClick={() =>
                        run(
                          () => api(path(open.id, 'members', member.id), { method: 'DELETE' }),
                          `${member.email} left ${open.name}.`,
                        )
                      }
                    >
                      Remove
                    </button>
                  )}
                </li>
              ))}
              {open.members.length === 0 && <li>No members.</li>}
            </ul>
            {canWrite && (
              <form
                class="inline-form"
                onSubmit={submit(
                  async (data) =>
                    api(path(open.id, 'members', await userIdFor(String(data.get('email')))), {
                      method: 'PUT',
                    }),
                  (data) => `${String(data.get('email'))} joined ${open.name}.`,
                )}
              >
                <label for="member-email">Add a member (e-mail)</label>
                <input id="member-email" name="email" type="email" required />
                <button type="submit">Add member</button>
              </form>
            )}
            <h3>Roles the group gives</h3>
            <ul class="plain">
              {open.roles.map((role) => (
                <li key={role}>
                  <code class="chip">{role}</code>
                  {canWrite && (
                    <button
                      type="button"
                      class="secondary small"
                      aria-label={`Take ${role} from the group`}
                      onClick={() =>
                        run(
                          () => api(path(open.id, 'roles', role), { method: 'DELETE' }),
                          `${open.name} no longer gives ${role}.`,
                        )
                      }
                    >
                      Remove
                    </button>
                  )}
                </li>
              ))}
              {open.roles.length === 0 && <li>No roles.</li>}
            </ul>
            {canWrite && (
              <form
                class="inline-form"
                onSubmit={submit(
                  (data) => api(path(open.id, 'roles', String(data.get('role'))), { method: 'PUT' }),
                  (data) => `${open.name} now gives ${String(data.get('role'))}.`,
                )}
              >
                <label for="group-role">Give the group a role</label>
                <select id="group-role" name="role">
                  {roles
                    .filter((role) => !open.roles.includes(role))
                    .map((role) => (
                      <option key={role}>{role}</option>
                    ))}
                </select>
                <button type="submit">Give role</button>
              </form>
            )}
            <h3>Sits in</h3>
            <p>{open.parents.join(', ') || 'No parent groups.'}</p>
            {open.children.length > 0 && <p class="muted">Contains: {open.children.join(', ')}</p>}
            {canWrite && parentChoices.length > 0 && (
              <form
                class="inline-form"
                onSubmit={submit(
                  (data) => api(path(open.id, 'parents', String(data.get('parent'))), { method: 'PUT' }),
                  (data) => `${open.name} now sits in ${String(data.get('parent'))}.`,
                )}
              >
                <label for="group-parent">Put it inside the group</label>
                <select id="group-parent" name="parent">
                  {parentChoices.map((group) => (
                    <option key={group.id} value={group.id}>
                      {group.name}
                    </option>
                  ))}
                </select>
                <button type="submit">Add parent</button>
              </form>
            )}
          </section>
        )}
      </div>
    </section>
  );
}
