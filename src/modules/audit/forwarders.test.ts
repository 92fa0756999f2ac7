import { createHmac, timingSafeEqual } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { Value } from '@sinclair/typebox/value';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../platform/audit/types.js';
import { signWebhookBody } from '../../platform/outbound/signature.js';
import {
  createForwarders,
  createStdoutForwarder,
  createSyslogForwarder,
  createWebhookForwarder,
  formatSyslog,
} from './forwarders.js';
import { type AuditForwardingSettings, AuditForwardingSettingsSchema } from './forwarding-settings.js';

const settings = (overrides: Record<string, unknown> = {}): AuditForwardingSettings =>
  Value.Default(AuditForwardingSettingsSchema, structuredClone(overrides)) as AuditForwardingSettings;

let nextSeq = 0;
function record(overrides: Partial<AuditRecord> = {}): AuditRecord {
  const seq = nextSeq++;
  return {
    seq,
    id: `0190a0b0-0000-7000-8000-${String(seq).padStart(12, '0')}`,
    time: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    name: 'auth.sign_in.failed',
    severity: 'medium',
    outcome: 'failure',
    actorType: 'user',
    actorId: 'usr_1',
    targetType: 'user',
    targetId: 'usr_2',
    organizationId: null,
    ip: '203.0.113.9',
    userAgent: 'Mozilla/5.0',
    requestId: 'req-1',
    details: { reason: 'bad_password', note: 'café ☕' },
    ...overrides,
  };
}

/** Items arriving from a socket or server, awaited by count. */
class Inbox<T> {
  readonly items: T[] = [];
  private waiters: { count: number; resolve: (items: T[]) => void }[] = [];

  push(item: T): void {
    this.items.push(item);
    this.waiters = this.waiters.filter((waiter) => {
      if (this.items.length < waiter.count) return true;
      waiter.resolve(this.items.slice(0, waiter.count));
      return false;
    });
  }

  take(count: number): Promise<T[]> {
    if (this.items.length >= count) return Promise.resolve(this.items.slice(0, count));
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }
}

interface ParsedSyslog {
  pri: number;
  version: string;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sdId: string;
  params: Record<string, string>;
  msg: string | undefined;
}

const PARAM = /([A-Za-z]+)="((?:\\["\\\]]|[^"\\\]])*)"/g;

/** A strict reader of the RFC 5424 messages we send: one SD element, escaped values, optional MSG. */
function parseSyslog(message: string): ParsedSyslog {
  const match =
    /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) \[([^ \]]+)((?: [A-Za-z]+="(?:\\["\\\]]|[^"\\\]])*")*)\](?: (.*))?$/s.exec(
      message,
    );
  if (!match) throw new Error(`not an RFC 5424 message: ${message}`);
  const params: Record<string, string> = {};
  for (const [, name, value] of (match[9] ?? '').matchAll(PARAM)) {
    params[name!] = value!.replace(/\\(["\\\]])/g, '$1');
  }
  return {
    pri: Number(match[1]),
    version: match[2]!,
    timestamp: match[3]!,
    hostname: match[4]!,
    appName: match[5]!,
    procId: match[6]!,
    msgId: match[7]!,
    sdId: match[8]!,
    params,
    msg: match[10],
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface WebhookRequest {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

async function startWebhookServer(
  answer: (request: WebhookRequest, response: ServerResponse, index: number) => void,
): Promise<{ url: string; requests: Inbox<WebhookRequest> }> {
  const requests = new Inbox<WebhookRequest>();
  let index = 0;
  const server = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const received = { headers: request.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(received);
      answer(received, response, index++);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/audit`, requests };
}

describe('formatSyslog', () => {
  it('computes PRI from facility and severity', () => {
    const expected = { critical: 2, high: 3, medium: 4, low: 6 } as const;
    for (const [severity, code] of Object.entries(expected)) {
      const line = formatSyslog(
        record({ severity: severity as AuditRecord['severity'] }),
        { facility: 10, appName: 'gatehouse' },
        'h',
      );
      expect(parseSyslog(line).pri).toBe(10 * 8 + code);
    }
    expect(parseSyslog(formatSyslog(record(), { facility: 0, appName: 'a' }, 'h')).pri).toBe(4);
  });

  it('leaves out null parameters, uses NILVALUE and keeps header fields printable and short', () => {
    const line = formatSyslog(
      record({
        name: `very.long.event.name.${'x'.repeat(40)}`,
        actorType: 'anonymous',
        actorId: null,
        targetType: null,
        targetId: null,
        ip: null,
        requestId: null,
        details: null,
      }),
      { facility: 10, appName: 'gatehouse' },
      '',
    );
    const parsed = parseSyslog(line);
    expect(parsed.hostname).toBe('-');
    expect(parsed.msgId).toHaveLength(32);
    expect(parsed.msgId).toBe('very.long.event.name.xxxxxxxxxxx');
    expect(parsed.params).toEqual({ id: expect.any(String), outcome: 'failure', actor: 'anonymous' });
    expect(parsed.msg).toBeUndefined();
    expect(line.endsWith(']')).toBe(true);

    const odd = parseSyslog(
      formatSyslog(record({ name: 'bad name\u00e9' }), { facility: 10, appName: 'g' }, 'höst name'),
    );
    expect(odd.msgId).toBe('bad_name_');
    expect(odd.hostname).toBe('h_st_name');
  });

  it('escapes quotes, backslashes and brackets in parameter values and blanks control characters', () => {
    const line = formatSyslog(
      record({ requestId: 'a"b]c\\d\ne', targetType: 'role', targetId: 'x]"y' }),
      { facility: 10, appName: 'gatehouse' },
      'h',
    );
    expect(line).toContain('requestId="a\\"b\\]c\\\\d e"');
    const parsed = parseSyslog(line);
    expect(parsed.params.requestId).toBe('a"b]c\\d e');
    expect(parsed.params.target).toBe('role:x]"y');
  });
});

describe('syslog forwarder over UDP', () => {
  it('sends one RFC 5424 datagram per event', async () => {
    const server = createSocket('udp4');
    const datagrams = new Inbox<Buffer>();
    server.on('message', (message) => datagrams.push(message));
    server.bind(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const forwarder = createSyslogForwarder(
      settings({
        syslog: {
          enabled: true,
          port: server.address().port,
          hostname: 'gh-1.example',
          appName: 'gatehouse-test',
        },
      }).syslog,
    );
    cleanups.push(() => forwarder.close?.());
    const critical = record({
      severity: 'critical',
      name: 'security.honeypot.hit',
      requestId: 'r"1]\\x',
      organizationId: 'org_7',
    });
    const low = record({ severity: 'low', outcome: 'success', actorType: 'system', actorId: null });
    await forwarder.send([critical, low]);

    const received = (await datagrams.take(2)).map((datagram) => datagram.toString('utf8'));
    const messages = received.map(parseSyslog).sort((a, b) => a.pri - b.pri);
    const [first, second] = messages as [ParsedSyslog, ParsedSyslog];
    expect(first.pri).toBe(10 * 8 + 2);
    expect(first.version).toBe('1');
    expect(first.timestamp).toBe('2026-01-02T03:04:05.678Z');
    expect(first.hostname).toBe('gh-1.example');
    expect(first.appName).toBe('gatehouse-test');
    expect(first.procId).toBe(String(process.pid));
    expect(first.msgId).toBe('security.honeypot.hit');
    expect(first.sdId).toBe('gatehouse@32473');
    expect(first.params).toEqual({
      id: critical.id,
      outcome: 'failure',
      actor: 'user:usr_1',
      target: 'user:usr_2',
      org: 'org_7',
      ip: '203.0.113.9',
      requestId: 'r"1]\\x',
    });
    expect(JSON.parse(first.msg!)).toEqual(critical.details);
    expect(received.some((text) => text.includes('requestId="r\\"1\\]\\\\x"'))).toBe(true);
    expect(second.pri).toBe(10 * 8 + 6);
    expect(second.params.actor).toBe('system');
    // No BOM before MSG.
    expect(received.every((text) => !text.includes('\ufeff'))).toBe(true);

    // Too big for one datagram: sent without its details, marked as truncated.
    const big = record({ details: { blob: 'x'.repeat(70_000) } });
    await forwarder.send([big]);
    const [, , third] = await datagrams.take(3);
    const parsed = parseSyslog(third!.toString('utf8'));
    expect(parsed.params).toMatchObject({ id: big.id, truncated: 'true' });
    expect(parsed.msg).toBeUndefined();
  });
});

describe('syslog forwarder over TCP', () => {
  async function startTcpCollector() {
    const frames = new Inbox<string>();
    const connections: Socket[] = [];
    const server = createTcpServer((socket) => {
      connections.push(socket);
      let buffer = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        for (;;) {
          const space = buffer.indexOf(0x20);
          if (space === -1) return;
          const header = buffer.subarray(0, space).toString('ascii');
          if (!/^[1-9][0-9]*$/.test(header)) throw new Error(`bad octet count ${header}`);
          const length = Number(header);
          if (buffer.length < space + 1 + length) return;
          frames.push(buffer.subarray(space + 1, space + 1 + length).toString('utf8'));
          buffer = buffer.subarray(space + 1 + length);
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(async () => {
      for (const socket of connections) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    return { port: (server.address() as AddressInfo).port, frames, connections };
  }

  it('frames messages with octet counting over one connection, and reconnects after it drops', async () => {
    const collector = await startTcpCollector();
    const forwarder = createSyslogForwarder(
      settings({
        syslog: { enabled: true, protocol: 'tcp', port: collector.port, hostname: 'gh-2', facility: 4 },
      }).syslog,
    );
    cleanups.push(() => forwarder.close?.());

    const first = record({ severity: 'high', details: { text: 'multi-byte: é ☕ 😀', quote: '"]\\' } });
    const second = record({ details: null });
    await forwarder.send([first, second]);
    await forwarder.send([record()]);
    const frames = await collector.frames.take(3);
    expect(collector.connections).toHaveLength(1);
    const parsed = frames.map(parseSyslog);
    expect(parsed[0]!.pri).toBe(4 * 8 + 3);
    expect(parsed[0]!.hostname).toBe('gh-2');
    expect(parsed[0]!.timestamp).toBe('2026-01-02T03:04:05.678Z');
    // The count is of bytes, not characters: the multi-byte details decoded whole.
    expect(JSON.parse(parsed[0]!.msg!)).toEqual(first.details);
    expect(parsed[1]!.msg).toBeUndefined();
    expect(parsed[1]!.params.id).toBe(second.id);

    // The collector hangs up; the next send opens a new connection.
    const dropped = collector.connections[0]!;
    dropped.end();
    await once(dropped, 'close');
    const after = record({ name: 'after.reconnect' });
    await forwarder.send([after]);
    const [, , , reconnected] = await collector.frames.take(4);
    expect(parseSyslog(reconnected!).msgId).toBe('after.reconnect');
    expect(collector.connections).toHaveLength(2);
  });

  it('fails a send when the collector cannot be reached', async () => {
    const collector = await startTcpCollector();
    const port = collector.port;
    const server = createTcpServer();
    // Nobody listens on a port we just had and released.
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const unused = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    expect(unused).not.toBe(port);
    const forwarder = createSyslogForwarder(
      settings({ syslog: { enabled: true, protocol: 'tcp', port: unused, timeoutMs: 1_000 } }).syslog,
    );
    await expect(forwarder.send([record()])).rejects.toThrow(/ECONNREFUSED/);
    await forwarder.close?.();
  });
});

describe('webhook forwarder', () => {
  const secret = 'a-webhook-secret-of-some-length';

  it('posts {"events":[...]} as JSON with a verifiable signature', async () => {
    const hook = await startWebhookServer((_request, response) => response.writeHead(204).end());
    const forwarder = createWebhookForwarder(
      settings({ webhook: { enabled: true, url: hook.url, secret } }).webhook,
    );
    const records = [record(), record({ severity: 'critical', details: { emoji: '😀' } })];
    const before = Math.floor(Date.now() / 1000);
    await forwarder.send(records);

    const [request] = await hook.requests.take(1);
    expect(request!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request!.body)).toEqual({ events: records });

    const header = String(request!.headers['gatehouse-signature']);
    const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
    expect(match).not.toBeNull();
    const [, t, v1] = match!;
    expect(Number(t)).toBeGreaterThanOrEqual(before);
    expect(Number(t)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    const expected = createHmac('sha256', secret).update(`${t}.${request!.body}`).digest();
    expect(timingSafeEqual(Buffer.from(v1!, 'hex'), expected)).toBe(true);
    expect(signWebhookBody(secret, request!.body, Number(t))).toBe(header);
  });

  it('sends no signature without a secret, and fails on a non-2xx answer', async () => {
    const hook = await startWebhookServer((_request, response, index) =>
      index === 0 ? response.writeHead(200).end('ok') : response.writeHead(302, { location: '/x' }).end(),
    );
    const forwarder = createWebhookForwarder(settings({ webhook: { enabled: true, url: hook.url } }).webhook);
    await forwarder.send([record()]);
    await expect(forwarder.send([record()])).rejects.toThrow('the webhook answered 302');
    const [first] = await hook.requests.take(2);
    expect(first!.headers['gatehouse-signature']).toBeUndefined();
  });

  it('refuses settings without a URL', () => {
    expect(() => createWebhookForwarder(settings({ webhook: { enabled: true } }).webhook)).toThrow(
      /webhook\.url is required/,
    );
    expect(() =>
      createWebhookForwarder(settings({ webhook: { enabled: true, url: 'ftp://example.com/' } }).webhook),
    ).toThrow(/http:\/\/ or https:\/\//);
    expect(() => createForwarders(settings({ webhook: { enabled: true } }))).toThrow(
      /webhook\.url is required/,
    );
  });
});

describe('stdout forwarder', () => {
  it('writes one JSON line per event', async () => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
    const records = [record(), record({ details: null })];
    await createStdoutForwarder(stream).send(records);
    const lines = chunks.join('').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => JSON.parse(line))).toEqual(
      records.map((item) => ({ type: 'gatehouse.audit', ...item, time: '2026-01-02T03:04:05.678Z' })),
    );
  });
});

describe('createForwarders', () => {
  it('returns nothing when no forwarder is enabled', () => {
    expect(createForwarders(settings())).toEqual([]);
  });

  it('builds the enabled forwarders', async () => {
    const forwarders = createForwarders(
      settings({
        syslog: { enabled: true, port: 9 },
        webhook: { enabled: true, url: 'https://collector.example/audit' },
      }),
    );
    expect(forwarders.map((forwarder) => forwarder.name)).toEqual(['syslog', 'webhook']);
    await Promise.all(forwarders.map((forwarder) => forwarder.close?.()));
  });

  it('has safe defaults that validate', () => {
    const defaults = settings();
    expect(Value.Check(AuditForwardingSettingsSchema, defaults)).toBe(true);
    expect(defaults).toMatchObject({
      stdout: { enabled: false },
      syslog: {
        enabled: false,
        host: '127.0.0.1',
        port: 514,
        protocol: 'udp',
        facility: 10,
        appName: 'gatehouse',
      },
      webhook: { enabled: false, timeoutMs: 5_000 },
      maxAttempts: 5,
      retryBaseMs: 500,
    });
    const withUrl = settings({
      webhook: { enabled: true, url: 'https://collector.example/audit', secret: 'short' },
    });
    const problems = [...Value.Errors(AuditForwardingSettingsSchema, withUrl)].map((error) => error.path);
    expect(problems).toEqual(['/webhook/secret']);
  });
});
