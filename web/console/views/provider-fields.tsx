import { useState } from 'preact/hooks';
import { ApiError, api } from '../api.js';
import { formatTime } from '../format.js';
import type { useNotice } from '../notice.js';

/** Pieces shared by the sign-in provider sections (OpenID Connect and OAuth 2.0, SAML connections, SAML apps). */

/** A URL that may break after the slashes of its path (and nowhere else), for narrow columns; copies as typed. */
export function BreakableUrl({ url }: { url: string }) {
  const parts = url.split(/(?<=[^/]\/)(?=[^/])/);
  return (
    <>
      {parts.map((part, index) => (
        <span key={index}>
          {part}
          {index < parts.length - 1 && <wbr />}
        </span>
      ))}
    </>
  );
}

/** A form field's value, trimmed. */
export const text = (data: FormData, name: string) => String(data.get(name) ?? '').trim();
export const words = (value: string) => value.split(/\s+/).filter(Boolean);
export const yesNo = (value: boolean) => (value ? 'yes' : 'no');

/**
 * `key=value` lines into a record; the last `=` splits, so keys may hold one (LDAP DNs as group names).
 * `what` names a line's shape, for the message about a line that is not one.
 */
export function pairsFrom(value: string, what: string, code: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const line of value.split('\n').map((entry) => entry.trim())) {
    if (!line) continue;
    const at = line.lastIndexOf('=');
    const key = line.slice(0, at).trim();
    const item = line.slice(at + 1).trim();
    if (at < 0 || !key || !item) {
      throw new ApiError(400, code, `“${line}” is not ${what}`);
    }
    pairs[key] = item;
  }
  return pairs;
}

/** `group=role` lines into a mapping's roles. */
export const rolesFrom = (value: string) =>
  pairsFrom(value, 'group=role (one mapping a line)', 'invalid_mapping');

/** A record as the `key=value` lines it is edited as. */
export const pairsText = (pairs: Record<string, string> | undefined) =>
  Object.entries(pairs ?? {})
    .map(([key, item]) => `${key}=${item}`)
    .join('\n');

/** The values to copy: term, then the value in a code element that selects whole. */
export function CopyValues({ values, inline = false }: { values: [string, string][]; inline?: boolean }) {
  return (
    <dl class={inline ? 'copy-values inline' : 'copy-values'}>
      {values.map(([term, value]) => (
        <div key={term}>
          <dt>{term}</dt>
          <dd>
            <code class="copy">
              <BreakableUrl url={value} />
            </code>
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** A row's state: enabled or not, and when it last changed (when it can change: configured rows cannot). */
export function StateBadge({ enabled, updatedAt }: { enabled: boolean; updatedAt?: string | undefined }) {
  return (
    <>
      <span class={`badge ${enabled ? 'status-active' : 'status-disabled'}`}>
        {enabled ? 'enabled' : 'disabled'}
      </span>
      {updatedAt && (
        <>
          <br />
          <span class="muted">changed {formatTime(updatedAt)}</span>
        </>
      )}
    </>
  );
}

/** Edit, enable or disable, and delete; `label` names the row for screen readers ("SAML app Acme"). */
export function RowActionButtons(props: {
  label: string;
  enabled: boolean;
  onEdit(): void;
  onToggle(): void;
  onRemove(): void;
}) {
  return (
    <>
      <button type="button" class="secondary small" aria-label={`Edit ${props.label}`} onClick={props.onEdit}>
        Edit
      </button>
      <button
        type="button"
        class="secondary small"
        aria-label={`${props.enabled ? 'Disable' : 'Enable'} ${props.label}`}
        onClick={props.onToggle}
      >
        {props.enabled ? 'Disable' : 'Enable'}
      </button>
      <button
        type="button"
        class="secondary small danger"
        aria-label={`Delete ${props.label}`}
        onClick={props.onRemove}
      >
        Delete
      </button>
    </>
  );
}

interface EditableRow {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
}

/**
 * Add, change in place, enable or disable, and delete the rows of a collection at `base` (POST base,
 * PATCH/DELETE base/:id), one form open at a time, saying what happened through the view's notice.
 */
export function useEditableRows<Row extends EditableRow>(options: {
  base: string;
  notice: Pick<ReturnType<typeof useNotice>, 'run' | 'setNotice'>;
  /** What to say once a row is added (what to do next with it). */
  added(name: string): string;
  /** The question asked before deleting a row. */
  deleting(row: Row): string;
}) {
  const { run, setNotice } = options.notice;
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<string | undefined>();
  const at = (row: Row) => `${options.base}/${row.id}`;
  return {
    creating,
    editing,
    async create(body: Record<string, unknown>) {
      const done = await run(
        () => api(options.base, { method: 'POST', body }),
        options.added(String(body.name)),
      );
      if (done) setCreating(false);
      return done;
    },
    async save(row: Row, body: Record<string, unknown>) {
      const done = await run(() => api(at(row), { method: 'PATCH', body }), `${String(body.name)} saved.`);
      if (done) setEditing(undefined);
      return done;
    },
    toggle: (row: Row) =>
      run(
        () => api(at(row), { method: 'PATCH', body: { enabled: !row.enabled } }),
        `${row.name} ${row.enabled ? 'disabled' : 'enabled'}.`,
      ),
    remove(row: Row) {
      if (!window.confirm(options.deleting(row))) return;
      void run(() => api(at(row), { method: 'DELETE' }), `${row.name} deleted.`);
    },
    startCreating() {
      setEditing(undefined);
      setNotice(undefined);
      setCreating(true);
    },
    startEditing(row: Row) {
      setCreating(false);
      setNotice(undefined);
      setEditing(row.id);
    },
    cancel() {
      setNotice(undefined);
      setCreating(false);
      setEditing(undefined);
    },
  };
}
