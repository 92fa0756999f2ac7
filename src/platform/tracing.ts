import type { IncomingMessage } from 'node:http';
import type { Span, Tracer } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { FastifyInstance } from 'fastify';
import type { Logger } from './logger.js';
import { VERSION } from './version.js';

/** The `tracing` section of the configuration. */
export interface TracingSettings {
  readonly enabled: boolean;
  readonly otlpEndpoint: string;
  readonly serviceName: string;
  readonly sampleRatio: number;
}

/** What a request's log lines carry so they can be found from its trace, and the other way round. */
export interface TraceBindings {
  readonly trace_id: string;
  readonly span_id: string;
}

export interface Tracing {
  /**
   * Starts the server span of a request (continuing the caller's trace when it sent a `traceparent`) and
   * returns the bindings for the request's logger. Called as Fastify makes that logger, before anything logs.
   */
  startRequest(request: IncomingMessage): TraceBindings;
  /** Names the span after its route, records the status and ends it. */
  endRequest(request: IncomingMessage, route: string | undefined, statusCode: number): void;
  /** Ends the span of a request the client gave up on. */
  abortRequest(request: IncomingMessage, route: string | undefined): void;
  /** Forgets a request's span without exporting it (probes). */
  dropRequest(request: IncomingMessage): void;
  /** Exports the spans waiting in the batch. */
  flush(): Promise<void>;
  /** Exports what is left and stops; bounded, so an unreachable collector does not hold up shutdown. */
  shutdown(): Promise<void>;
}

/** How long an export (with its retries) may take, and so the most a flush at shutdown waits. */
const EXPORT_TIMEOUT_MS = 5_000;
/** Export failures are logged at most this often: a collector that is down would otherwise flood the log. */
const EXPORT_WARNING_INTERVAL_MS = 60_000;

const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

/**
 * OpenTelemetry tracing: one server span per request, batched and sent to an OTLP/HTTP collector (JSON). Nothing
 * is loaded or created when `tracing.enabled` is off (the default). The provider is this app's own, not the
 * global one, so several apps in one process (tests) keep their spans apart.
 */
export async function createTracing(settings: TracingSettings, logger: Logger): Promise<Tracing | undefined> {
  if (!settings.enabled) return undefined;
  // Loaded only when enabled: the SDK and exporter take a few hundred milliseconds to import.
  const [api, core, resources, sdk, otlp] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);

  const exporter = new otlp.OTLPTraceExporter({
    url: settings.otlpEndpoint,
    timeoutMillis: EXPORT_TIMEOUT_MS,
  });
  let lastWarning = Number.NEGATIVE_INFINITY;
  // The SDK reports export failures to a global diagnostic logger nobody reads; say so in ours instead.
  const reportingExporter: SpanExporter = {
    export(spans, resultCallback) {
      exporter.export(spans, (result) => {
        if (
          result.code !== core.ExportResultCode.SUCCESS &&
          Date.now() - lastWarning >= EXPORT_WARNING_INTERVAL_MS
        ) {
          lastWarning = Date.now();
          logger.warn(
            { err: result.error, spans: spans.length },
            'could not export traces to tracing.otlpEndpoint (spans dropped; logged at most once a minute)',
          );
        }
        resultCallback(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush(),
  };
  const provider = new sdk.BasicTracerProvider({
    resource: resources.defaultResource().merge(
      resources.resourceFromAttributes({
        'service.name': settings.serviceName,
        'service.version': VERSION,
      }),
    ),
    // A caller's decision wins (sampled or not); new traces are kept at the configured ratio.
    sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [
      new sdk.BatchSpanProcessor(reportingExporter, { exportTimeoutMillis: EXPORT_TIMEOUT_MS }),
    ],
    forceFlushTimeoutMillis: EXPORT_TIMEOUT_MS,
  });
  const tracer: Tracer = provider.getTracer('gatehouse', VERSION);
  const propagator = new core.W3CTraceContextPropagator();
  const spans = new WeakMap<IncomingMessage, Span>();

  const take = (request: IncomingMessage) => {
    const span = spans.get(request);
    spans.delete(request);
    return span;
  };
  const name = (method: string, route: string | undefined) => (route ? `${method} ${route}` : method);
  const methodOf = (request: IncomingMessage) => {
    const method = request.method?.toUpperCase() ?? '';
    return KNOWN_METHODS.has(method) ? method : '_OTHER';
  };

  return {
    startRequest(request) {
      const parent = propagator.extract(api.ROOT_CONTEXT, request.headers, api.defaultTextMapGetter);
      const method = methodOf(request);
      const span = tracer.startSpan(
        method,
        {
          kind: api.SpanKind.SERVER,
          attributes: {
            'http.request.method': method,
            ...(method === '_OTHER' ? { 'http.request.method_original': request.method } : {}),
            // The path only: query strings can carry codes and tokens.
            'url.path': (request.url ?? '/').split('?')[0],
          },
        },
        parent,
      );
      spans.set(request, span);
      const { traceId, spanId } = span.spanContext();
      return { trace_id: traceId, span_id: spanId };
    },
    endRequest(request, route, statusCode) {
      const span = take(request);
      if (!span) return;
      span.updateName(name(methodOf(request), route));
      if (route) span.setAttribute('http.route', route);
      span.setAttribute('http.response.status_code', statusCode);
      // Server spans are errors on 5xx only: a 4xx is the client's mistake, answered correctly.
      if (statusCode >= 500) {
        span.setAttribute('error.type', String(statusCode));
        span.setStatus({ code: api.SpanStatusCode.ERROR });
      }
      span.end();
    },
    abortRequest(request, route) {
      const span = take(request);
      if (!span) return;
      span.updateName(name(methodOf(request), route));
      if (route) span.setAttribute('http.route', route);
      span.setAttribute('error.type', 'aborted');
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: 'the client closed the connection' });
      span.end();
    },
    dropRequest(request) {
      spans.delete(request);
    },
    flush: () => provider.forceFlush(),
    async shutdown() {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          logger.warn('tracing: the last spans could not be exported in time');
          resolve();
        }, EXPORT_TIMEOUT_MS * 2);
        timer.unref();
      });
      try {
        await Promise.race([provider.shutdown(), late]);
      } catch (error) {
        logger.warn({ err: error }, 'tracing: could not export the last spans');
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Ends each request's span when its response is sent (or the client goes away) and flushes at shutdown. The
 * span itself is started by the app's child-logger factory (`Tracing.startRequest`), so every log line of the
 * request, "incoming request" included, carries `trace_id` and `span_id`. Probes (health, metrics) are not
 * traced, as they are not logged.
 */
export function registerTracing(
  app: FastifyInstance & { onShutdown(closer: () => Promise<void>): void },
  tracing: Tracing,
): void {
  app.addHook('onResponse', (request, reply, done) => {
    if (request.routeOptions.config?.probe === true) tracing.dropRequest(request.raw);
    else tracing.endRequest(request.raw, request.routeOptions.url, reply.statusCode);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    if (request.routeOptions.config?.probe === true) tracing.dropRequest(request.raw);
    else tracing.abortRequest(request.raw, request.routeOptions.url);
    done();
  });
  app.onShutdown(() => tracing.shutdown());
}
