import type { FastifyInstance } from 'fastify';

export interface ShutdownSettings {
  /** How long readiness answers 503 before the listener closes, so a load balancer can drain the node. */
  readonly delayMs: number;
  /** How long in-flight requests may take to finish before their connections are cut. */
  readonly timeoutMs: number;
}

export interface ShutdownResult {
  /** True when in-flight requests did not finish in time and their connections were closed. */
  readonly forced: boolean;
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Graceful stop: readiness turns 503, the listener stops accepting connections, in-flight requests finish
 * (up to the timeout), then onClose hooks close the database and Redis.
 */
export async function shutdown(app: FastifyInstance, settings: ShutdownSettings): Promise<ShutdownResult> {
  app.gatehouse.health.beginShutdown();
  app.log.info({ delayMs: settings.delayMs, timeoutMs: settings.timeoutMs }, 'shutting down');
  if (settings.delayMs > 0) await wait(settings.delayMs);

  let forced = false;
  const closing = app.close();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), settings.timeoutMs);
    timer.unref();
  });
  if ((await Promise.race([closing.then(() => 'closed' as const), timedOut])) === 'timeout') {
    forced = true;
    app.log.warn('in-flight requests did not finish in time; closing their connections');
    app.server.closeAllConnections();
    await closing;
  }
  clearTimeout(timer);
  app.log.info({ forced }, 'stopped');
  return { forced };
}
