import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, isIPv6, type Socket as TcpSocket } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AuditRecord, Severity } from '../../platform/audit/types.js';
import { GatehouseError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
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

export interface ForwardingOptions {
  readonly logger: Logger;
  readonly registry?: Registry | undefined;
  /** Records waiting per forwarder (the batch being sent included); the rest are dropped. */
  readonly maxQueue: number;
  /** Attempts per batch before it is given up. */
  readonly maxAttempts: number;
  /** The first retry delay; each further one about doubles, with jitter. */
  readonly retryBaseMs: number;
  /** Waits between attempts; injected in tests. */
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
}

export interface Forwarding {
  /** Queues copies of committed records for every forwarder. Never blocks, never throws. */
  forward(records: readonly AuditRecord[]): void;
  /** Resolves when every queue is empty: delivered or given up. */
  flush(): Promise<void>;
  /** Flushes (a batch that fails now is given up, with the rest of its queue, without waiting to retry), then closes the forwarders. */
  close(): Promise<void>;
  state(): Record<string, { queued: number; failing: boolean }>;
}

/** Records per send. */
const BATCH_SIZE = 500;
/** Retry delays stop growing here. */
const MAX_RETRY_DELAY_MS = 5 * 60_000;
/** Queue-full warnings per forwarder, at most one per this interval. */
const DROP_LOG_INTERVAL_MS = 60_000;

interface Lane {
  readonly forwarder: Forwarder;
  readonly queue: AuditRecord[];
  inFlight: number;
  failing: boolean;
  draining: Promise<void> | undefined;
  droppedSinceLog: number;
  lastDropLog: number;
}

const defaultSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${message}${cause}`.slice(0, 300);
}

/**
 * Per forwarder, a bounded queue drained in batches, one send at a time, independently of the others (a slow
 * collector delays nobody else). A failed send is retried with exponential backoff and jitter up to
 * maxAttempts, then the batch is given up. Logs carry counts, never event contents.
 */
export function createForwarding(forwarders: readonly Forwarder[], options: ForwardingOptions): Forwarding {
  const names = new Set<string>();
  for (const forwarder of forwarders) {
    if (names.has(forwarder.name)) throw new Error(`two audit forwarders are named ${forwarder.name}`);
    names.add(forwarder.name);
  }
  const { logger, maxQueue, maxAttempts, retryBaseMs } = options;
  const sleep = options.sleep ?? defaultSleep;
  const lanes: Lane[] = forwarders.map((forwarder) => ({
    forwarder,
    queue: [],
    inFlight: 0,
    failing: false,
    draining: undefined,
    droppedSinceLog: 0,
    lastDropLog: Number.NEGATIVE_INFINITY,
  }));

  const registers = options.registry ? [options.registry] : [];
  const forwarded = new Counter({
    name: 'gatehouse_audit_forwarded_total',
    help: 'Audit events delivered to an external collector.',
    labelNames: ['forwarder'],
    registers,
  });
  const failures = new Counter({
    name: 'gatehouse_audit_forward_failures_total',
    help: 'Failed attempts to send a batch of audit events to an external collector.',
    labelNames: ['forwarder'],
    registers,
  });
  const dropped = new Counter({
    name: 'gatehouse_audit_forward_dropped_total',
    help: 'Audit events not forwarded (they remain in the audit log): queue_full or gave_up.',
    labelNames: ['forwarder', 'reason'],
    registers,
  });
  new Gauge({
    name: 'gatehouse_audit_forward_queue',
    help: 'Audit events waiting to be forwarded, the batch being sent included.',
    labelNames: ['forwarder'],
    registers,
    collect() {
      for (const lane of lanes) this.set({ forwarder: lane.forwarder.name }, queued(lane));
    },
  });
  for (const { forwarder } of lanes) {
    forwarded.inc({ forwarder: forwarder.name }, 0);
    failures.inc({ forwarder: forwarder.name }, 0);
    dropped.inc({ forwarder: forwarder.name, reason: 'queue_full' }, 0);
    dropped.inc({ forwarder: forwarder.name, reason: 'gave_up' }, 0);
  }

  let closing = false;
  let closed = false;
  let warnedClosed = false;
  let wake!: () => void;
  /** Resolves when close() begins: cuts retry waits short. */
  const closingSignal = new Promise<void>((resolve) => {
    wake = resolve;
  });

  const queued = (lane: Lane) => lane.queue.length + lane.inFlight;

  const giveUp = (lane: Lane, count: number, attempts: number, error: unknown) => {
    dropped.inc({ forwarder: lane.forwarder.name, reason: 'gave_up' }, count);
    logger.error(
      { forwarder: lane.forwarder.name, count, attempts, error: describeError(error) },
      'audit forwarding gave up on a batch of events (they remain in the audit log)',
    );
  };

  const backoff = (attempt: number) => {
    const ceiling = Math.min(retryBaseMs * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  };

  const deliver = async (lane: Lane, batch: AuditRecord[]) => {
    const name = lane.forwarder.name;
    for (let attempt = 1; ; attempt++) {
      try {
        await lane.forwarder.send(batch);
        forwarded.inc({ forwarder: name }, batch.length);
        if (lane.failing) logger.info({ forwarder: name }, 'audit forwarding recovered');
        lane.failing = false;
        return;
      } catch (error) {
        failures.inc({ forwarder: name });
        lane.failing = true;
        if (attempt >= maxAttempts || closing) {
          giveUp(lane, batch.length, attempt, error);
          if (closing && lane.queue.length > 0) {
            // Shutting down with the collector unreachable: do not wait on it for every remaining batch.
            const rest = lane.queue.splice(0, lane.queue.length);
            giveUp(lane, rest.length, 0, error);
          }
          return;
        }
        if (attempt === 1) {
          logger.warn(
            { forwarder: name, count: batch.length, error: describeError(error) },
            'audit forwarding failed; retrying',
          );
        }
        await Promise.race([sleep(backoff(attempt)), closingSignal]);
      }
    }
  };

  const drain = async (lane: Lane) => {
    // Let the caller's synchronous burst of forward() calls gather into one batch.
    await Promise.resolve();
    while (lane.queue.length > 0) {
      const batch = lane.queue.splice(0, BATCH_SIZE);
      lane.inFlight = batch.length;
      try {
        await deliver(lane, batch);
      } catch (error) {
        // deliver() handles send failures; this is a bug in the accounting, not a delivery problem.
        logger.error(
          { forwarder: lane.forwarder.name, error: describeError(error) },
          'audit forwarding error',
        );
      } finally {
        lane.inFlight = 0;
      }
    }
  };

  const start = (lane: Lane) => {
    if (lane.draining) return;
    lane.draining = drain(lane).finally(() => {
      lane.draining = undefined;
      // Records forwarded while the last send finished would otherwise wait for the next forward().
      if (lane.queue.length > 0) start(lane);
    });
  };

  const enqueue = (lane: Lane, records: readonly AuditRecord[]) => {
    const room = Math.max(0, maxQueue - queued(lane));
    const accepted = records.length <= room ? records : records.slice(0, room);
    for (const record of accepted) lane.queue.push(record);
    const overflow = records.length - accepted.length;
    if (overflow > 0) {
      dropped.inc({ forwarder: lane.forwarder.name, reason: 'queue_full' }, overflow);
      lane.droppedSinceLog += overflow;
      const now = Date.now();
      if (now - lane.lastDropLog >= DROP_LOG_INTERVAL_MS) {
        logger.warn(
          { forwarder: lane.forwarder.name, dropped: lane.droppedSinceLog, maxQueue },
          'audit forwarding queue is full; events not forwarded (they remain in the audit log)',
        );
        lane.lastDropLog = now;
        lane.droppedSinceLog = 0;
      }
    }
    if (lane.queue.length > 0) start(lane);
  };

  const flush = async () => {
    // A drain that ends may leave a successor (records that arrived meanwhile): wait until none is left.
    for (;;) {
      const running = lanes.map((lane) => lane.draining).filter((draining) => draining !== undefined);
      if (running.length === 0) return;
      await Promise.all(running);
    }
  };

  return {
    forward(records) {
      try {
        if (closing || closed) {
          if (!warnedClosed && records.length > 0) {
            warnedClosed = true;
            logger.warn({ count: records.length }, 'audit forwarding is closed; events not forwarded');
          }
          return;
        }
        if (records.length === 0) return;
        for (const lane of lanes) enqueue(lane, records);
      } catch (error) {
        logger.error({ error: describeError(error) }, 'audit forwarding error');
      }
    },
    flush,
    async close() {
      if (closed) return;
      closing = true;
      wake();
      await flush();
      closed = true;
      await Promise.all(
        lanes.map(async ({ forwarder }) => {
          try {
            await forwarder.close?.();
          } catch (error) {
            logger.warn(
              { forwarder: forwarder.name, error: describeError(error) },
              'closing audit forwarder',
            );
          }
        }),
      );
    },
    state() {
      return Object.fromEntries(
        lanes.map((lane) => [lane.forwarder.name, { queued: queued(lane), failing: lane.failing }]),
      );
    },
  };
}

/** The forwarders the settings enable, with their delivery; undefined when none is enabled. */
export function createForwarders(
  settings: AuditForwardingSettings,
  options: {
    logger: Logger;
    registry?: Registry | undefined;
    sleep?: ((ms: number) => Promise<void>) | undefined;
  },
): Forwarding | undefined {
  const forwarders: Forwarder[] = [];
  if (settings.stdout.enabled) forwarders.push(createStdoutForwarder());
  if (settings.syslog.enabled) forwarders.push(createSyslogForwarder(settings.syslog));
  if (settings.webhook.enabled) forwarders.push(createWebhookForwarder(settings.webhook));
  if (forwarders.length === 0) return undefined;
  return createForwarding(forwarders, {
    logger: options.logger,
    registry: options.registry,
    maxQueue: settings.maxQueue,
    maxAttempts: settings.maxAttempts,
    retryBaseMs: settings.retryBaseMs,
    sleep: options.sleep,
  });
}
