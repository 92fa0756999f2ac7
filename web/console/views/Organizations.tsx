import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { formatTime } from '../format.js';
import { NoticeLine, submitting, useNotice } from '../notice.js';

interface Organization {
  id: string;
  name: string;
  slug: string;
  createdAt: string;
}

interface Detail extends Organization {
  members: { id: string; email: string; roles: string[]; joinedAt: string }[];
  invitations: { id: string; email: string; expiresAt: string }[];
}

/** Tenants: create one, see its members and pending invitations, invite someone by e-mail. */
export function OrganizationsView({ canWrite }: { canWrite: boolean }) {
  const [organizations, setOrganizations] = useState<Organization[]>([]);
  const [open, setOpen] = useState<Detail | undefined>();
  const { notice: message, run, fail } = useNotice();

  const load = async () =>
    setOrganizations(
      (await api<{ organizations: Organization[] }>('/api/v1/admin/organizations')).organizations,
    );
  const show = async (slug: string) =>
    setOpen((await api<{ organization: Detail }>(`/api/v1/admin/organizations/${slug}`)).organization);
  useEffect(() => {
    load().catch(fail);
  }, []);

  const create = submitting(
    run,
    async (data) => {
      await api('/api/v1/admin/organizations', {
        method: 'POST',
        body: { name: String(data.get('name')).trim(), slug: String(data.get('slug')).trim() },
      });
      await load();
    },
    () => 'Organization created.',
  );
  const invite = (event: Event) => {
    event.preventDefault();
    if (!open) return;
    const form = event.currentTarget as HTMLFormElement;
    const email = String(new FormData(form).get('email')).trim();
    void run(async () => {
      await api(`/api/v1/admin/organizations/${open.slug}/invitations`, { method: 'POST', body: { email } });
      form.reset();
      await show(open.slug);
    }, `Invitation sent to ${email}.`);
  };

  return (
    <section aria-labelledby="organizations-title">
      <h1 id="organizations-title">Organizations</h1>
      <NoticeLine notice={message} />
      <div class="columns">
        <div class="panel">
          <h2>All organizations</h2>
          <ul class="plain">
            {organizations.map((organization) => (
              <li key={organization.id}>
                <button type="button" class="link" onClick={() => show(organization.slug)}>
                  {organization.name}
                </button>{' '}
                <code>{organization.slug}</code> · since {formatTime(organization.createdAt)}
              </li>
            ))}
            {organizations.length === 0 && <li>None yet.</li>}
          </ul>
          {canWrite && (
            <form class="filters" onSubmit={create}>
              <div>
                <label for="organization-name">Name</label>
                <input id="organization-name" name="name" required maxLength={200} />
              </div>
              <div>
                <label for="organization-slug">Slug (a-z, 0-9, -)</label>
                <input id="organization-slug" name="slug" required pattern="[a-z0-9][a-z0-9\-]{1,62}" />
              </div>
              <div class="filter-buttons">
                <button type="submit">Create</button>
              </div>
            </form>
          )}
        </div>
        {open && (
          <div class="panel">
            <h2>{open.name}</h2>
            <ul class="plain">
              {open.members.map((member) => (
                <li key={member.id}>
                  {member.email} · {member.roles.join(', ') || 'member'} · joined{' '}
                  {formatTime(member.joinedAt)}
                </li>
              ))}
              {open.invitations.map((invitation) => (
                <li key={invitation.id} class="muted">
                  {invitation.email} · invited, until {formatTime(invitation.expiresAt)}
                </li>
              ))}
              {open.members.length + open.invitations.length === 0 && <li>No members yet.</li>}
            </ul>
            {canWrite && (
              <form class="filters" onSubmit={invite}>
                <div>
                  <label for="invite-email">Invite by e-mail</label>
                  <input id="invite-email" name="email" type="email" required />
                </div>
                <div class="filter-buttons">
                  <button type="submit">Invite</button>
                </div>
              </form>
            )}
          </div>
        )}
      </div>
    </section>
  );
}
