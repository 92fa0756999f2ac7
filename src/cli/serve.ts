import type { Command } from 'commander';
import { serve } from '../server.js';
import { type CliContext, EXIT_FAILURE, loadConfigOrReport, reportError } from './io.js';

export function registerServeCommand(program: Command, context: CliContext): void {
  program
    .command('serve')
    .description('start the Gatehouse server (stops gracefully on SIGTERM/SIGINT)')
    .action(async () => {
      const config = loadConfigOrReport(context, 'gatehouse serve');
      if (!config) return;
      try {
        // Resolves once the server listens; the open listener keeps the process running after that.
        await serve(config);
      } catch (error) {
        reportError(context.io, 'gatehouse serve', error);
        context.setExitCode(EXIT_FAILURE);
      }
    });
}
