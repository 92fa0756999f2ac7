import { createServer, request as forward, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

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
  options: { downForMs?: number } = {},
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
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
