import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, messageOf, onReauthenticationRequired } from './api.js';

interface Pending {
  resolve(): void;
  reject(reason: unknown): void;
}

/**
 * The password prompt for actions that need a recent sign-in (removing a factor, new backup codes, turning
 * two-step sign-in off): shown when the API asks for it, then the action runs again by itself. A modal
 * `<dialog>`, so focus stays in it and Escape cancels.
 */
export function ReauthenticateDialog() {
  const dialog = useRef<HTMLDialogElement>(null);
  const pending = useRef<Pending | undefined>(undefined);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    onReauthenticationRequired(
      () =>
        new Promise<void>((resolve, reject) => {
          pending.current = { resolve, reject };
          setError(undefined);
          dialog.current?.showModal();
        }),
    );
    return () => onReauthenticationRequired(undefined);
  }, []);

  const settle = (outcome: 'confirmed' | 'cancelled') => {
    const waiting = pending.current;
    pending.current = undefined;
    dialog.current?.close();
    if (outcome === 'confirmed') waiting?.resolve();
    else waiting?.reject(new ApiError(403, 'reauthentication_cancelled', 'Nothing was changed.'));
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const password = String(new FormData(form).get('password') ?? '');
    setBusy(true);
    try {
      await api('/api/v1/auth/reauthenticate', { method: 'POST', body: { password } });
      form.reset();
      settle('confirmed');
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog
      ref={dialog}
      class="reauthenticate"
      aria-labelledby="reauthenticate-title"
      onCancel={(event) => {
        event.preventDefault();
        settle('cancelled');
      }}
    >
      <form onSubmit={submit}>
        <h2 id="reauthenticate-title">Confirm it is you</h2>
        <p>This change needs your password again.</p>
        <label for="reauthenticate-password">Password</label>
        <input
          id="reauthenticate-password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? 'reauthenticate-error' : undefined}
        />
        {error && (
          <p id="reauthenticate-error" class="error" role="alert">
            {error}
          </p>
        )}
        <div class="filter-buttons">
          <button type="submit" disabled={busy}>
            Confirm
          </button>
          <button type="button" class="secondary" onClick={() => settle('cancelled')}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
