import { useState } from 'preact/hooks';
import { messageOf } from './api.js';

export type Notice = { readonly kind: 'ok' | 'error'; readonly text: string } | undefined;

/** A confirmation (status) or a failure (alert), announced to screen readers either way. */
export function NoticeLine({ notice }: { notice: Notice }) {
  if (!notice) return null;
  return (
    <p class={notice.kind} role={notice.kind === 'ok' ? 'status' : 'alert'}>
      {notice.text}
    </p>
  );
}

/**
 * The notice of a view and `run`, which performs an action and reports how it went; `afterEach` (a reload of
 * the view's list, say) runs after every action that worked.
 */
export function useNotice(afterEach?: () => Promise<unknown>) {
  const [notice, setNotice] = useState<Notice>();
  const run = async (work: () => Promise<unknown>, done?: string): Promise<boolean> => {
    setNotice(undefined);
    try {
      await work();
      await afterEach?.();
      if (done) setNotice({ kind: 'ok', text: done });
      return true;
    } catch (failure) {
      setNotice({ kind: 'error', text: messageOf(failure) });
      return false;
    }
  };
  return {
    notice,
    setNotice,
    run,
    fail: (failure: unknown) => setNotice({ kind: 'error', text: messageOf(failure) }),
  };
}

/**
 * A form's submit handler: runs `action` with the form's fields through a view's `run`, says `done` when it
 * worked, and then clears the form (and calls `after`).
 */
export function submitting(
  run: ReturnType<typeof useNotice>['run'],
  action: (data: FormData) => Promise<unknown>,
  done: (data: FormData) => string,
  after?: () => void,
) {
  return async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    if (await run(() => action(data), done(data))) {
      form.reset();
      after?.();
    }
  };
}

/** The buttons under a form that edits something in place. */
export function SaveOrCancel({ onCancel }: { onCancel(): void }) {
  return (
    <div class="filter-buttons">
      <button type="submit">Save</button>
      <button type="button" class="secondary" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}
