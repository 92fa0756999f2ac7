import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api.js';
import { formatCount } from '../format.js';
import { StackedBars } from './Chart.js';

interface Stats {
  since: string;
  total: number;
  bySeverity: Record<string, number>;
  byName: { name: string; severity: string; outcome: string; count: number }[];
  topIps: { ip: string; count: number }[];
  series: { start: string; counts: Record<string, number> }[];
}

interface Health {
  status: string;
  components: Record<string, { status: string; latencyMs?: number }>;
}

const HOUR = 3_600_000;

/** The last 24 hours: security events and failed sign-ins per hour, by severity, busiest addresses, health. */
export function DashboardView() {
  const [stats, setStats] = useState<Stats | undefined>();
  const [health, setHealth] = useState<Health | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    api<Stats>('/api/v1/admin/security/events/stats?hours=24&bucketMinutes=60')
      .then(setStats)
      .catch((failure: unknown) => setError(failure instanceof ApiError ? failure.message : String(failure)));
    fetch('/health', { credentials: 'same-origin' })
      .then(async (response) => setHealth((await response.json()) as Health))
      .catch(() => setHealth(undefined));
  }, []);

  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!stats) return <p class="loading">Loading…</p>;

  const start = Math.floor(Date.parse(stats.since) / HOUR) * HOUR;
  const hours = Array.from({ length: 25 }, (_, index) => start + index * HOUR);
  const counts = new Map(stats.series.map((point) => [Date.parse(point.start), point.counts]));
  const sum = (at: number, test: (name: string) => boolean) =>
    Object.entries(counts.get(at) ?? {}).reduce(
      (total, [name, count]) => (test(name) ? total + count : total),
      0,
    );
  const labels = hours.map((at) => new Date(at).toISOString().slice(11, 16));
  const failures = hours.map((at) => sum(at, (name) => name.startsWith('auth.')));
  const security = hours.map((at) => sum(at, (name) => name.startsWith('security.')));
  const lockouts = stats.byName
    .filter((row) => row.name === 'auth.lockout')
    .reduce((a, row) => a + row.count, 0);
  const honeytokens = stats.byName
    .filter((row) => row.name === 'security.honeytoken.used')
    .reduce((a, row) => a + row.count, 0);

  return (
    <section aria-labelledby="dashboard-title">
      <h1 id="dashboard-title">Last 24 hours</h1>
      <div class="cards">
        <Card label="Security events and failed sign-in steps" value={stats.total} />
        <Card label="Lockouts" value={lockouts} />
        <Card label="Honeytokens tripped" value={honeytokens} alarm={honeytokens > 0} />
        <Card
          label="High or critical"
          value={(stats.bySeverity.high ?? 0) + (stats.bySeverity.critical ?? 0)}
        />
      </div>
      <div class="panel">
        <h2>Per hour (UTC)</h2>
        <StackedBars
          title="Failed sign-in steps and security events per hour"
          labels={labels}
          series={[
            { label: 'failed sign-in steps', className: 'series-a', values: failures },
            { label: 'security events', className: 'series-b', values: security },
          ]}
        />
      </div>
      <div class="columns">
        <div class="panel">
          <h2>Most frequent</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Severity</th>
                <th scope="col" class="number">
                  Count
                </th>
              </tr>
            </thead>
            <tbody>
              {stats.byName.slice(0, 8).map((row) => (
                <tr key={`${row.name}-${row.severity}-${row.outcome}`}>
                  <td>
                    <a href={`#/audit?name=${encodeURIComponent(row.name)}`}>{row.name}</a>
                  </td>
                  <td>
                    <span class={`badge ${row.severity}`}>{row.severity}</span>
                  </td>
                  <td class="number">{formatCount(row.count)}</td>
                </tr>
              ))}
              {stats.byName.length === 0 && (
                <tr>
                  <td colSpan={3}>Nothing in the last 24 hours.</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        <div class="panel">
          <h2>Busiest addresses</h2>
          <table>
            <tbody>
              {stats.topIps.map((row) => (
                <tr key={row.ip}>
                  <td>
                    <code>{row.ip}</code>
                  </td>
                  <td class="number">{formatCount(row.count)}</td>
                </tr>
              ))}
              {stats.topIps.length === 0 && (
                <tr>
                  <td>None.</td>
                </tr>
              )}
            </tbody>
          </table>
          <h2 class="spaced">System</h2>
          {health ? (
            <ul class="health">
              {Object.entries(health.components).map(([name, component]) => (
                <li key={name}>
                  <span class={`dot ${component.status}`} aria-hidden="true" />
                  {name}: {component.status}
                </li>
              ))}
            </ul>
          ) : (
            <p>Health unavailable.</p>
          )}
        </div>
      </div>
    </section>
  );
}

function Card({ label, value, alarm = false }: { label: string; value: number; alarm?: boolean }) {
  return (
    <div class={alarm ? 'card alarm' : 'card'}>
      <span class="value">{formatCount(value)}</span>
      <span class="label">{label}</span>
    </div>
  );
}
