import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api.js';

/** The effective configuration, read-only, secrets masked: settings change in the file or environment. */
export function SettingsView() {
  const [data, setData] = useState<{ sources: string[]; settings: Record<string, unknown> } | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    api<{ sources: string[]; settings: Record<string, unknown> }>('/api/v1/admin/settings')
      .then(setData)
      .catch((failure: unknown) => setError(failure instanceof ApiError ? failure.message : String(failure)));
  }, []);
  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!data) return <p class="loading">Loading…</p>;
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Settings</h1>
      <p class="muted">
        Read-only. From: {data.sources.join(', ')}. Change them in the configuration file or environment and
        restart (docs/configuration.md lists every setting).
      </p>
      {Object.entries(data.settings).map(([section, value]) => (
        <details class="panel" key={section}>
          <summary>
            <strong>{section}</strong>
          </summary>
          <pre class="settings">{JSON.stringify(value, null, 2)}</pre>
        </details>
      ))}
    </section>
  );
}
