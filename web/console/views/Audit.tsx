import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, queryString } from '../api.js';
import { formatTime, plural } from '../format.js';

interface AuditEvent {
  seq: number;
  id: string;
  time: string;
  name: string;
  severity: string;
  outcome: string;
  actor: { type: string; id: string | null };
  target: { type: string; id: string } | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown> | null;
}

interface Verification {
  ok: boolean;
  events: number;
  checkpoints: number;
  uncheckpointed: number;
  latestCheckpoint?: { treeSize: number; rootHash: string; time: number };
  findings: { kind: string; message: string }[];
}

type Filters = Record<'name' | 'severity' | 'outcome' | 'actor' | 'target' | 'ip' | 'from' | 'to', string>;

const EMPTY: Filters = {
  name: '',
  severity: '',
  outcome: '',
  actor: '',
  target: '',
  ip: '',
  from: '',
  to: '',
};

const toIso = (local: string) => (local ? new Date(local).toISOString() : undefined);

function apiQuery(filters: Filters): Record<string, string | undefined> {
  return { ...filters, from: toIso(filters.from), to: toIso(filters.to) };
}

/** The audit log (or only its security events): filters, pages, export, and the log's verification. */
export function AuditView({ source, title }: { source: 'audit' | 'security'; title: string }) {
  const initial = new URLSearchParams(window.location.hash.split('?')[1] ?? '');
  const [filters, setFilters] = useState<Filters>({
    ...EMPTY,
    name: initial.get('name') ?? '',
    actor: initial.get('actor') ?? '',
    target: initial.get('target') ?? '',
    ip: initial.get('ip') ?? '',
  });
  const [applied, setApplied] = useState<Filters>(filters);
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [cursor, setCursor] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [loading, setLoading] = useState(false);
  const [open, setOpen] = useState<string | undefined>();
  const [verification, setVerification] = useState<Verification | 'running' | undefined>();
  // Phones see the events first; the filters fold away behind their summary.
  const [wide] = useState(() => window.matchMedia('(min-width: 641px)').matches);
  const base = source === 'audit' ? '/api/v1/admin/audit' : '/api/v1/admin/security/events';

  const load = async (next?: string) => {
    setLoading(true);
    setError(undefined);
    try {
      const page = await api<{ events: AuditEvent[]; nextCursor?: string }>(
        `${base}${queryString({ ...apiQuery(applied), limit: '50', cursor: next })}`,
      );
      setEvents((previous) => (next ? [...previous, ...page.events] : page.events));
      setCursor(page.nextCursor);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : String(failure));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load();
  }, [applied, source]);

  const verify = async () => {
    setVerification('running');
    try {
      setVerification(await api<Verification>('/api/v1/admin/audit/verify'));
    } catch (failure) {
      setVerification(undefined);
      setError(failure instanceof ApiError ? failure.message : String(failure));
    }
  };

  const field = (name: keyof Filters, label: string, kind: 'text' | 'time' = 'text') => {
    const common = {
      id: `filter-${name}`,
      name,
      value: filters[name],
      onInput: (event: Event) => setFilters({ ...filters, [name]: (event.target as HTMLInputElement).value }),
    };
    return (
      <div>
        <label for={common.id}>{label}</label>
        {kind === 'time' ? <input type="datetime-local" {...common} /> : <input type="text" {...common} />}
      </div>
    );
  };
  const choice = (name: 'severity' | 'outcome', label: string, options: readonly string[]) => (
    <label>
      {label}
      <select
        name={name}
        value={filters[name]}
        onChange={(event) => setFilters({ ...filters, [name]: (event.target as HTMLSelectElement).value })}
      >
        <option value="">any</option>
        {options.map((option) => (
          <option key={option}>{option}</option>
        ))}
      </select>
    </label>
  );
  const exportLink = (format: string) =>
    `/api/v1/admin/audit/export${queryString({
      ...apiQuery(applied),
      format,
      name: applied.name || (source === 'security' ? 'security.' : undefined),
    })}`;

  return (
    <section aria-labelledby="audit-title">
      <div class="heading">
        <h1 id="audit-title">{title}</h1>
        <div class="actions">
          <a class="button secondary" href={exportLink('csv')} download>
            Export CSV
          </a>
          <a class="button secondary" href={exportLink('ndjson')} download>
            Export NDJSON
          </a>
          {source === 'audit' && (
            <button type="button" onClick={verify} disabled={verification === 'running'}>
              {verification === 'running' ? 'Verifying…' : 'Verify the log'}
            </button>
          )}
        </div>
      </div>
      {verification && verification !== 'running' && <VerificationPanel result={verification} />}
      <details class="filter-box" open={wide}>
        <summary>Filters</summary>
        <form
          class="filters"
          onSubmit={(event) => {
            event.preventDefault();
            setApplied(filters);
          }}
        >
          {field('name', 'Event or prefix (auth.)')}
          {choice('severity', 'Severity', ['low', 'medium', 'high', 'critical'])}
          {choice('outcome', 'Outcome', ['success', 'failure'])}
          {field('actor', 'Actor id')}
          {field('target', 'Target id')}
          {field('ip', 'IP address')}
          {field('from', 'From', 'time')}
          {field('to', 'Until', 'time')}
          <div class="filter-buttons">
            <button type="submit">Apply</button>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                setFilters(EMPTY);
                setApplied(EMPTY);
              }}
            >
              Clear
            </button>
          </div>
        </form>
      </details>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="table-scroll">
        <table class="events">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Event</th>
              <th scope="col">Severity</th>
              <th scope="col">Outcome</th>
              <th scope="col">Actor</th>
              <th scope="col">Target</th>
              <th scope="col">IP</th>
            </tr>
          </thead>
          <tbody>
            {events.map((event) => (
              <Fragment key={event.id}>
                <tr class={open === event.id ? 'open' : undefined}>
                  <td>
                    <button
                      type="button"
                      class="link"
                      aria-expanded={open === event.id}
                      onClick={() => setOpen(open === event.id ? undefined : event.id)}
                    >
                      {formatTime(event.time)}
                    </button>
                  </td>
                  <td>{event.name}</td>
                  <td>
                    <span class={`badge ${event.severity}`}>{event.severity}</span>
                  </td>
                  <td class={event.outcome}>{event.outcome}</td>
                  <td>
                    {event.actor.type}
                    {event.actor.id ? <code> {event.actor.id.slice(0, 13)}</code> : null}
                  </td>
                  <td>
                    {event.target ? (
                      <>
                        {event.target.type} <code>{event.target.id.slice(0, 13)}</code>
                      </>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>
                    <code>{event.ip ?? '—'}</code>
                  </td>
                </tr>
                {open === event.id && (
                  <tr class="details">
                    <td colSpan={7}>
                      <dl>
                        <dt>Id</dt>
                        <dd>
                          <code>{event.id}</code> (position {event.seq})
                        </dd>
                        <dt>Request</dt>
                        <dd>
                          <code>{event.requestId ?? '—'}</code>
                        </dd>
                        <dt>User agent</dt>
                        <dd>{event.userAgent ?? '—'}</dd>
                        <dt>Details</dt>
                        <dd>
                          <pre>
                            {event.details ? JSON.stringify(event.details, null, 2) : 'pruned by retention'}
                          </pre>
                        </dd>
                      </dl>
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
            {!loading && events.length === 0 && (
              <tr>
                <td colSpan={7}>No events match.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <p class="more">
        {loading ? (
          'Loading…'
        ) : cursor ? (
          <button type="button" class="secondary" onClick={() => load(cursor)}>
            Load older events
          </button>
        ) : (
          events.length > 0 && `${plural(events.length, 'event')} shown: the end of the list.`
        )}
      </p>
    </section>
  );
}

function VerificationPanel({ result }: { result: Verification }) {
  return (
    <div class={result.ok ? 'verification ok' : 'verification failed'} role="status">
      {result.ok ? (
        <p>
          <strong>Verified.</strong> {plural(result.events, 'event')} and{' '}
          {plural(result.checkpoints, 'signed checkpoint')} check out.
          {result.latestCheckpoint && (
            <>
              {' '}
              Latest checkpoint: {plural(result.latestCheckpoint.treeSize, 'event')}, root{' '}
              <code>{result.latestCheckpoint.rootHash.slice(0, 16)}…</code>
            </>
          )}
          {result.uncheckpointed > 0 &&
            ` ${plural(result.uncheckpointed, 'newer event')} ${result.uncheckpointed === 1 ? 'awaits' : 'await'} the next checkpoint.`}
        </p>
      ) : (
        <>
          <p>
            <strong>The log does not verify:</strong> {plural(result.findings.length, 'problem')}.
          </p>
          <ul>
            {result.findings.slice(0, 20).map((finding) => (
              <li key={finding.message}>{finding.message}</li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
