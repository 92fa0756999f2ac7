import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { serve } from '../server.js';
import { type CliContext, EXIT_FAILURE, loadConfigOrReport, reportError } from './io.js';

export function registerServeCommand(program: Command, context: CliContext): void {
  program
    .command('serve')
    .description(
      'start the Gatehouse server (stops gracefully on SIGTERM/SIGINT; SIGHUP reloads the configuration)',
    )
    .action(async () => {
      const config = loadConfigOrReport(context, 'gatehouse serve');
      if (!config) return;
      try {
        // Resolves once the server listens; the open listener keeps the process running after that.
        // SIGHUP reads the configuration file and this environment again (see docs/configuration.md).
        await serve(config, { reloadConfig: () => loadConfig({ env: context.io.env }) });
      } catch (error) {
        reportError(context.io, 'gatehouse serve', error);
        context.setExitCode(EXIT_FAILURE);
      }
    });
}
