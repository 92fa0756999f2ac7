import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './app.js';
import { type RoundRobinProxy, startHaproxy, startRoundRobinProxy } from './proxy.js';

/** One Gatehouse process of a cluster. (Used by bench/ too, so no vitest here.) */
export interface ClusterNode {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the exit code once the process is gone. */
  readonly exited: Promise<number | null>;
}

export interface Cluster {
  readonly nodes: ClusterNode[];
  readonly proxy: RoundRobinProxy;
  /** The address clients use: the proxy's, which every node also has as its public URL. */
  readonly url: string;
  /** The environment every node shares (what an operator would put in the deployment). */
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  readonly nodes: number;
  /** postgres: URL of a database nobody else uses (test/helpers/dialects.ts createTestDatabase). */
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** More settings for every node (GATEHOUSE__… names). */
  readonly env?: Record<string, string>;
  /**
   * How a node is started: `node --import tsx src/main.ts` unless given (bench uses the built `dist/`).
   * One process per node (not the `tsx` wrapper, which forks), so killing it kills the node.
   */
  readonly command?: readonly string[];
  /** The load balancer: the Node proxy in this process (default) or Debian's HAProxy. */
  readonly proxy?: 'node' | 'haproxy';
}

/**
 * Several Gatehouse processes on one PostgreSQL database and one Redis, behind a round-robin proxy, as an
 * operator would run them: the same settings and secret key everywhere, nothing shared on disk (each node
 * has its own data directory), the proxy's address as everyone's public URL.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const ports = await Promise.all(Array.from({ length: options.nodes }, () => freePort()));
  const names = ports.map((_, index) => `node-${String.fromCharCode(97 + index)}`);
  const backends = names.map((name, index) => ({ name, port: ports[index]! }));
  // The proxy starts once the nodes are ready (HAProxy would otherwise mark them down first), on a port
  // chosen now because every node needs the public URL.
  const proxyPort = await freePort();
  const publicUrl = `http://127.0.0.1:${proxyPort}`;
  const env: Record<string, string> = {
    DATABASE_URL: options.databaseUrl,
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    // Each cluster its own keys in the shared test Redis.
    GATEHOUSE__REDIS__KEY_PREFIX: `gh-cluster-${randomBytes(4).toString('hex')}:`,
    GATEHOUSE_SECRET_KEY: randomBytes(32).toString('hex'),
    PUBLIC_URL: publicUrl,
    TRUST_PROXY: 'true',
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const directories: string[] = [];
  const nodes: ClusterNode[] = [];
  const start = (index: number): ClusterNode => {
    const dataDir = mkdtempSync(join(tmpdir(), `gatehouse-${names[index]}-`));
    directories.push(dataDir);
    const [command, ...args] = options.command ?? [process.execPath, '--import', 'tsx', 'src/main.ts'];
    const child = spawn(command!, args, {
      env: {
        PATH: process.env.PATH ?? '',
        ...env,
        GATEHOUSE_DATA_DIR: dataDir,
        HOST: '127.0.0.1',
        PORT: String(ports[index]),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // A test run that dies without stop() must not leave nodes running against a dropped schema.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    void exited.then(() => process.off('exit', killOnExit));
    return {
      name: names[index]!,
      port: ports[index]!,
      url: `http://127.0.0.1:${ports[index]}`,
      child,
      output: () => output,
      exited,
    };
  };
  let proxy: RoundRobinProxy | undefined;
  const stop = async () => {
    await proxy?.close();
    for (const node of nodes) node.child.kill('SIGKILL');
    await Promise.all(nodes.map((node) => node.exited));
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  };
  try {
    // The first node migrates the database; the others then start together.
    nodes.push(start(0));
    await ready(nodes[0]!);
    for (let index = 1; index < options.nodes; index++) nodes.push(start(index));
    await Promise.all(nodes.slice(1).map(ready));
    proxy =
      options.proxy === 'haproxy'
        ? await startHaproxy(backends, { port: proxyPort })
        : await startRoundRobinProxy(backends, { port: proxyPort });
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, proxy: proxy!, url: publicUrl, env, stop };
}

/**
 * Resolves when the node answers /health/ready with 200 (whatever its log level); rejects with its output
 * if it exits first.
 */
async function ready(node: ClusterNode): Promise<void> {
  let exited = false;
  void node.exited.then(() => {
    exited = true;
  });
  for (;;) {
    if (exited) throw new Error(`${node.name} exited before it was ready:\n${node.output()}`);
    const answer = await fetch(`${node.url}/health/ready`).catch(() => undefined);
    if (answer?.status === 200) return;
    await answer?.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Resolves once the node has printed a line matching `pattern` (what it logs is how it says it has acted). */
export function waitForOutput(node: ClusterNode, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!pattern.test(node.output())) return false;
      node.child.stdout?.off('data', check);
      node.child.stderr?.off('data', check);
      resolve();
      return true;
    };
    if (check()) return;
    node.child.stdout?.on('data', check);
    node.child.stderr?.on('data', check);
    void node.exited.then(() => reject(new Error(`${node.name} exited before printing ${pattern}`)));
  });
}
