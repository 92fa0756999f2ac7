import { createPlatform } from '../app.js';
import type { Config } from '../config/schema.js';
import { createServices, type Services } from '../services.js';
import { type CliContext, EXIT_FAILURE, loadConfigOrReport, reportError } from './io.js';

/**
 * Runs a command against the configured database with the same services as the server, then closes
 * everything. Errors are reported as one line prefixed with the command, and set a failing exit code.
 */
export async function withServices(
  context: CliContext,
  prefix: string,
  work: (services: Services, config: Config) => Promise<void>,
): Promise<void> {
  const { io } = context;
  const config = loadConfigOrReport(context, prefix);
  if (!config) return;
  let platform: Awaited<ReturnType<typeof createPlatform>> | undefined;
  let services: Services | undefined;
  try {
    platform = await createPlatform(
      { ...config, log: { ...config.log, level: config.log.level === 'info' ? 'warn' : config.log.level } },
      { logDestination: { write: (line: string) => io.stderr(line) } },
    );
    services = await createServices(platform);
    await work(services, config);
  } catch (error) {
    reportError(io, prefix, error);
    context.setExitCode(EXIT_FAILURE);
  } finally {
    await services?.close();
    await platform?.redis?.close();
    await platform?.database.close();
  }
}
