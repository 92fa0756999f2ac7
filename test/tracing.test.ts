import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/load.js';
import { buildTestApp, closeTestApp, type TestApp } from './helpers/app.js';
import { createTestDatabase, type TestDatabase } from './helpers/dialects.js';

/** An OTLP attribute as the JSON encoding sends it. */
interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: number | string; boolValue?: boolean };
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: OtlpAttribute[];
  status?: { code?: number; message?: string };
}

interface ReceivedSpan extends OtlpSpan {
  resource: Record<string, unknown>;
}

const attributes = (list: readonly OtlpAttribute[] = []): Record<string, unknown> =>
  Object.fromEntries(
    list.map(({ key, value }) => [
      key,
      value.stringValue ?? (value.intValue === undefined ? value.boolValue : Number(value.intValue)),
    ]),
  );

/** A stand-in OpenTelemetry collector: takes OTLP/HTTP JSON on POST /v1/traces and keeps every span. */
class Collector {
  readonly spans: ReceivedSpan[] = [];
  readonly requests: { path: string; contentType: string | undefined }[] = [];
  private readonly server: Server;
  private waiters: { match: (span: ReceivedSpan) => boolean; resolve: (span: ReceivedSpan) => void }[] = [];

  constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.requests.push({ path: request.url ?? '', contentType: request.headers['content-type'] });
        if (request.url !== '/v1/traces') {
          // Not retryable: the exporter gives up at once.
          response.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"refused"}');
          return;
        }
        let body = Buffer.concat(chunks);
        if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const payload = JSON.parse(body.toString('utf8')) as {
          resourceSpans?: {
            resource?: { attributes?: OtlpAttribute[] };
            scopeSpans?: { spans?: OtlpSpan[] }[];
          }[];
        };
        for (const resourceSpans of payload.resourceSpans ?? []) {
          const resource = attributes(resourceSpans.resource?.attributes);
          for (const scope of resourceSpans.scopeSpans ?? []) {
            for (const span of scope.spans ?? []) this.receive({ ...span, resource });
          }
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/traces`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private receive(span: ReceivedSpan): void {
    this.spans.push(span);
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.match(span)) return true;
      waiter.resolve(span);
      return false;
    });
  }

  /** Resolves with the first span (already received or yet to come) that matches; fails after `withinMs`. */
  span(
    description: string,
    match: (span: ReceivedSpan) => boolean,
    withinMs = 15_000,
  ): Promise<ReceivedSpan> {
    const found = this.spans.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `the collector received no span ${description} within ${withinMs} ms; it has: ${JSON.stringify(this.spans.map(({ name, traceId }) => ({ name, traceId })))}`,
            ),
          ),
        withinMs,
      );
      this.waiters.push({
        match,
        resolve: (span) => {
          clearTimeout(timer);
          resolve(span);
        },
      });
    });
  }
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** The log lines of one request, found by the request id the response carries. */
function requestLines(harness: TestApp, requestId: string): Record<string, unknown>[] {
  return harness.logs.entries.filter((entry) => entry.requestId === requestId);
}

describe('OpenTelemetry tracing', () => {
  let database: TestDatabase;
  let collector: Collector;
  let endpoint: string;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    collector = new Collector();
    endpoint = await collector.start();
  });

  afterAll(async () => {
    await collector?.stop();
    await database?.drop();
  });

  it('exports a server span per request, continuing the caller’s trace, and puts its ids in the request’s log lines', async () => {
    const harness = await buildTestApp(database.url, {
      overrides: { tracing: { enabled: true, otlpEndpoint: endpoint, serviceName: 'gatehouse-under-test' } },
    });
    const { app } = harness;
    app.get('/tracing-test/fails', async () => {
      throw new Error('the handler broke');
    });

    const traceId = hex(16);
    const callerSpanId = hex(8);
    const unsampledTraceId = hex(16);
    let signedOut: { requestId: string };
    let failed: { requestId: string };
    try {
      const response = await app.inject({
        method: 'GET',
        url: '/api/v1/me?token=not-for-traces',
        headers: { traceparent: `00-${traceId}-${callerSpanId}-01` },
      });
      expect(response.statusCode).toBe(401);
      signedOut = { requestId: String(response.headers['x-request-id']) };

      const failure = await app.inject({ method: 'GET', url: '/tracing-test/fails' });
      expect(failure.statusCode).toBe(500);
      failed = { requestId: String(failure.headers['x-request-id']) };

      // The caller decided not to sample: ParentBased follows it, so nothing is exported for this trace.
      const unsampled = await app.inject({
        method: 'GET',
        url: '/api/v1/me',
        headers: { traceparent: `00-${unsampledTraceId}-${hex(8)}-00` },
      });
      expect(unsampled.statusCode).toBe(401);
      // Probes are neither logged nor traced.
      expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    } finally {
      // Closing the app flushes the batch to the collector.
      await closeTestApp(harness);
    }

    const span = await collector.span(`in trace ${traceId}`, (candidate) => candidate.traceId === traceId);
    expect(span).toMatchObject({
      name: 'GET /api/v1/me',
      kind: 2, // SERVER
      parentSpanId: callerSpanId,
      resource: { 'service.name': 'gatehouse-under-test' },
    });
    expect(span.status?.code ?? 0).toBe(0); // a 4xx is not the server's error
    expect(attributes(span.attributes)).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/api/v1/me',
      'http.route': '/api/v1/me',
      'http.response.status_code': 401,
    });
    expect(JSON.stringify(span)).not.toContain('not-for-traces');

    // Every line that request logged ("incoming request", "request completed") carries the trace.
    const lines = requestLines(harness, signedOut.requestId);
    expect(lines.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['incoming request', 'request completed']),
    );
    for (const line of lines) expect(line).toMatchObject({ trace_id: traceId, span_id: span.spanId });

    // A request without traceparent starts its own trace; a 5xx marks the span as an error.
    const failedLines = requestLines(harness, failed.requestId);
    const failedTrace = failedLines[0]?.trace_id as string;
    expect(failedTrace).toMatch(/^[0-9a-f]{32}$/);
    expect(failedTrace).not.toBe(traceId);
    expect(failedLines.map((line) => line.msg)).toContain('request failed');
    for (const line of failedLines) expect(line.trace_id).toBe(failedTrace);
    const failedSpan = await collector.span(
      `in trace ${failedTrace}`,
      (candidate) => candidate.traceId === failedTrace,
    );
    expect(failedSpan.name).toBe('GET /tracing-test/fails');
    expect(failedSpan.parentSpanId ?? '').toBe('');
    expect(failedSpan.status?.code).toBe(2); // ERROR
    expect(attributes(failedSpan.attributes)).toMatchObject({
      'http.route': '/tracing-test/fails',
      'http.response.status_code': 500,
    });

    // The flush on close sent everything there was: the unsampled trace and the probe are not among it.
    expect(collector.spans.filter((candidate) => candidate.traceId === unsampledTraceId)).toEqual([]);
    expect(collector.spans.map((candidate) => candidate.name)).not.toContain('GET /health/live');
    expect(collector.requests.every((request) => request.path === '/v1/traces')).toBe(true);
    expect(collector.requests[0]?.contentType).toMatch(/^application\/json/);
  });

  it('creates and exports nothing when tracing is off, and logs no trace ids', async () => {
    const before = collector.requests.length;
    const harness = await buildTestApp(database.url, {
      // Pointed at the collector, so anything sent would be seen; only `enabled` is off (the default).
      overrides: { tracing: { otlpEndpoint: endpoint } },
    });
    let requestId: string;
    try {
      expect(harness.config.tracing.enabled).toBe(false);
      const response = await harness.app.inject({
        method: 'GET',
        url: '/api/v1/me',
        headers: { traceparent: `00-${hex(16)}-${hex(8)}-01` },
      });
      expect(response.statusCode).toBe(401);
      requestId = String(response.headers['x-request-id']);
    } finally {
      await closeTestApp(harness);
    }
    const lines = requestLines(harness, requestId);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      expect(line).not.toHaveProperty('trace_id');
      expect(line).not.toHaveProperty('span_id');
    }
    expect(harness.logs.text).not.toContain('trace_id');
    expect(collector.requests.length).toBe(before);
  });
});

describe('tracing export failures', () => {
  it('are logged, and do not fail the requests or the shutdown', async () => {
    const database = await createTestDatabase('sqlite');
    const collector = new Collector();
    const endpoint = await collector.start();
    try {
      const harness = await buildTestApp(database.url, {
        overrides: { tracing: { enabled: true, otlpEndpoint: endpoint.replace('/v1/traces', '/refused') } },
      });
      try {
        expect((await harness.app.inject({ method: 'GET', url: '/api/v1/me' })).statusCode).toBe(401);
      } finally {
        await closeTestApp(harness);
      }
      expect(collector.requests.map((request) => request.path)).toEqual(['/refused']);
      const warnings = harness.logs.entries.filter((entry) => String(entry.msg).includes('could not export'));
      expect(warnings.length).toBeGreaterThan(0);
      expect(warnings[0]).toMatchObject({ level: 40, spans: 1 });
    } finally {
      await collector.stop();
      await database.drop();
    }
  });
});

describe('tracing settings', () => {
  it('reads the OpenTelemetry environment variables and checks the ratio', () => {
    const config = loadConfig({
      env: {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector.example.com:4318/v1/traces',
        OTEL_SERVICE_NAME: 'gatehouse-eu',
        GATEHOUSE__TRACING__ENABLED: 'true',
        GATEHOUSE__TRACING__SAMPLE_RATIO: '0.25',
      },
    });
    expect(config.tracing).toEqual({
      enabled: true,
      otlpEndpoint: 'https://collector.example.com:4318/v1/traces',
      serviceName: 'gatehouse-eu',
      sampleRatio: 0.25,
    });
    expect(loadConfig({ env: {} }).tracing).toMatchObject({ enabled: false, sampleRatio: 1 });
    expect(() => loadConfig({ env: {}, overrides: { tracing: { sampleRatio: 1.5 } } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: {}, overrides: { tracing: { otlpEndpoint: 'collector:4318' } } })).toThrow(
      /tracing\.otlpEndpoint: must be an http/,
    );
  });
});
