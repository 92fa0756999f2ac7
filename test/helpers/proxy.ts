import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as forward, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './app.js';

/** A backend as the proxy sees it. */
export interface Backend {
  readonly name: string;
  readonly port: number;
}

export interface RoundRobinProxy {
  readonly url: string;
  /** Which backend answered each request, in order (for assertions on the spread). */
  readonly answeredBy: string[];
  close(): Promise<void>;
}

// A connection that was refused never reached a node, so trying the next one cannot repeat a write.
const NEVER_REACHED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * A load balancer shaped like the HAProxy example in deploy/haproxy (round robin, no stickiness,
 * X-Forwarded-For appended, a refused connection retried on the next backend, a backend that refused
 * skipped for `downForMs`). Requests that reached a node and lost it midway answer 502, as HAProxy does,
 * because replaying them could repeat a write.
 */
export async function startRoundRobinProxy(
  backends: readonly Backend[],
  options: { downForMs?: number; port?: number } = {},
): Promise<RoundRobinProxy> {
  const downForMs = options.downForMs ?? 5_000;
  const downUntil = new Map<string, number>();
  const answeredBy: string[] = [];
  let next = 0;

  const pick = (tried: Set<string>): Backend | undefined => {
    for (let step = 0; step < backends.length; step++) {
      const backend = backends[(next + step) % backends.length]!;
      if (tried.has(backend.name) || (downUntil.get(backend.name) ?? 0) > Date.now()) continue;
      next = (next + step + 1) % backends.length;
      return backend;
    }
    return undefined;
  };

  const server: Server = createServer(async (incoming, outgoing) => {
    const body = await readBody(incoming);
    const tried = new Set<string>();
    const attempt = () => {
      const backend = pick(tried);
      if (!backend) {
        outgoing.writeHead(503, { 'content-type': 'text/plain' }).end('no backend available\n');
        return;
      }
      tried.add(backend.name);
      const forwardedFor = [incoming.headers['x-forwarded-for'], incoming.socket.remoteAddress]
        .filter(Boolean)
        .join(', ');
      const upstream = forward(
        {
          host: '127.0.0.1',
          port: backend.port,
          method: incoming.method,
          path: incoming.url,
          headers: { ...incoming.headers, 'x-forwarded-for': forwardedFor, 'x-forwarded-proto': 'http' },
        },
        (response) => {
          answeredBy.push(backend.name);
          outgoing.writeHead(response.statusCode ?? 502, {
            ...response.headers,
            'x-served-by': backend.name,
          });
          response.pipe(outgoing);
          response.on('error', () => outgoing.destroy());
        },
      );
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        if (NEVER_REACHED.has(error.code ?? '')) {
          downUntil.set(backend.name, Date.now() + downForMs);
          attempt();
          return;
        }
        if (!outgoing.headersSent)
          outgoing
            .writeHead(502, { 'content-type': 'text/plain' })
            .end(`${backend.name}: ${error.message}\n`);
        else outgoing.destroy();
      });
      upstream.end(body);
    };
    attempt();
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    answeredBy,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(incoming: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export const HAPROXY = '/usr/sbin/haproxy';

/**
 * Debian's HAProxy in front of the backends, configured like deploy/haproxy/haproxy.cfg (round robin, no
 * stickiness, X-Forwarded-For, a refused connection redispatched, /health/ready checks) with loopback
 * servers instead of Docker's DNS. `answeredBy` stays empty: HAProxy names the server in `x-served-by`.
 */
export async function startHaproxy(
  backends: readonly Backend[],
  options: { port?: number } = {},
): Promise<RoundRobinProxy> {
  const port = options.port ?? (await freePort());
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-haproxy-'));
  const file = join(directory, 'haproxy.cfg');
  writeFileSync(
    file,
    [
      'global',
      '    maxconn 4096',
      'defaults',
      '    mode http',
      '    retries 2',
      '    retry-on conn-failure',
      '    option redispatch 1',
      '    timeout connect 5s',
      '    timeout client 60s',
      '    timeout server 60s',
      '    timeout http-request 30s',
      '    timeout http-keep-alive 60s',
      'frontend gatehouse_http',
      `    bind 127.0.0.1:${port}`,
      '    option forwardfor',
      '    default_backend gatehouse',
      'backend gatehouse',
      '    balance roundrobin',
      '    option httpchk GET /health/ready',
      '    http-check expect status 200',
      '    http-response set-header x-served-by %s',
      ...backends.map((backend) => `    server ${backend.name} 127.0.0.1:${backend.port} check inter 2s`),
      '',
    ].join('\n'),
  );
  const child = spawn(HAPROXY, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  // Listening once a connection is accepted (any answer, even 503 before the backends are up).
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${output}`);
    const answer = await fetch(`${url}/health/live`).catch(() => undefined);
    if (answer) {
      await answer.arrayBuffer();
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    answeredBy: [],
    async close() {
      child.kill('SIGTERM');
      await exited;
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
