import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { formatCount, formatTime } from '../format.js';
import { NoticeLine, useNotice } from '../notice.js';

interface Overview {
  version: string;
  node: { hostname: string };
  uptimeSeconds: number;
  database: string;
  redis: string;
  migrations: { applied: number; latest: string | null; pending: string[] };
}

interface Counts {
  queued: number;
  running: number;
  failed: number;
  dead: number;
  succeeded: number;
}

interface Jobs {
  worker: { enabled: boolean; id: string; concurrency: number; active: number };
  types: Record<string, Counts>;
  schedules: { name: string; cron: string; timezone: string; nextRunAt: string; lastRunAt: string | null }[];
}

interface Job {
  id: string;
  type: string;
  attempts: number;
  lastError: string | null;
  finishedAt: string | null;
}

const uptime = (seconds: number) =>
  seconds >= 86_400
    ? `${Math.floor(seconds / 86_400)} d ${Math.floor((seconds % 86_400) / 3600)} h`
    : `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;

/** The running installation: version and migrations, the job queue by type, the schedules, and dead jobs to replay. */
export function SystemView({ canWrite }: { canWrite: boolean }) {
  const [overview, setOverview] = useState<Overview>();
  const [jobs, setJobs] = useState<Jobs>();
  const [dead, setDead] = useState<Job[]>([]);
  const load = async () => {
    const [system, queue, deadJobs] = await Promise.all([
      api<Overview>('/api/v1/admin/system'),
      api<Jobs>('/api/v1/admin/system/jobs'),
      api<{ jobs: Job[] }>('/api/v1/admin/system/jobs/list?status=dead&limit=20'),
    ]);
    setOverview(system);
    setJobs(queue);
    setDead(deadJobs.jobs);
  };
  const { notice, fail, run } = useNotice(load);
  useEffect(() => {
    load().catch(fail);
  }, []);

  return (
    <section aria-labelledby="system-title">
      <h1 id="system-title">System</h1>
      <NoticeLine notice={notice} />
      {overview && (
        <div class="panel">
          <h2>This installation</h2>
          <p>
            Gatehouse {overview.version} on {overview.node.hostname}, up {uptime(overview.uptimeSeconds)} ·{' '}
            {overview.database} · Redis: {overview.redis} · schema {overview.migrations.latest ?? 'none'}
            {overview.migrations.pending.length > 0 && (
              <strong class="error"> · {overview.migrations.pending.length} migrations pending</strong>
            )}
          </p>
        </div>
      )}
      {jobs && (
        <div class="panel">
          <h2>Jobs</h2>
          <p class="muted">
            This node's worker: {jobs.worker.enabled ? 'on' : 'off'}, {jobs.worker.active} of{' '}
            {jobs.worker.concurrency} running.
          </p>
          <div class="table-scroll">
            <table class="jobs">
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  {['queued', 'running', 'failed', 'dead', 'succeeded'].map((status) => (
                    <th scope="col" class="number" key={status}>
                      {status}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {Object.entries(jobs.types).map(([type, counts]) => (
                  <tr key={type}>
                    <td>
                      <code>{type}</code>
                    </td>
                    {(['queued', 'running', 'failed', 'dead', 'succeeded'] as const).map((status) => (
                      <td
                        class={`number${status === 'dead' && counts.dead > 0 ? ' failure' : ''}`}
                        key={status}
                      >
                        {formatCount(counts[status])}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h3>Schedules</h3>
          <ul class="plain">
            {jobs.schedules.map((schedule) => (
              <li key={schedule.name}>
                <strong>{schedule.name}</strong> <code>{schedule.cron}</code> ({schedule.timezone}) · next{' '}
                {formatTime(schedule.nextRunAt)}
                {schedule.lastRunAt && ` · last ${formatTime(schedule.lastRunAt)}`}
              </li>
            ))}
            {jobs.schedules.length === 0 && <li>No schedules registered yet.</li>}
          </ul>
          <h3>Dead jobs</h3>
          <ul class="plain">
            {dead.map((job) => (
              <li key={job.id}>
                <code>{job.type}</code> · {job.attempts} attempts
                {job.finishedAt && ` · ${formatTime(job.finishedAt)}`}
                <br />
                <span class="muted">{job.lastError}</span>
                {canWrite && (
                  <button
                    type="button"
                    class="secondary small"
                    aria-label={`Run ${job.type} ${job.id} again`}
                    onClick={() =>
                      run(
                        () => api(`/api/v1/admin/system/jobs/${job.id}/retry`, { method: 'POST' }),
                        `${job.type} queued again.`,
                      )
                    }
                  >
                    Run again
                  </button>
                )}
              </li>
            ))}
            {dead.length === 0 && <li>None.</li>}
          </ul>
        </div>
      )}
    </section>
  );
}
