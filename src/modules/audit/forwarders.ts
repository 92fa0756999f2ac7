import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, isIPv6, type Socket as TcpSocket } from 'node:net';
import { hostname as osHostname } from 'node:os';
import type { AuditRecord, Severity } from '../../platform/audit/types.js';
import { GatehouseError } from '../../platform/errors.js';
import { signWebhookBody } from '../../platform/outbound/signature.js';
import type {
  AuditForwardingSettings,
  SyslogForwarderSettings,
  WebhookForwarderSettings,
} from './forwarding-settings.js';

/**
 * Forwarders send copies of committed audit events to external collectors. The events are already safe in
 * the database when a forwarder sees them, so delivery is best effort and at least once: a batch that failed
 * part-way is sent again whole, and a batch that keeps failing is given up (counted and logged).
 */
export interface Forwarder {
  readonly name: string;
  /** Resolves once the collector has the records (or the bytes are written); rejects to be retried. */
  send(records: readonly AuditRecord[]): Promise<void>;
  close?(): Promise<void>;
}

// --- stdout -------------------------------------------------------------------------------------------------

/** One JSON line per event, `{"type":"gatehouse.audit",...record,"time":"<ISO 8601>"}`, apart from the log stream. */
export function createStdoutForwarder(stream: NodeJS.WritableStream = process.stdout): Forwarder {
  return {
    name: 'stdout',
    send(records) {
      const text = records
        .map(
          (record) =>
            `${JSON.stringify({ type: 'gatehouse.audit', ...record, time: isoTime(record.time) })}\n`,
        )
        .join('');
      return new Promise<void>((resolve, reject) => {
        stream.write(text, (error?: Error | null) => (error ? reject(error) : resolve()));
      });
    },
  };
}

function isoTime(time: number): string | null {
  return Number.isFinite(time) ? new Date(time).toISOString() : null;
}

// --- syslog -------------------------------------------------------------------------------------------------

/** RFC 5424 severity codes. */
const SYSLOG_SEVERITY: Record<Severity, number> = { critical: 2, high: 3, medium: 4, low: 6 };

/** The example private enterprise number RFC 5424 uses for its own examples (RFC 5612). */
const SD_ID = 'gatehouse@32473';
const NILVALUE = '-';
/** Largest UDP payload over IPv4; a bigger message is sent without its MSG part rather than not at all. */
const MAX_DATAGRAM_BYTES = 65_507;

/** A header field: printable US-ASCII only (RFC 5424 §6), cut to the field's length, `-` when empty. */
function headerField(value: string | null | undefined, maxLength: number): string {
  const printable = (value ?? '').replace(/[^\x21-\x7e]/g, '_').slice(0, maxLength);
  return printable === '' ? NILVALUE : printable;
}

/**
 * An SD-PARAM value (RFC 5424 §6.3.3): `"`, `\` and `]` escaped with a backslash. Control characters are
 * replaced by spaces: the RFC allows them, but line-oriented collectors and terminals behind it may not.
 */
function paramValue(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point.
  return value.replace(/[\x00-\x1f\x7f]/g, ' ').replace(/["\\\]]/g, (character) => `\\${character}`);
}

function structuredData(record: AuditRecord, truncated: boolean): string {
  const params: [string, string | null][] = [
    ['id', record.id],
    ['outcome', record.outcome],
    ['actor', record.actorId === null ? record.actorType : `${record.actorType}:${record.actorId}`],
    [
      'target',
      record.targetType === null
        ? null
        : record.targetId === null
          ? record.targetType
          : `${record.targetType}:${record.targetId}`,
    ],
    ['org', record.organizationId],
    ['ip', record.ip],
    ['requestId', record.requestId],
    ['truncated', truncated ? 'true' : null],
  ];
  const rendered = params
    .filter((param): param is [string, string] => param[1] !== null && param[1] !== undefined)
    .map(([name, value]) => ` ${name}="${paramValue(value)}"`)
    .join('');
  return `[${SD_ID}${rendered}]`;
}

/**
 * One RFC 5424 message:
 * `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [gatehouse@32473 id=".." outcome=".." actor="type:id"
 * target="type:id" org=".." ip=".." requestId=".."] MSG`, where PRI is facility × 8 + the severity (critical →
 * 2, high → 3, medium → 4, low → 6), MSGID the event name and MSG the event's details as JSON (UTF-8, no BOM;
 * left out when the details were pruned). Parameters whose value is null are left out.
 */
export function formatSyslog(
  record: AuditRecord,
  settings: Pick<SyslogForwarderSettings, 'facility' | 'appName'>,
  hostname: string,
  options: { withoutDetails?: boolean } = {},
): string {
  const pri = settings.facility * 8 + (SYSLOG_SEVERITY[record.severity] ?? 5);
  const header = [
    `<${pri}>1`,
    isoTime(record.time) ?? NILVALUE,
    headerField(hostname, 255),
    headerField(settings.appName, 48),
    headerField(String(process.pid), 128),
    headerField(record.name, 32),
  ].join(' ');
  const withoutDetails = options.withoutDetails === true && record.details !== null;
  const sd = structuredData(record, withoutDetails);
  return record.details === null || withoutDetails
    ? `${header} ${sd}`
    : `${header} ${sd} ${JSON.stringify(record.details)}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Syslog over UDP (RFC 5426: one datagram per message) or TCP (RFC 6587 §3.4.1 octet counting:
 * `<byte length> <message>`, over one persistent connection, opened again on the next send after an error).
 */
export function createSyslogForwarder(settings: SyslogForwarderSettings): Forwarder {
  const hostname = settings.hostname ?? osHostname();
  const format = (record: AuditRecord): Buffer =>
    Buffer.from(formatSyslog(record, settings, hostname), 'utf8');
  return settings.protocol === 'tcp'
    ? tcpSyslog(settings, format)
    : udpSyslog(settings, (record) => {
        const message = format(record);
        return message.length <= MAX_DATAGRAM_BYTES
          ? message
          : Buffer.from(formatSyslog(record, settings, hostname, { withoutDetails: true }), 'utf8');
      });
}

/** Closes a UDP socket that may already be closed (after an error, say). */
function closeQuietly(socket: UdpSocket, done?: () => void): void {
  try {
    socket.close(done);
  } catch {
    done?.();
  }
}

function udpSyslog(settings: SyslogForwarderSettings, format: (record: AuditRecord) => Buffer): Forwarder {
  let socket: UdpSocket | undefined;
  const open = (): UdpSocket => {
    if (socket) return socket;
    const created = createSocket(isIPv6(settings.host) ? 'udp6' : 'udp4');
    // Errors reach the send callbacks; a socket that reported one is replaced on the next send.
    created.on('error', () => {
      if (socket === created) socket = undefined;
      closeQuietly(created);
    });
    created.unref();
    socket = created;
    return created;
  };
  const datagram = (current: UdpSocket, message: Buffer) =>
    new Promise<void>((resolve, reject) => {
      current.send(message, settings.port, settings.host, (error) => (error ? reject(error) : resolve()));
    });
  return {
    name: 'syslog',
    async send(records) {
      const current = open();
      try {
        await withTimeout(
          Promise.all(records.map((record) => datagram(current, format(record)))),
          settings.timeoutMs,
          'syslog send',
        );
      } catch (error) {
        if (socket === current) socket = undefined;
        closeQuietly(current);
        throw error;
      }
    },
    async close() {
      const current = socket;
      socket = undefined;
      if (current) await new Promise<void>((resolve) => closeQuietly(current, resolve));
    },
  };
}

function tcpSyslog(settings: SyslogForwarderSettings, format: (record: AuditRecord) => Buffer): Forwarder {
  let socket: TcpSocket | undefined;
  let connecting: Promise<TcpSocket> | undefined;

  const usable = (candidate: TcpSocket | undefined): candidate is TcpSocket =>
    candidate !== undefined && !candidate.destroyed && candidate.writable;

  const connect = (): Promise<TcpSocket> => {
    if (usable(socket)) return Promise.resolve(socket);
    connecting ??= new Promise<TcpSocket>((resolve, reject) => {
      const created = createConnection({ host: settings.host, port: settings.port });
      const timer = setTimeout(
        () => created.destroy(new Error(`syslog connection timed out after ${settings.timeoutMs} ms`)),
        settings.timeoutMs,
      );
      const failed = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      created.once('error', failed);
      created.once('connect', () => {
        clearTimeout(timer);
        created.off('error', failed);
        // Later errors reach the write callbacks; the socket is then destroyed and replaced on the next send.
        created.on('error', () => {});
        created.once('close', () => {
          if (socket === created) socket = undefined;
        });
        created.setNoDelay(true);
        created.setKeepAlive(true, 60_000);
        created.resume(); // a collector has nothing to say; never let its bytes pile up
        created.unref();
        socket = created;
        resolve(created);
      });
    }).finally(() => {
      connecting = undefined;
    });
    return connecting;
  };

  return {
    name: 'syslog',
    async send(records) {
      const frames = Buffer.concat(
        records.flatMap((record) => {
          const message = format(record);
          return [Buffer.from(`${message.length} `, 'ascii'), message];
        }),
      );
      const current = await connect();
      try {
        await withTimeout(
          new Promise<void>((resolve, reject) => {
            current.write(frames, (error) => (error ? reject(error) : resolve()));
          }),
          settings.timeoutMs,
          'syslog write',
        );
      } catch (error) {
        // Part of the batch may have gone out; the retry sends it all again on a fresh connection.
        current.destroy();
        if (socket === current) socket = undefined;
        throw error;
      }
    },
    async close() {
      const current = socket;
      socket = undefined;
      if (!current || current.destroyed) return;
      await withTimeout(
        new Promise<void>((resolve) => current.end(() => resolve())),
        settings.timeoutMs,
        'syslog close',
      ).catch(() => {});
      current.destroy();
    },
  };
}

// --- webhook ------------------------------------------------------------------------------------------------

/**
 * POSTs each batch as `application/json`, `{"events":[...records]}`. Any answer but 2xx (redirects included:
 * they are not followed) fails the send. With a secret, requests carry a `Gatehouse-Signature` header (see
 * signWebhookBody).
 */
export function createWebhookForwarder(settings: WebhookForwarderSettings): Forwarder {
  if (!settings.url) {
    throw new GatehouseError(
      'config_invalid',
      'audit forwarding: webhook.url is required when webhook.enabled is true',
    );
  }
  let url: URL;
  try {
    url = new URL(settings.url);
  } catch {
    throw new GatehouseError(
      'config_invalid',
      'audit forwarding: webhook.url must be an http:// or https:// URL',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new GatehouseError(
      'config_invalid',
      'audit forwarding: webhook.url must be an http:// or https:// URL',
    );
  }
  if (settings.secret !== undefined && settings.secret.length < 16) {
    throw new GatehouseError(
      'config_invalid',
      'audit forwarding: webhook.secret must be at least 16 characters',
    );
  }
  const target = url.href;
  return {
    name: 'webhook',
    async send(records) {
      const body = JSON.stringify({ events: records });
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'Gatehouse-Audit-Forwarder',
      };
      if (settings.secret) {
        headers['gatehouse-signature'] = signWebhookBody(
          settings.secret,
          body,
          Math.floor(Date.now() / 1000),
        );
      }
      const response = await fetch(target, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(settings.timeoutMs),
      });
      // The answer's body is of no interest; release the connection.
      await response.body?.cancel().catch(() => {});
      if (response.status < 200 || response.status > 299) {
        throw new Error(`the webhook answered ${response.status}`);
      }
    },
  };
}

// --- delivery -----------------------------------------------------------------------------------------------

/** How committed events reach the forwarders (see queued-forwarding.ts). */
export interface Forwarding {
  /** Hands copies of committed records on to every forwarder. Never blocks, never throws. */
  forward(records: readonly AuditRecord[]): void;
  /** Resolves once what was handed on is safely queued. */
  flush(): Promise<void>;
  /** Flushes, then closes the forwarders (their connections). */
  close(): Promise<void>;
  /** Per forwarder: whether its last send failed, and why. */
  state(): Record<string, { failing: boolean; lastError?: string }>;
}

/** The forwarders the settings enable (none: an empty list). */
export function createForwarders(settings: AuditForwardingSettings): Forwarder[] {
  const forwarders: Forwarder[] = [];
  if (settings.stdout.enabled) forwarders.push(createStdoutForwarder());
  if (settings.syslog.enabled) forwarders.push(createSyslogForwarder(settings.syslog));
  if (settings.webhook.enabled) forwarders.push(createWebhookForwarder(settings.webhook));
  return forwarders;
}
