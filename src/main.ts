import { ConfigError, loadConfig } from './config/load.js';
import { isGatehouseError } from './platform/errors.js';
import { serve } from './server.js';

/**
 * Process entry: config -> app -> listen. Errors before the logger exists go to stderr, plainly. SIGHUP
 * reads the same sources again (the config file, this environment) and applies what can change live.
 */
export async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadConfig({ env });
  await serve(config, { reloadConfig: () => loadConfig({ env }) });
}

main(process.env).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`gatehouse: ${error.message}\n`);
  } else if (isGatehouseError(error)) {
    process.stderr.write(`gatehouse: ${error.message}\n`);
    if (error.cause)
      process.stderr.write(`  cause: ${(error.cause as Error).message ?? String(error.cause)}\n`);
  } else {
    process.stderr.write(`gatehouse: failed to start: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exit(1);
});
