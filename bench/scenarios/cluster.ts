import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { runGatehouse } from '../../test/helpers/cli.js';
import { type Cluster, startCluster } from '../../test/helpers/cluster.js';
import { HAPROXY } from '../../test/helpers/proxy.js';
import { type Measurement, measure, round, type Scenario } from '../harness.js';

const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Layout {
  readonly label: string;
  readonly nodes: number;
  readonly redis: boolean;
  readonly viaProxy: boolean;
}

const LAYOUTS: readonly Layout[] = [
  { label: '1 node, PostgreSQL only, direct', nodes: 1, redis: false, viaProxy: false },
  { label: '1 node, PostgreSQL + Redis, direct', nodes: 1, redis: true, viaProxy: false },
  { label: '1 node, PostgreSQL + Redis, via proxy', nodes: 1, redis: true, viaProxy: true },
  { label: '2 nodes, PostgreSQL + Redis, via proxy', nodes: 2, redis: true, viaProxy: true },
];

/** A schema of its own in the PostgreSQL database, as the tests use. */
async function freshSchema(): Promise<{ url: string; drop(): Promise<void> }> {
  const schema = `gh_bench_${Date.now()}_${randomBytes(4).toString('hex')}`;
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`create schema "${schema}"`);
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { url: url.toString(), drop: () => run(`drop schema if exists "${schema}" cascade`) };
}

/** A client_credentials client, registered with the CLI as an operator would. */
async function machineClient(cluster: Cluster): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-cli-'));
  try {
    const created = await runGatehouse(
      ['clients', 'create', '--name', 'bench', '--grant', 'client_credentials', '--json'],
      { ...cluster.env, GATEHOUSE_DATA_DIR: dataDir },
    );
    if (created.exitCode !== 0) throw new Error(`clients create: ${created.stderr}`);
    const { client, secret } = JSON.parse(created.stdout) as { client: { id: string }; secret: string };
    return `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** client_credentials and introspection with one node, then two, on PostgreSQL and Redis. */
export const clusterThroughput: Scenario = {
  name: 'cluster-throughput',
  description:
    'client_credentials tokens/s and introspections/s on PostgreSQL: one node without Redis, one node with Redis (direct and through the round-robin proxy), two nodes with Redis through the proxy; every process on this machine',
  async run(settings) {
    const common = {
      connections: settings.connections,
      duration: settings.durationSeconds,
      warmupSeconds: settings.warmupSeconds,
    };
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const measurements: Measurement[] = [];
    // Debian's HAProxy when installed (CI installs it), as deployments run; otherwise the Node proxy.
    const viaHaproxy = existsSync(HAPROXY);
    for (const layout of LAYOUTS) {
      const database = await freshSchema();
      const cluster = await startCluster({
        nodes: layout.nodes,
        databaseUrl: database.url,
        redisUrl: layout.redis ? REDIS_URL : '',
        env: {
          // Request logs would measure the pipe to this process, not the nodes.
          LOG_LEVEL: 'warn',
          GATEHOUSE__HTTP__MAX_EVENT_LOOP_DELAY_MS: '0',
          // Rate limits stay on (with Redis they are the shared budget being measured), high enough not to refuse.
          GATEHOUSE__SECURITY__RATE_LIMITS__TOKEN__LIMIT: '100000000',
        },
        // The built server, as `npm start` runs it.
        command: [process.execPath, 'dist/src/main.js'],
        proxy: viaHaproxy ? 'haproxy' : 'node',
      });
      try {
        const authorization = await machineClient(cluster);
        const base = layout.viaProxy ? cluster.url : cluster.nodes[0]!.url;
        measurements.push(
          await measure(`${layout.label}: client_credentials`, {
            url: `${base}/oauth2/token`,
            method: 'POST',
            headers: { ...form, authorization },
            body: 'grant_type=client_credentials',
            ...common,
          }),
        );
        const issued = await fetch(`${base}/oauth2/token`, {
          method: 'POST',
          headers: { ...form, authorization },
          body: 'grant_type=client_credentials',
        });
        const { access_token: token } = (await issued.json()) as { access_token: string };
        measurements.push(
          await measure(`${layout.label}: introspection`, {
            url: `${base}/oauth2/introspect`,
            method: 'POST',
            headers: { ...form, authorization },
            body: `token=${token}`,
            ...common,
          }),
        );
      } finally {
        await cluster.stop();
        await database.drop();
      }
    }
    const rate = (label: string, target: string) =>
      measurements.find((m) => m.target === `${label}: ${target}`)!.requestsPerSecond.mean;
    const figures: Record<string, number> = {};
    for (const target of ['client_credentials', 'introspection']) {
      const [alone, shared, proxied, two] = LAYOUTS.map((layout) => rate(layout.label, target));
      figures[`${target}: Redis cost on one node (with / without)`] = round(shared! / alone!, 2);
      figures[`${target}: proxy cost on one node (via / direct)`] = round(proxied! / shared!, 2);
      figures[`${target}: two nodes / one node (both via proxy)`] = round(two! / proxied!, 2);
    }
    return {
      measurements,
      figures,
      notes: [
        `Every process shares the same two cores: the nodes, PostgreSQL, Redis, the proxy (${viaHaproxy ? "Debian's HAProxy, configured like deploy/haproxy" : 'the Node round-robin proxy in test/helpers/proxy.ts, in this process'}) and autocannon (a worker thread). A second node adds no CPU here; it only lets a second event loop use what one node leaves idle while it waits on PostgreSQL and Redis.`,
        'Nodes run the built server (dist/, as npm start does; run `npm run build` first) with logs at warn, rate limits on with the token budget raised.',
      ],
    };
  },
};
