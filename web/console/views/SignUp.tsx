import { useState } from 'preact/hooks';
import { en } from '../../../src/platform/messages/en.js';
import { ApiError, api } from '../api.js';

/** Creating an account: the e-mailed link confirms the address; signing in comes after. */
export function SignUpView({ productName, onBack }: { productName: string; onBack(): void }) {
  const m = en.signUp;
  const [error, setError] = useState<string | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(undefined);
    try {
      const name = String(form.get('name') ?? '').trim();
      await api('/api/v1/auth/signup', {
        method: 'POST',
        body: { email: form.get('email'), password: form.get('password'), ...(name ? { name } : {}) },
      });
      setDone(String(form.get('email')));
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : en.failure.generic);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="signin">
      <form onSubmit={submit}>
        <p class="brand">{productName}</p>
        <h1>{m.title}</h1>
        {done ? (
          <p class="ok" role="status">
            Account created. We sent a link to {done} to confirm the address.
          </p>
        ) : (
          <>
            <label for="signup-name">{m.name}</label>
            <input id="signup-name" name="name" autocomplete="name" maxLength={200} />
            <label for="signup-email">{m.email}</label>
            <input id="signup-email" name="email" type="email" autocomplete="email" required />
            <label for="signup-password">{m.password}</label>
            <input
              id="signup-password"
              name="password"
              type="password"
              autocomplete="new-password"
              minLength={8}
              required
              aria-describedby="signup-password-hint"
            />
            <p id="signup-password-hint" class="muted">
              At least 8 characters; a passphrase of a few words is best. Common and breached passwords are
              refused.
            </p>
            {error && (
              <p class="error" role="alert">
                {error}
              </p>
            )}
            <button type="submit" disabled={busy}>
              {m.submit}
            </button>
          </>
        )}
        <p class="switch">
          <button type="button" class="link" onClick={onBack}>
            Back to sign in
          </button>
        </p>
      </form>
    </div>
  );
}
