import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, rememberCsrfToken, signedIn } from './api.js';
import { AccessView } from './views/Access.js';
import { AuditView } from './views/Audit.js';
import { ClientsView } from './views/Clients.js';
import { DashboardView } from './views/Dashboard.js';
import { DefencesView } from './views/Defences.js';
import { GroupsView } from './views/Groups.js';
import { OrganizationsView } from './views/Organizations.js';
import { PoliciesView } from './views/Policies.js';
import { ProvidersView } from './views/Providers.js';
import { ServiceAccountsView } from './views/ServiceAccounts.js';
import { SettingsView } from './views/Settings.js';
import { SignInView } from './views/SignIn.js';
import { SystemView } from './views/System.js';
import { UsersView } from './views/Users.js';

interface Me {
  user: { id: string; email: string; name?: string | null };
  csrfToken: string;
}

const ROUTES = [
  { hash: '#/', label: 'Dashboard', permission: 'security:read' },
  { hash: '#/users', label: 'Users', permission: 'users:read' },
  { hash: '#/clients', label: 'Clients', permission: 'clients:read' },
  { hash: '#/providers', label: 'Sign-in providers', permission: 'system:read' },
  { hash: '#/access', label: 'Roles', permission: 'authz:read' },
  { hash: '#/groups', label: 'Groups', permission: 'authz:read' },
  { hash: '#/policies', label: 'Policies', permission: 'authz:read' },
  { hash: '#/organizations', label: 'Organizations', permission: 'orgs:read' },
  { hash: '#/service-accounts', label: 'API keys', permission: 'authz:read' },
  { hash: '#/audit', label: 'Audit log', permission: 'audit:read' },
  { hash: '#/security', label: 'Security', permission: 'security:read' },
  { hash: '#/defences', label: 'Blocks', permission: 'security:read' },
  { hash: '#/system', label: 'System', permission: 'system:read' },
  { hash: '#/settings', label: 'Settings', permission: 'system:read' },
] as const;

function useHash(): string {
  const [hash, setHash] = useState(window.location.hash || '#/');
  useEffect(() => {
    const changed = () => setHash(window.location.hash || '#/');
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return hash;
}

function App({ productName }: { productName: string }) {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [permissions, setPermissions] = useState<string[]>([]);
  const hash = useHash();
  const path = hash.split('?')[0];

  const load = async () => {
    const current = await signedIn<Me>();
    try {
      if (current)
        setPermissions((await api<{ permissions: string[] }>('/api/v1/me/permissions')).permissions);
      setMe(current);
    } catch (error) {
      // Signed out in between: the sign-in form, as for any 401.
      if (error instanceof ApiError && error.status === 401) setMe(null);
      else throw error;
    }
  };
  useEffect(() => {
    void load();
  }, []);

  useEffect(() => {
    const route = ROUTES.find((entry) => entry.hash === path);
    document.title = `${route?.label ?? 'Admin'} · ${productName}`;
  }, [path, productName]);

  if (me === undefined) return <p class="loading">Loading…</p>;
  if (me === null) return <SignInView productName={productName} onSignedIn={load} />;

  const signOut = async () => {
    await api('/api/v1/auth/logout', { method: 'POST' });
    rememberCsrfToken(undefined);
    setMe(null);
  };
  const may = (permission: string) => permissions.includes(permission);

  return (
    <div class="shell">
      <header class="top">
        <span class="brand">{productName} admin</span>
        <nav aria-label="Sections">
          {ROUTES.filter((route) => may(route.permission)).map((route) => (
            <a href={route.hash} aria-current={route.hash === path ? 'page' : undefined} key={route.hash}>
              {route.label}
            </a>
          ))}
        </nav>
        <span class="who">
          <span class="email" title={me.user.email}>
            {me.user.email}
          </span>
          <button type="button" class="link" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      <main>
        {!ROUTES.some((route) => may(route.permission)) ? (
          <p class="notice" role="alert">
            Your account holds none of the permissions the console shows (users:read, clients:read,
            audit:read, security:read).
          </p>
        ) : path === '#/users' && may('users:read') ? (
          <UsersView canWrite={may('users:write')} />
        ) : path === '#/clients' && may('clients:read') ? (
          <ClientsView canWrite={may('clients:write')} />
        ) : path === '#/providers' && may('system:read') ? (
          <ProvidersView canWrite={may('system:write')} />
        ) : path === '#/access' && may('authz:read') ? (
          <AccessView canWrite={may('authz:write')} canCheck={may('authz:check')} />
        ) : path === '#/groups' && may('authz:read') ? (
          <GroupsView canWrite={may('authz:write')} />
        ) : path === '#/policies' && may('authz:read') ? (
          <PoliciesView canWrite={may('authz:write')} />
        ) : path === '#/organizations' && may('orgs:read') ? (
          <OrganizationsView canWrite={may('orgs:write')} />
        ) : path === '#/service-accounts' && may('authz:read') ? (
          <ServiceAccountsView canWrite={may('authz:write')} />
        ) : path === '#/audit' && may('audit:read') ? (
          <AuditView source="audit" title="Audit log" key={hash} />
        ) : path === '#/security' && may('security:read') ? (
          <AuditView source="security" title="Security events" key={hash} />
        ) : path === '#/defences' && may('security:read') ? (
          <DefencesView canWrite={may('security:write')} />
        ) : path === '#/system' && may('system:read') ? (
          <SystemView canWrite={may('system:write')} />
        ) : path === '#/settings' && may('system:read') ? (
          <SettingsView />
        ) : may('security:read') ? (
          <DashboardView />
        ) : (
          <p class="notice">Choose a section above.</p>
        )}
      </main>
    </div>
  );
}

const root = document.getElementById('app');
if (root) render(<App productName={root.dataset.product ?? 'Gatehouse'} />, root);
