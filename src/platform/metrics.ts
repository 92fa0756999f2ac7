import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * One registry per app instance (not prom-client's global one), so tests can build many apps in one
 * process and each module registers its own metrics on the registry it is given.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly dbQueryDuration: Histogram<'dialect'>;
  readonly dbSlowQueries: Counter<'dialect'>;
  readonly dbQueryErrors: Counter<'dialect'>;
}

export function createMetrics(options: { collectProcessMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.collectProcessMetrics !== false)
    collectDefaultMetrics({ register: registry, prefix: 'gatehouse_' });
  const registers = [registry];
  return {
    registry,
    httpRequestDuration: new Histogram({
      name: 'gatehouse_http_request_duration_seconds',
      help: 'HTTP request duration by route template, method and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    dbQueryDuration: new Histogram({
      name: 'gatehouse_db_query_duration_seconds',
      help: 'Database query duration.',
      labelNames: ['dialect'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    }),
    dbSlowQueries: new Counter({
      name: 'gatehouse_db_slow_queries_total',
      help: 'Queries slower than database.slowQueryMs.',
      labelNames: ['dialect'],
      registers,
    }),
    dbQueryErrors: new Counter({
      name: 'gatehouse_db_query_errors_total',
      help: 'Queries that failed.',
      labelNames: ['dialect'],
      registers,
    }),
  };
}
