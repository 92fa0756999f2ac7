import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Registry } from 'prom-client';
import { GatehouseError } from '../../platform/errors.js';
import { problemResponses } from '../../platform/http/problem.js';
import { requires } from '../authz/routes.js';
import { SystemErrors } from './errors.js';
import { HealthHeaders, HealthResponse, LiveResponse, ReadyResponse } from './schemas.js';
import type { SystemService } from './service.js';

export interface SystemRoutesOptions {
  readonly service: SystemService;
  readonly metricsRegistry?: Registry | undefined;
  /** The effective configuration with every secret masked (`gatehouse config check` shows the same). */
  readonly effectiveSettings?: (() => unknown) | undefined;
}

/** Probes and metrics: cheap, never rate limited, answered even when the process is overloaded. */
export const systemRoutes: FastifyPluginAsyncTypebox<SystemRoutesOptions> = async (
  app,
  { service, metricsRegistry, effectiveSettings },
) => {
  const probe = { probe: true };

  if (effectiveSettings) {
    for (const url of ['/api/v1/admin/settings', '/api/v1/admin/system/config'])
      app.get(
        url,
        {
          config: requires('system:read'),
          schema: {
            tags: ['admin'],
            summary:
              'The effective configuration, secrets masked (read-only: settings come from the file and env)',
            response: {
              200: Type.Object({
                sources: Type.Array(Type.String()),
                settings: Type.Record(Type.String(), Type.Unknown()),
              }),
              ...problemResponses,
            },
          },
        },
        async () => {
          const { sources, ...settings } = effectiveSettings() as { sources: string[] } & Record<
            string,
            unknown
          >;
          return { sources, settings };
        },
      );
  }

  app.get(
    '/health/live',
    {
      config: probe,
      schema: { tags: ['system'], summary: 'The process is up', response: { 200: LiveResponse } },
    },
    async () => ({ status: 'up' as const }),
  );

  app.get(
    '/health/ready',
    {
      config: probe,
      schema: {
        tags: ['system'],
        summary: 'The node can serve traffic (database, migrations, Redis when configured)',
        response: { 200: ReadyResponse, 503: ReadyResponse },
      },
    },
    async (_request, reply) => {
      const readiness = await service.readiness();
      return reply.code(readiness.status === 'up' ? 200 : 503).send(readiness);
    },
  );

  app.get(
    '/health',
    {
      config: probe,
      schema: {
        tags: ['system'],
        summary: 'Per-component health; details for operators (Authorization: Bearer <health.token>)',
        headers: HealthHeaders,
        response: { 200: HealthResponse, 503: HealthResponse },
      },
    },
    async (request, reply) => {
      const report = await service.health(service.isOperator(request.headers.authorization));
      reply.header('cache-control', 'no-store');
      return reply.code(report.status === 'up' ? 200 : 503).send(report);
    },
  );

  if (metricsRegistry) {
    app.get(
      '/metrics',
      {
        config: probe,
        schema: {
          tags: ['system'],
          summary: 'Prometheus metrics (Authorization: Bearer <metrics.token> when one is set)',
          produces: ['text/plain'],
          response: { 200: { type: 'string' }, ...problemResponses },
        },
      },
      async (request, reply) => {
        if (!service.mayReadMetrics(request.headers.authorization)) {
          throw new GatehouseError(SystemErrors.metrics_token_required, undefined, {
            headers: { 'www-authenticate': 'Bearer realm="metrics"' },
          });
        }
        reply.header('cache-control', 'no-store');
        return reply.type(metricsRegistry.contentType).send(await metricsRegistry.metrics());
      },
    );
  }
};
