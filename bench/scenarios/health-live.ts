import Fastify from 'fastify';
import { measure, round, type Scenario, startGatehouse } from '../harness.js';

/** The cost of the platform (hooks, headers, metrics, compression checks) on the cheapest route. */
export const healthLive: Scenario = {
  name: 'health-live',
  description: 'GET /health/live on Gatehouse vs a bare Fastify hello-world, same process, same settings',
  async run(settings) {
    const bare = Fastify();
    bare.get('/', async () => ({ status: 'up' }));
    await bare.listen({ host: '127.0.0.1', port: 0 });
    const barePort = (bare.server.address() as { port: number }).port;
    const gatehouse = await startGatehouse();
    try {
      const common = {
        connections: settings.connections,
        duration: settings.durationSeconds,
        warmupSeconds: settings.warmupSeconds,
      };
      const bareResult = await measure('bare fastify GET /', {
        url: `http://127.0.0.1:${barePort}/`,
        ...common,
      });
      const gatehouseResult = await measure('gatehouse GET /health/live', {
        url: `${gatehouse.url}/health/live`,
        ...common,
      });
      return {
        measurements: [bareResult, gatehouseResult],
        figures: {
          'throughput ratio gatehouse/bare': round(
            gatehouseResult.requestsPerSecond.mean / bareResult.requestsPerSecond.mean,
            2,
          ),
          'p99 latency ratio gatehouse/bare': round(
            gatehouseResult.latencyMs.p99 / Math.max(bareResult.latencyMs.p99, 1),
            2,
          ),
        },
        notes: [
          'Both servers and autocannon share one process on a 2-core machine, so absolute figures are lower than a dedicated load generator would show; the ratio is the point.',
          'Gatehouse runs with log level warn (no per-request log lines).',
        ],
      };
    } finally {
      await gatehouse.stop();
      await bare.close();
    }
  },
};
