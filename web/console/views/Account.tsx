import { startRegistration } from '@simplewebauthn/browser';
import { useEffect, useState } from 'preact/hooks';
import { api, messageOf, rememberCsrfToken } from '../api.js';
import { formatTime } from '../format.js';
import { NoticeLine, useNotice } from '../notice.js';

interface Method {
  id: string;
  type: string;
  name: string;
  status: 'pending' | 'active';
  createdAt: string;
  lastUsedAt: string | null;
}

const FACTOR_KINDS: Record<string, string> = {
  totp: 'authenticator app',
  webauthn: 'passkey',
  email: 'e-mailed code',
  sms: 'text message',
};

/**
 * Second factors: add an authenticator app (QR code, then its first code), a passkey or e-mailed codes;
 * rename and remove them; backup codes are shown once when the first factor is added.
 */
export function TwoFactorSection() {
  const [methods, setMethods] = useState<Method[]>([]);
  const [enrolling, setEnrolling] = useState<
    { id: string; qrCode?: string; secret?: string; sentTo?: string } | undefined
  >();
  const [renaming, setRenaming] = useState<string | undefined>();
  const [backupCodes, setBackupCodes] = useState<string[] | undefined>();
  const { notice, setNotice, fail } = useNotice();

  const load = async () => setMethods((await api<{ methods: Method[] }>('/api/v1/me/mfa/methods')).methods);
  useEffect(() => {
    load().catch(fail);
  }, []);

  const start = async () => {
    setNotice(undefined);
    try {
      const started = await api<{ method: Method; totp: { qrCode: string; secret: string } }>(
        '/api/v1/me/mfa/methods',
        { method: 'POST', body: { type: 'totp', name: 'Authenticator app' } },
      );
      setEnrolling({ id: started.method.id, qrCode: started.totp.qrCode, secret: started.totp.secret });
    } catch (failure) {
      fail(failure);
    }
  };
  const startEmail = async () => {
    setNotice(undefined);
    try {
      const started = await api<{ method: Method; code?: { sentTo?: string } }>('/api/v1/me/mfa/methods', {
        method: 'POST',
        body: { type: 'email', name: 'E-mail' },
      });
      setEnrolling({
        id: started.method.id,
        ...(started.code?.sentTo ? { sentTo: started.code.sentTo } : {}),
      });
    } catch (failure) {
      fail(failure);
    }
  };
  const rename = async (event: Event, method: Method) => {
    event.preventDefault();
    const name = String(new FormData(event.currentTarget as HTMLFormElement).get('name') ?? '').trim();
    try {
      await api(`/api/v1/me/mfa/methods/${method.id}`, { method: 'PATCH', body: { name } });
      setRenaming(undefined);
      setNotice({ kind: 'ok', text: `Renamed to ${name}.` });
      await load();
    } catch (failure) {
      fail(failure);
    }
  };
  const confirm = async (event: Event) => {
    event.preventDefault();
    if (!enrolling) return;
    const code = String(new FormData(event.currentTarget as HTMLFormElement).get('code') ?? '').trim();
    try {
      const confirmed = await api<{ backupCodes?: string[] }>(
        `/api/v1/me/mfa/methods/${enrolling.id}/verify`,
        {
          method: 'POST',
          body: { code },
        },
      );
      setEnrolling(undefined);
      setBackupCodes(confirmed.backupCodes);
      await load();
    } catch (failure) {
      fail(failure);
    }
  };
  const addPasskey = async () => {
    setNotice(undefined);
    try {
      const started = await api<{ method: Method; webauthn: { options: unknown } }>(
        '/api/v1/me/mfa/methods',
        {
          method: 'POST',
          body: { type: 'webauthn', name: 'Passkey' },
        },
      );
      const response = await startRegistration({
        optionsJSON: started.webauthn.options as Parameters<typeof startRegistration>[0]['optionsJSON'],
      });
      const confirmed = await api<{ backupCodes?: string[] }>(
        `/api/v1/me/mfa/methods/${started.method.id}/verify`,
        { method: 'POST', body: { response } },
      );
      setBackupCodes(confirmed.backupCodes);
      await load();
    } catch (failure) {
      setNotice({
        kind: 'error',
        text:
          failure instanceof Error && failure.name === 'NotAllowedError'
            ? 'The passkey was not created.'
            : messageOf(failure),
      });
    }
  };
  const remove = async (method: Method) => {
    if (!window.confirm(`Remove ${method.name}?`)) return;
    try {
      await api(`/api/v1/me/mfa/methods/${method.id}`, { method: 'DELETE' });
      await load();
    } catch (failure) {
      fail(failure);
    }
  };
  const active = methods.filter((method) => method.status === 'active');

  return (
    <section class="panel" id="security" aria-labelledby="two-factor-title">
      <h2 id="two-factor-title">Two-step sign-in</h2>
      {active.length === 0 ? (
        <p>Off. Add an authenticator app so a stolen password is not enough to sign in as you.</p>
      ) : (
        <ul class="plain">
          {active.map((method) =>
            renaming === method.id ? (
              <li key={method.id}>
                <form class="rename-form" onSubmit={(event) => rename(event, method)}>
                  <label for={`rename-${method.id}`}>New name for {method.name}</label>
                  <input
                    id={`rename-${method.id}`}
                    name="name"
                    required
                    maxLength={64}
                    defaultValue={method.name}
                    // Keyboard users land in the field they asked for.
                    ref={(input) => input?.focus()}
                  />
                  <button type="submit" class="small">
                    Save
                  </button>
                  <button type="button" class="secondary small" onClick={() => setRenaming(undefined)}>
                    Cancel
                  </button>
                </form>
              </li>
            ) : (
              <li key={method.id}>
                <strong>{method.name}</strong> ({FACTOR_KINDS[method.type] ?? method.type}) · added{' '}
                {formatTime(method.createdAt)} · last used{' '}
                {method.lastUsedAt ? formatTime(method.lastUsedAt) : 'never'}{' '}
                <button
                  type="button"
                  class="secondary small"
                  aria-label={`Rename ${method.name}`}
                  onClick={() => setRenaming(method.id)}
                >
                  Rename
                </button>
                <button
                  type="button"
                  class="secondary small danger"
                  aria-label={`Remove ${method.name}`}
                  onClick={() => remove(method)}
                >
                  Remove
                </button>
              </li>
            ),
          )}
        </ul>
      )}
      {backupCodes && (
        <div class="secret" role="status">
          <p>
            <strong>Your backup codes</strong>, shown only now. Each works once if you lose your phone:
          </p>
          <code class="secret-value">{backupCodes.join('  ')}</code>
          <button type="button" class="secondary small" onClick={() => setBackupCodes(undefined)}>
            I have stored them
          </button>
        </div>
      )}
      {enrolling ? (
        <form onSubmit={confirm} class="enrol">
          {enrolling.qrCode && (
            <img
              src={enrolling.qrCode}
              alt="QR code to scan with your authenticator app"
              width={180}
              height={180}
            />
          )}
          <div>
            {enrolling.secret ? (
              <p>
                Scan the code with your authenticator app, or type this key: <code>{enrolling.secret}</code>
              </p>
            ) : (
              <p role="status">We e-mailed a code{enrolling.sentTo ? ` to ${enrolling.sentTo}` : ''}.</p>
            )}
            <label for="totp-code">
              {enrolling.secret ? 'The 6-digit code the app shows' : 'The 6-digit code we sent'}
            </label>
            <input id="totp-code" name="code" inputMode="numeric" autocomplete="one-time-code" required />
            <button type="submit">Turn on</button>
          </div>
        </form>
      ) : (
        <div class="actions">
          <button type="button" onClick={start}>
            Add an authenticator app
          </button>
          {'PublicKeyCredential' in window && (
            <button type="button" class="secondary" onClick={addPasskey}>
              Add a passkey
            </button>
          )}
          {!methods.some((method) => method.type === 'email' && method.status === 'active') && (
            <button type="button" class="secondary" onClick={startEmail}>
              Get codes by e-mail
            </button>
          )}
        </div>
      )}
      <NoticeLine notice={notice} />
    </section>
  );
}

export function PasswordSection() {
  const { notice: message, setNotice: setMessage, fail } = useNotice();
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    try {
      const changed = await api<{ csrfToken: string }>('/api/v1/me/password', {
        method: 'POST',
        body: { currentPassword: data.get('currentPassword'), newPassword: data.get('newPassword') },
      });
      // Changing the password replaces this session (and ends the others); the new one has its own token.
      rememberCsrfToken(changed.csrfToken);
      form.reset();
      setMessage({ kind: 'ok', text: 'Password changed. Your other sessions were signed out.' });
    } catch (failure) {
      fail(failure);
    }
  };
  return (
    <section class="panel" aria-labelledby="password-title">
      <h2 id="password-title">Password</h2>
      <form onSubmit={submit} class="narrow">
        <label for="current-password">Current password</label>
        <input
          id="current-password"
          name="currentPassword"
          type="password"
          autocomplete="current-password"
          required
        />
        <label for="new-password">New password</label>
        <input
          id="new-password"
          name="newPassword"
          type="password"
          autocomplete="new-password"
          minLength={8}
          required
        />
        <button type="submit">Change password</button>
      </form>
      <NoticeLine notice={message} />
    </section>
  );
}

interface Session {
  id: string;
  device: { browser?: string; os?: string };
  ip: string | null;
  location: string | null;
  lastSeenAt: string;
  current: boolean;
}

export function SessionsSection() {
  const [sessions, setSessions] = useState<Session[]>([]);
  const { notice, fail } = useNotice();
  const load = async () => setSessions((await api<{ sessions: Session[] }>('/api/v1/me/sessions')).sessions);
  useEffect(() => {
    load().catch(fail);
  }, []);
  const revoke = async (session: Session) => {
    try {
      await api(`/api/v1/me/sessions/${session.id}`, { method: 'DELETE' });
      await load();
    } catch (failure) {
      fail(failure);
    }
  };
  return (
    <section class="panel" id="sessions" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Where you are signed in</h2>
      <ul class="plain">
        {sessions.map((session) => (
          <li key={session.id}>
            <strong>
              {[session.device.browser, session.device.os].filter(Boolean).join(' on ') || 'Unknown device'}
            </strong>{' '}
            · {session.ip ?? 'unknown address'}
            {session.location ? ` (${session.location})` : ''} · last active {formatTime(session.lastSeenAt)}{' '}
            {session.current ? (
              <span class="badge status-active">this browser</span>
            ) : (
              <button type="button" class="secondary small" onClick={() => revoke(session)}>
                Sign out
              </button>
            )}
          </li>
        ))}
      </ul>
      <NoticeLine notice={notice} />
    </section>
  );
}

interface App {
  clientId: string;
  name: string;
  scopes: string[];
  grantedAt: string;
}

export function AppsSection() {
  const [apps, setApps] = useState<App[]>([]);
  const { notice, fail } = useNotice();
  const load = async () => setApps((await api<{ apps: App[] }>('/api/v1/me/apps')).apps);
  useEffect(() => {
    load().catch(fail);
  }, []);
  const revoke = async (app: App) => {
    if (!window.confirm(`Remove ${app.name}'s access to your account?`)) return;
    try {
      await api(`/api/v1/me/apps/${encodeURIComponent(app.clientId)}`, { method: 'DELETE' });
      await load();
    } catch (failure) {
      fail(failure);
    }
  };
  return (
    <section class="panel" id="apps" aria-labelledby="apps-title">
      <h2 id="apps-title">Apps with access</h2>
      {apps.length === 0 ? (
        <p>No app has access to your account.</p>
      ) : (
        <ul class="plain">
          {apps.map((app) => (
            <li key={app.clientId}>
              <strong>{app.name}</strong> · {app.scopes.join(', ')} · since {formatTime(app.grantedAt)}{' '}
              <button type="button" class="secondary small danger" onClick={() => revoke(app)}>
                Remove access
              </button>
            </li>
          ))}
        </ul>
      )}
      <NoticeLine notice={notice} />
    </section>
  );
}

interface ActivityEvent {
  id: string;
  time: string;
  name: string;
  outcome: string;
  ip: string | null;
  userAgent: string | null;
}

const DESCRIPTIONS: Record<string, string> = {
  'auth.login.succeeded': 'Signed in',
  'auth.login.failed': 'Failed sign-in attempt',
  'auth.logout': 'Signed out',
  'auth.lockout': 'Account locked after failed attempts',
  'user.created': 'Account created',
  'user.password.changed': 'Password changed',
  'user.email.verified': 'E-mail address confirmed',
  'mfa.enrolled': 'Two-step sign-in method added',
  'mfa.removed': 'Two-step sign-in method removed',
  'mfa.verified': 'Second step passed',
  'mfa.failed': 'Wrong second-step code',
  'session.revoked': 'A session was signed out',
  'oauth.consent.revoked': "An app's access was removed",
  'session.created': 'New session',
  'session.revoked_all': 'Signed out everywhere',
  'mfa.enrollment_started': 'Started adding a two-step method',
  'mfa.backup_code.used': 'Backup code used',
  'mfa.backup_codes.generated': 'New backup codes made',
  'auth.step_up': 'Confirmed with a second step',
  'security.risk.elevated': 'Unusual sign-in noticed',
  'security.session.moved': 'Session used from another device or network',
  'user.updated': 'Profile changed',
  'user.email.changed': 'E-mail address changed',
};

export function ActivitySection() {
  const [events, setEvents] = useState<ActivityEvent[]>([]);
  const { notice, fail } = useNotice();
  useEffect(() => {
    api<{ events: ActivityEvent[] }>('/api/v1/me/activity?limit=20')
      .then((page) => setEvents(page.events))
      .catch(fail);
  }, []);
  return (
    <section class="panel" id="activity" aria-labelledby="activity-title">
      <h2 id="activity-title">Recent security activity</h2>
      <table class="activity">
        <tbody>
          {events.map((event) => (
            <tr key={event.id}>
              <td>{formatTime(event.time)}</td>
              <td class={event.outcome}>{DESCRIPTIONS[event.name] ?? event.name}</td>
              <td>
                <code>{event.ip ?? ''}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <NoticeLine notice={notice} />
    </section>
  );
}

/** Name and e-mail address: a new address counts once the link sent to it is followed. */
export function ProfileSection({
  name,
  email,
  onChanged,
}: {
  name: string | null;
  email: string;
  onChanged(): Promise<void>;
}) {
  const { notice: message, setNotice: setMessage, fail } = useNotice();
  const saveName = async (event: Event) => {
    event.preventDefault();
    const value = String(new FormData(event.currentTarget as HTMLFormElement).get('name') ?? '').trim();
    try {
      await api('/api/v1/me', { method: 'PATCH', body: { name: value || null } });
      setMessage({ kind: 'ok', text: 'Name saved.' });
      await onChanged();
    } catch (failure) {
      fail(failure);
    }
  };
  const changeEmail = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    try {
      await api('/api/v1/me/email', {
        method: 'POST',
        body: { newEmail: data.get('newEmail'), password: data.get('password') },
      });
      setMessage({
        kind: 'ok',
        text: `We sent a link to ${String(data.get('newEmail'))}; the change counts once it is followed.`,
      });
      form.reset();
    } catch (failure) {
      fail(failure);
    }
  };
  return (
    <section class="panel" id="profile" aria-labelledby="profile-title">
      <h2 id="profile-title">Profile</h2>
      <div class="columns">
        <form onSubmit={saveName} class="narrow">
          <label for="profile-name">Name</label>
          <input
            id="profile-name"
            name="name"
            defaultValue={name ?? ''}
            maxLength={200}
            autocomplete="name"
          />
          <button type="submit" class="secondary">
            Save name
          </button>
        </form>
        <form onSubmit={changeEmail} class="narrow">
          <label for="new-email">New e-mail address (now {email})</label>
          <input id="new-email" name="newEmail" type="email" required autocomplete="email" />
          <label for="email-password">Your password</label>
          <input
            id="email-password"
            name="password"
            type="password"
            required
            autocomplete="current-password"
          />
          <button type="submit" class="secondary">
            Change e-mail
          </button>
        </form>
      </div>
      <NoticeLine notice={message} />
    </section>
  );
}

interface RememberedDevice {
  id: string;
  device: { browser?: string; os?: string };
  lastUsedAt: string | null;
  expiresAt: string;
  current: boolean;
}

/** New backup codes, and the browsers that skip the second step. */
export function RecoverySection() {
  const [codes, setCodes] = useState<string[] | undefined>();
  const [devices, setDevices] = useState<RememberedDevice[]>([]);
  const { notice, fail } = useNotice();
  const load = async () =>
    setDevices((await api<{ devices: RememberedDevice[] }>('/api/v1/me/remembered-devices')).devices);
  useEffect(() => {
    load().catch(fail);
  }, []);
  const regenerate = async () => {
    if (!window.confirm('Make new backup codes? The old ones stop working.')) return;
    try {
      setCodes((await api<{ codes: string[] }>('/api/v1/me/mfa/backup-codes', { method: 'POST' })).codes);
    } catch (failure) {
      fail(failure);
    }
  };
  const forget = async (device: RememberedDevice) => {
    try {
      await api(`/api/v1/me/remembered-devices/${device.id}`, { method: 'DELETE' });
      await load();
    } catch (failure) {
      fail(failure);
    }
  };
  return (
    <section class="panel" aria-labelledby="recovery-title">
      <h2 id="recovery-title">Backup codes and remembered browsers</h2>
      {codes && (
        <div class="secret" role="status">
          <p>
            <strong>Your new backup codes</strong>, shown only now:
          </p>
          <code class="secret-value">{codes.join('  ')}</code>
          <button type="button" class="secondary small" onClick={() => setCodes(undefined)}>
            I have stored them
          </button>
        </div>
      )}
      <button type="button" class="secondary" onClick={regenerate}>
        Make new backup codes
      </button>
      <ul class="plain spaced-list">
        {devices.map((device) => (
          <li key={device.id}>
            {[device.device.browser, device.device.os].filter(Boolean).join(' on ') || 'A browser'} skips the
            second step until {formatTime(device.expiresAt)}{' '}
            <button type="button" class="secondary small" onClick={() => forget(device)}>
              Forget
            </button>
          </li>
        ))}
        {devices.length === 0 && <li>No browser skips the second step.</li>}
      </ul>
      <NoticeLine notice={notice} />
    </section>
  );
}

/** Deleting the account: the password confirms it; personal data is erased. */
export function DeleteSection({ onDeleted }: { onDeleted(): void }) {
  const { notice, fail } = useNotice();
  const submit = async (event: Event) => {
    event.preventDefault();
    const password = new FormData(event.currentTarget as HTMLFormElement).get('password');
    if (!window.confirm('Delete your account for good? This cannot be undone.')) return;
    try {
      await api('/api/v1/me', { method: 'DELETE', body: { password } });
      onDeleted();
    } catch (failure) {
      fail(failure);
    }
  };
  return (
    <section class="panel danger-zone" aria-labelledby="delete-title">
      <h2 id="delete-title">Delete your account</h2>
      <p>
        Your profile, factors and sessions are erased at once. Download your data first if you want a copy.
      </p>
      <form onSubmit={submit} class="narrow">
        <label for="delete-password">Your password</label>
        <input
          id="delete-password"
          name="password"
          type="password"
          required
          autocomplete="current-password"
        />
        <button type="submit" class="secondary danger">
          Delete my account
        </button>
      </form>
      <NoticeLine notice={notice} />
    </section>
  );
}

interface LinkedIdentity {
  id: string;
  providerId: string;
  providerSlug?: string;
  providerName: string;
  email?: string;
  emailVerified: boolean;
  name?: string;
  linkedAt: string;
  lastUsedAt?: string;
}

interface SignInProvider {
  slug: string;
  name: string;
  preset: string;
}

/**
 * Accounts at upstream providers (OpenID Connect, OAuth 2.0) the person signs in with: unlink one (refused
 * while it is the only way in), or link another (the browser goes to the provider and comes back here).
 * Hidden where no provider is set up and nothing is linked.
 */
export function LinkedAccountsSection() {
  const [identities, setIdentities] = useState<LinkedIdentity[] | undefined>();
  const [providers, setProviders] = useState<SignInProvider[]>([]);
  const { notice, setNotice, fail } = useNotice();
  const load = async () => {
    const [linked, available] = await Promise.all([
      api<{ identities: LinkedIdentity[] }>('/api/v1/me/identities'),
      api<{ providers: SignInProvider[] }>('/api/v1/auth/providers'),
    ]);
    setIdentities(linked.identities);
    setProviders(available.providers);
  };
  useEffect(() => {
    load().catch(fail);
  }, []);

  const unlink = async (identity: LinkedIdentity) => {
    if (!window.confirm(`Unlink ${identity.providerName}? You can no longer sign in with it.`)) return;
    setNotice(undefined);
    try {
      await api(`/api/v1/me/identities/${identity.id}`, { method: 'DELETE' });
      await load();
      setNotice({ kind: 'ok', text: `${identity.providerName} unlinked.` });
    } catch (failure) {
      fail(failure);
    }
  };
  const link = async (provider: SignInProvider) => {
    setNotice(undefined);
    try {
      const { url } = await api<{ url: string }>(`/api/v1/me/identities/${provider.slug}/link`, {
        method: 'POST',
      });
      window.location.assign(url);
    } catch (failure) {
      fail(failure);
    }
  };

  if (!identities || (identities.length === 0 && providers.length === 0 && !notice)) return null;
  const linkable = providers.filter(
    (provider) => !identities.some((identity) => identity.providerSlug === provider.slug),
  );
  return (
    <section class="panel" id="linked-accounts" aria-labelledby="linked-accounts-title">
      <h2 id="linked-accounts-title">Linked accounts</h2>
      <p class="muted">Accounts at other providers that sign you in here.</p>
      {identities.length === 0 ? (
        <p>None yet.</p>
      ) : (
        <ul class="plain">
          {identities.map((identity) => (
            <li key={identity.id} class="linked-item">
              <div>
                <strong>{identity.providerName}</strong>
                {identity.email ? ` · ${identity.email}` : identity.name ? ` · ${identity.name}` : ''}
                <span class="muted">
                  linked {formatTime(identity.linkedAt)} · last used{' '}
                  {identity.lastUsedAt ? formatTime(identity.lastUsedAt) : 'never'}
                </span>
              </div>
              <button
                type="button"
                class="secondary small danger"
                aria-label={`Unlink ${identity.providerName}${identity.email ? ` (${identity.email})` : ''}`}
                onClick={() => unlink(identity)}
              >
                Unlink
              </button>
            </li>
          ))}
        </ul>
      )}
      <NoticeLine notice={notice} />
      {linkable.length > 0 && (
        <div class="actions">
          {linkable.map((provider) => (
            <button type="button" class="secondary" key={provider.slug} onClick={() => link(provider)}>
              Link {provider.name}
            </button>
          ))}
        </div>
      )}
    </section>
  );
}
