import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { formatTime } from '../format.js';
import { NoticeLine, useNotice } from '../notice.js';
import { type Decision, DecisionLine, jsonField, userIdFor } from './Access.js';

interface Policy {
  id: string;
  name: string;
  description: string;
  text: string;
  version: number;
  enabled: boolean;
  updatedAt: string;
}

const EXAMPLE =
  'permit (principal, action == Action::"notes:edit", resource)\nwhen { resource has owner && resource.owner == principal.id };';

/**
 * Attribute policies (Cedar): the list, an editor that saves a new version (Cedar errors come back naming
 * the line and column), and the policy tester: the decision for a sample request as if the draft were saved.
 */
export function PoliciesView({ canWrite }: { canWrite: boolean }) {
  const [policies, setPolicies] = useState<Policy[]>([]);
  const [draft, setDraft] = useState<Pick<Policy, 'name' | 'description' | 'text' | 'enabled'>>();
  const [decision, setDecision] = useState<Decision>();
  const load = async () =>
    setPolicies((await api<{ policies: Policy[] }>('/api/v1/admin/policies')).policies);
  const { notice, fail, run } = useNotice(load);

  useEffect(() => {
    load().catch(fail);
  }, []);

  const fields = (form: HTMLFormElement) => {
    const data = new FormData(form);
    return {
      data,
      name: String(data.get('name')).trim(),
      text: String(data.get('text')),
      description: String(data.get('description') ?? '').trim(),
      enabled: data.get('enabled') === 'on',
    };
  };

  const save = async (event: Event) => {
    event.preventDefault();
    const { name, text, description, enabled } = fields(event.currentTarget as HTMLFormElement);
    const done = await run(
      () =>
        api(`/api/v1/admin/policies/${encodeURIComponent(name)}`, {
          method: 'PUT',
          body: { text, description, enabled },
        }),
      `Policy ${name} saved.`,
    );
    if (done) setDraft(undefined);
  };

  const tryDraft = async (event: Event) => {
    const form = (event.currentTarget as HTMLButtonElement).form!;
    if (!form.reportValidity()) return;
    const { data, name, text } = fields(form);
    setDecision(undefined);
    await run(async () => {
      const resource = jsonField(data, 'resource', 'Resource');
      const context = jsonField(data, 'context', 'Context');
      setDecision(
        await api<Decision>('/api/v1/admin/policies/test', {
          method: 'POST',
          body: {
            policy: { name, text },
            request: {
              subject: { type: 'user', id: await userIdFor(String(data.get('subject'))) },
              action: String(data.get('action')).trim(),
              ...(resource ? { resource } : {}),
              ...(context ? { context } : {}),
            },
          },
        }),
      );
    });
  };

  const remove = (policy: Policy) => {
    if (!window.confirm(`Delete the policy ${policy.name} and its earlier versions?`)) return;
    void run(
      () => api(`/api/v1/admin/policies/${encodeURIComponent(policy.name)}`, { method: 'DELETE' }),
      `Policy ${policy.name} deleted.`,
    );
  };

  return (
    <section aria-labelledby="policies-title">
      <div class="heading">
        <h1 id="policies-title">Policies</h1>
        {canWrite && !draft && (
          <button
            type="button"
            onClick={() => setDraft({ name: '', description: '', text: EXAMPLE, enabled: true })}
          >
            New policy
          </button>
        )}
      </div>
      <NoticeLine notice={notice} />
      {draft && (
        <form class="panel create" onSubmit={save} key={draft.name || 'new'}>
          <h2>{draft.name ? `Edit ${draft.name}` : 'New policy'}</h2>
          <label for="policy-name">Name</label>
          <input
            id="policy-name"
            name="name"
            required
            pattern="[a-z0-9][a-z0-9._\-]{0,79}"
            title="lower-case words with . _ -"
            defaultValue={draft.name}
            readOnly={Boolean(draft.name)}
          />
          <label for="policy-description">Description</label>
          <input
            id="policy-description"
            name="description"
            maxLength={500}
            defaultValue={draft.description}
          />
          <label for="policy-text">Cedar statement</label>
          <textarea id="policy-text" name="text" rows={5} required class="code" defaultValue={draft.text} />
          <label class="check">
            <input type="checkbox" name="enabled" defaultChecked={draft.enabled} /> Enabled
          </label>
          <fieldset>
            <legend>Try it before saving</legend>
            <label for="try-subject">User (e-mail)</label>
            <input id="try-subject" name="subject" type="email" />
            <label for="try-action">Permission</label>
            <input id="try-action" name="action" placeholder="notes:edit" />
            <label for="try-resource">Resource (JSON, optional)</label>
            <textarea id="try-resource" name="resource" rows={2} placeholder='{"type":"note","owner":"…"}' />
            <label for="try-context">Context (JSON, optional)</label>
            <textarea id="try-context" name="context" rows={2} />
            <button type="button" class="secondary" onClick={tryDraft}>
              Try the draft
            </button>
            {decision && <DecisionLine decision={decision} />}
          </fieldset>
          <div class="filter-buttons">
            <button type="submit">Save policy</button>
            <button type="button" class="secondary" onClick={() => setDraft(undefined)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      <div class="table-scroll">
        <table class="policies">
          <thead>
            <tr>
              <th scope="col">Policy</th>
              <th scope="col">Statement</th>
              <th scope="col">Version</th>
              {canWrite && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {policies.map((policy) => (
              <tr key={policy.id}>
                <td>
                  <strong>{policy.name}</strong>
                  {!policy.enabled && <span class="badge medium"> off</span>}
                  <br />
                  <span class="muted">{policy.description}</span>
                </td>
                <td>
                  <pre class="policy-text">{policy.text}</pre>
                </td>
                <td>
                  v{policy.version}
                  <br />
                  <span class="muted">{formatTime(policy.updatedAt)}</span>
                </td>
                {canWrite && (
                  <td class="row-actions">
                    <button
                      type="button"
                      class="secondary small"
                      aria-label={`Edit ${policy.name}`}
                      onClick={() => {
                        setDecision(undefined);
                        setDraft(policy);
                      }}
                    >
                      Edit
                    </button>
                    <button
                      type="button"
                      class="secondary small danger"
                      aria-label={`Delete ${policy.name}`}
                      onClick={() => remove(policy)}
                    >
                      Delete
                    </button>
                  </td>
                )}
              </tr>
            ))}
            {policies.length === 0 && (
              <tr>
                <td colSpan={canWrite ? 4 : 3}>No policies: roles and permissions alone decide.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
