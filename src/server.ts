import { buildApp, type GatehouseApp } from './app.js';
import type { Config } from './config/schema.js';
import { shutdown } from './platform/shutdown.js';

export interface ServeOptions {
  /** Reads the configuration sources again (loadConfig with the process environment), for SIGHUP. */
  readonly reloadConfig?: () => Config;
}

/**
 * Starts Gatehouse and stops it gracefully on SIGTERM/SIGINT. A second signal while stopping exits at once.
 * SIGHUP reloads the configuration on this node (what can change without a restart; see src/config/live.ts).
 */
export async function serve(config: Config, options: ServeOptions = {}): Promise<GatehouseApp> {
  const app = await buildApp(config, options);
  try {
    await app.listen({ host: config.server.host, port: config.server.port });
  } catch (error) {
    // Close the pools, or they keep a process that failed to start alive.
    await app.close();
    throw error;
  }
  app.log.info(
    {
      publicUrl: config.server.publicUrl,
      database: app.gatehouse.database.dialect,
      redis: app.gatehouse.redis?.mode ?? 'off',
    },
    'gatehouse is ready',
  );
  if (app.gatehouse.database.dialect === 'postgres' && !app.gatehouse.redis) {
    // PostgreSQL is how several nodes share data; without Redis their caches and budgets are per node.
    app.log.warn(
      'PostgreSQL without Redis: run only one node, or set REDIS_URL so every node shares rate limits and sees revoked sessions, role changes and key rotations at once',
    );
  }

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      app.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    app.log.info({ signal }, 'signal received');
    shutdown(app, {
      delayMs: config.server.shutdownDelayMs,
      timeoutMs: config.server.shutdownTimeoutMs,
    }).then(
      ({ forced }) => process.exit(forced ? 1 : 0),
      (error: unknown) => {
        app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // The reload logs, records and counts its outcome itself (an invalid file keeps the running configuration).
  process.on('SIGHUP', () => {
    if (stopping) return;
    app.log.info({ signal: 'SIGHUP' }, 'signal received: reloading the configuration');
    app.configReloader.reload('signal').catch(() => {});
  });
  return app;
}
