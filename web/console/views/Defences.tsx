import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { formatTime } from '../format.js';
import { NoticeLine, submitting, useNotice } from '../notice.js';

interface Block {
  id: string;
  kind: 'ip' | 'user_agent';
  value: string;
  source: string;
  reason: string;
  createdAt: string;
  expiresAt: string | null;
}

interface Decoy {
  id: string;
  kind: string;
  label: string;
  createdAt: string;
}

/** Blocks in force (add, lift) and honeytokens (plant, with what to plant shown once; remove). */
export function DefencesView({ canWrite }: { canWrite: boolean }) {
  const [blocks, setBlocks] = useState<Block[]>([]);
  const [decoys, setDecoys] = useState<Decoy[]>([]);
  const [planted, setPlanted] = useState<Record<string, string> | undefined>();

  const load = async () => {
    const [blockList, decoyList] = await Promise.all([
      api<{ blocks: Block[] }>('/api/v1/admin/security/blocks'),
      api<{ decoys: Decoy[] }>('/api/v1/admin/security/decoys'),
    ]);
    setBlocks(blockList.blocks);
    setDecoys(decoyList.decoys);
  };
  // Every action is followed by a fresh list.
  const { notice: message, run, fail } = useNotice(load);
  useEffect(() => {
    load().catch(fail);
  }, []);

  const addBlock = submitting(
    run,
    (data) => {
      const hours = Number(data.get('hours') || 0);
      return api('/api/v1/admin/security/blocks', {
        method: 'POST',
        body: {
          kind: data.get('kind'),
          value: String(data.get('value')).trim(),
          ...(data.get('reason') ? { reason: data.get('reason') } : {}),
          ...(hours > 0 ? { durationSeconds: Math.round(hours * 3600) } : {}),
        },
      });
    },
    () => 'Blocked.',
  );
  const plant = submitting(
    run,
    async (data) => {
      const kind = data.get('kind');
      const created = await api<{ credentials: Record<string, string> }>('/api/v1/admin/security/decoys', {
        method: 'POST',
        body: { kind, label: data.get('label'), ...(kind === 'account' ? { email: data.get('email') } : {}) },
      });
      setPlanted(created.credentials);
    },
    () => 'Honeytoken planted.',
  );

  return (
    <section aria-labelledby="defences-title">
      <h1 id="defences-title">Blocks and honeytokens</h1>
      <NoticeLine notice={message} />
      <div class="panel">
        <h2>Blocks in force</h2>
        <div class="table-scroll">
          <table class="blocks">
            <thead>
              <tr>
                <th scope="col">Blocked</th>
                <th scope="col">Why</th>
                <th scope="col">Until</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {blocks.map((block) => (
                <tr key={block.id}>
                  <td>
                    <code>{block.value}</code>
                    <br />
                    <span class="muted">
                      {block.kind === 'ip' ? 'address or range' : 'user agent'} · {block.source}
                    </span>
                  </td>
                  <td>{block.reason || '—'}</td>
                  <td>{block.expiresAt ? formatTime(block.expiresAt) : 'lifted by hand'}</td>
                  <td class="row-actions">
                    {canWrite && (
                      <button
                        type="button"
                        class="secondary small"
                        onClick={() =>
                          run(
                            () => api(`/api/v1/admin/security/blocks/${block.id}`, { method: 'DELETE' }),
                            'Lifted.',
                          )
                        }
                      >
                        Lift
                      </button>
                    )}
                  </td>
                </tr>
              ))}
              {blocks.length === 0 && (
                <tr>
                  <td colSpan={4}>Nothing is blocked.</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        {canWrite && (
          <form class="filters" onSubmit={addBlock}>
            <div>
              <label for="block-kind">Block</label>
              <select id="block-kind" name="kind">
                <option value="ip">address or range</option>
                <option value="user_agent">user agent</option>
              </select>
            </div>
            <div>
              <label for="block-value">Value</label>
              <input id="block-value" name="value" required minLength={2} maxLength={100} />
            </div>
            <div>
              <label for="block-reason">Reason</label>
              <input id="block-reason" name="reason" maxLength={500} />
            </div>
            <div>
              <label for="block-hours">Hours (empty: until lifted)</label>
              <input id="block-hours" name="hours" type="number" min={1} max={8760} />
            </div>
            <div class="filter-buttons">
              <button type="submit">Block</button>
            </div>
          </form>
        )}
      </div>
      <div class="panel">
        <h2>Honeytokens</h2>
        <p class="muted">
          Decoys look exactly like real accounts, keys, clients and reset links. Plant them where an intruder
          would look; any use raises a critical event and blocks the source.
        </p>
        {planted && (
          <div class="secret" role="status">
            <p>
              <strong>What to plant</strong>, shown only now:
            </p>
            <code class="secret-value">
              {Object.entries(planted)
                .map(([key, value]) => `${key}: ${value}`)
                .join('\n')}
            </code>
            <button type="button" class="secondary small" onClick={() => setPlanted(undefined)}>
              Done
            </button>
          </div>
        )}
        <ul class="plain">
          {decoys.map((decoy) => (
            <li key={decoy.id}>
              <strong>{decoy.label}</strong> ({decoy.kind.replace('_', ' ')}) · planted{' '}
              {formatTime(decoy.createdAt)}{' '}
              {canWrite && (
                <button
                  type="button"
                  class="secondary small danger"
                  onClick={() =>
                    run(
                      () => api(`/api/v1/admin/security/decoys/${decoy.id}`, { method: 'DELETE' }),
                      'Removed.',
                    )
                  }
                >
                  Remove
                </button>
              )}
            </li>
          ))}
          {decoys.length === 0 && <li>None planted.</li>}
        </ul>
        {canWrite && (
          <form class="filters" onSubmit={plant}>
            <div>
              <label for="decoy-kind">Kind</label>
              <select id="decoy-kind" name="kind">
                <option value="api_key">API key</option>
                <option value="account">account</option>
                <option value="client">OAuth client</option>
                <option value="reset_link">password-reset link</option>
              </select>
            </div>
            <div>
              <label for="decoy-label">Name (looks real: backup-sync)</label>
              <input
                id="decoy-label"
                name="label"
                required
                pattern="[a-z0-9][a-z0-9._\-]*"
                minLength={3}
                maxLength={60}
              />
            </div>
            <div>
              <label for="decoy-email">E-mail (account decoys)</label>
              <input id="decoy-email" name="email" type="email" />
            </div>
            <div class="filter-buttons">
              <button type="submit">Plant</button>
            </div>
          </form>
        )}
      </div>
    </section>
  );
}
