import { Command, CommanderError } from 'commander';
import { VERSION } from '../platform/version.js';
import { registerAdminCommands } from './admin.js';
import { registerApiKeyCommands } from './api-keys.js';
import { registerAuditCommands } from './audit.js';
import { registerBackupCommands } from './backup.js';
import { registerConfigCommands } from './config.js';
import { registerHealthCommand } from './health.js';
import { type CliContext, type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, reportError } from './io.js';
import { registerMigrateCommand } from './migrate.js';
import { registerOauthCommands } from './oauth.js';
import { registerServeCommand } from './serve.js';

export type { CliIo } from './io.js';

/**
 * Builds the command tree. Nothing in it exits the process: commander's exits become CommanderErrors
 * (exitOverride) and its output goes through `io`, so the whole CLI runs in-process in tests.
 * Commands record their exit code through `setExitCode`.
 */
export function createProgram(io: CliIo, setExitCode: (code: number) => void = () => {}): Command {
  const program = new Command('gatehouse')
    .description('Gatehouse: self-hosted identity and security platform')
    .version(VERSION, '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
      outputError: (text, write) => write(text),
    })
    .showHelpAfterError('(run gatehouse --help for usage)');
  // Settings above are copied into each subcommand as it is created, so register commands after them.
  const context: CliContext = { io, setExitCode };
  registerServeCommand(program, context);
  registerMigrateCommand(program, context);
  registerConfigCommands(program, context);
  registerHealthCommand(program, context);
  registerAdminCommands(program, context);
  registerOauthCommands(program, context);
  registerApiKeyCommands(program, context);
  registerAuditCommands(program, context);
  registerBackupCommands(program, context);
  return program;
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code. Never exits the process. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode = EXIT_OK;
  const program = createProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    // Help and --version end parsing the same way as usage errors, but with exit code 0.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    reportError(io, 'gatehouse', error);
    return EXIT_FAILURE;
  }
}
