import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, rememberCsrfToken, signedIn } from './api.js';
import { ReauthenticateDialog } from './reauthenticate.js';
import {
  ActivitySection,
  AppsSection,
  DeleteSection,
  LinkedAccountsSection,
  PasswordSection,
  ProfileSection,
  RecoverySection,
  SessionsSection,
  TwoFactorSection,
} from './views/Account.js';
import { SignInView } from './views/SignIn.js';
import { SignUpView } from './views/SignUp.js';

interface Me {
  user: { id: string; email: string; name: string | null; emailVerified: boolean };
  csrfToken: string;
}

/** The account portal at /account: what a signed-in person manages about themselves. */
function Portal({ productName }: { productName: string }) {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [signingUp, setSigningUp] = useState(false);

  const load = async () => setMe(await signedIn<Me>());
  useEffect(() => {
    void load();
  }, []);
  useEffect(() => {
    document.title = `Your account · ${productName}`;
  }, [productName]);

  if (me === undefined) return <p class="loading">Loading…</p>;
  if (me === null) {
    return signingUp ? (
      <SignUpView productName={productName} onBack={() => setSigningUp(false)} />
    ) : (
      <SignInView
        productName={productName}
        title="Sign in to your account"
        onSignedIn={load}
        footer={
          <p class="switch">
            New here?{' '}
            <button type="button" class="link" onClick={() => setSigningUp(true)}>
              Create an account
            </button>
          </p>
        }
      />
    );
  }
  const signOut = async () => {
    await api('/api/v1/auth/logout', { method: 'POST' });
    rememberCsrfToken(undefined);
    setMe(null);
  };
  return (
    <div class="shell">
      <header class="top">
        <span class="brand">{productName}</span>
        <nav aria-label="Sections">
          <a href="#profile">Profile</a>
          <a href="#security">Security</a>
          <a href="#sessions">Sessions</a>
          <a href="#apps">Apps</a>
          <a href="#activity">Activity</a>
        </nav>
        <span class="who">
          {me.user.email}
          <button type="button" class="link" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      <main class="portal">
        <h1>Your account</h1>
        <p class="muted">
          {me.user.name ? `${me.user.name} · ` : ''}
          {me.user.email} · {me.user.emailVerified ? 'address confirmed' : 'address not confirmed yet'} ·{' '}
          <a href="/api/v1/me/export" download="gatehouse-account.json">
            Download your data
          </a>
        </p>
        <ProfileSection name={me.user.name} email={me.user.email} onChanged={load} />
        <TwoFactorSection />
        <RecoverySection />
        <PasswordSection />
        <LinkedAccountsSection />
        <SessionsSection />
        <AppsSection />
        <ActivitySection />
        <ReauthenticateDialog />
        <DeleteSection
          onDeleted={() => {
            rememberCsrfToken(undefined);
            setMe(null);
          }}
        />
      </main>
    </div>
  );
}

const root = document.getElementById('app');
if (root) render(<Portal productName={root.dataset.product ?? 'Gatehouse'} />, root);
