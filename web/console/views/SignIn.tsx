import { startAuthentication } from '@simplewebauthn/browser';
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { en } from '../../../src/platform/messages/en.js';
import { ApiError, api } from '../api.js';

type Step = { kind: 'password' } | { kind: 'code'; methods: { id: string; type: string }[] };

/** Password, then a code from an authenticator app, a backup code or an e-mailed code when asked for one. */
export function SignInView({
  productName,
  onSignedIn,
  title = 'Sign in to the admin console',
  footer,
}: {
  productName: string;
  onSignedIn(): Promise<void>;
  title?: string;
  footer?: ComponentChildren;
}) {
  const m = en.signIn;
  const [step, setStep] = useState<Step>({ kind: 'password' });
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(undefined);
    try {
      if (step.kind === 'password') {
        const result = await api<{ status: string; methods?: { id: string; type: string }[] }>(
          '/api/v1/auth/login',
          { method: 'POST', body: { email: form.get('email'), password: form.get('password') } },
        );
        if (result.status === 'mfa_required') {
          setStep({ kind: 'code', methods: result.methods ?? [] });
          return;
        }
      } else {
        const code = String(form.get('code') ?? '').trim();
        const totp = step.methods.find((method) => method.type === 'totp');
        const body =
          /^\d{6}$/.test(code) && totp ? { methodId: totp.id, code } : { type: 'backup_code', code };
        await api('/api/v1/auth/mfa/verify', { method: 'POST', body });
      }
      await onSignedIn();
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : en.failure.generic);
    } finally {
      setBusy(false);
    }
  };

  const passkey = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const started = await api<{ challengeId: string; options: unknown }>('/api/v1/auth/passkey/options', {
        method: 'POST',
        body: {},
      });
      const response = await startAuthentication({
        optionsJSON: started.options as Parameters<typeof startAuthentication>[0]['optionsJSON'],
      });
      await api('/api/v1/auth/passkey/verify', {
        method: 'POST',
        body: { challengeId: started.challengeId, response },
      });
      await onSignedIn();
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : m.passkeyFailed);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="signin">
      <form onSubmit={submit} aria-describedby={error ? 'signin-error' : undefined}>
        <p class="brand">{productName}</p>
        <h1>{title}</h1>
        {step.kind === 'password' ? (
          <>
            <label for="email">{m.email}</label>
            <input id="email" name="email" type="email" autocomplete="username" required />
            <label for="password">{m.password}</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required />
          </>
        ) : (
          <>
            <label for="code">{en.code.labelWithApp}</label>
            <input id="code" name="code" autocomplete="one-time-code" inputMode="numeric" required />
          </>
        )}
        {error && (
          <p id="signin-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {step.kind === 'password' ? m.submit : en.code.submit}
        </button>
        {step.kind === 'password' && 'PublicKeyCredential' in window && (
          <button type="button" class="secondary" onClick={passkey} disabled={busy}>
            {m.passkey}
          </button>
        )}
        {footer}
      </form>
    </div>
  );
}
