import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { createDatabase } from '../platform/db/connection.js';
import {
  assertNotNewerThanCode,
  type MigrationStatus,
  migrateToLatest,
  migrationStatus,
} from '../platform/db/migrate.js';
import { createLogger } from '../platform/logger.js';
import { createMetrics } from '../platform/metrics.js';
import {
  type CliContext,
  type CliIo,
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  loadConfigOrReport,
  printErrorLine,
  printLine,
  reportError,
} from './io.js';

const PREFIX = 'gatehouse migrate';

/**
 * The command prints its own progress and failures in plain lines; JSON log lines on stderr would repeat
 * them, so by default only errors are logged; LOG_LEVEL=warn adds failed and slow queries.
 */
function cliLogLevel(level: Config['log']['level']): string {
  return level === 'info' ? 'error' : level;
}

function listOrNone(names: readonly string[]): string {
  return names.length > 0 ? names.join(', ') : 'none';
}

function printStatus(io: CliIo, status: MigrationStatus): number {
  printLine(io, `applied: ${listOrNone(status.applied)}`);
  printLine(io, `pending: ${listOrNone(status.pending)}`);
  if (status.unknown.length > 0) {
    printLine(io, `unknown: ${listOrNone(status.unknown)}`);
    printErrorLine(
      io,
      `${PREFIX}: the database is newer than this Gatehouse (it has ${status.unknown.join(', ')}); run a newer Gatehouse or restore a matching backup`,
    );
    return EXIT_FAILURE;
  }
  if (status.pending.length > 0) {
    printLine(io, `${status.pending.length} pending: run \`gatehouse migrate\` to apply`);
    return EXIT_FAILURE;
  }
  printLine(io, 'the database is up to date');
  return EXIT_OK;
}

async function applyPending(io: CliIo, config: Config, statusOnly: boolean): Promise<number> {
  const logger = createLogger(
    { level: cliLogLevel(config.log.level), pretty: false },
    { write: (line: string) => io.stderr(line) },
  );
  const database = createDatabase(config.database, {
    logger,
    metrics: createMetrics({ collectProcessMetrics: false }),
  });
  try {
    let status: MigrationStatus;
    try {
      status = await migrationStatus(database.db);
    } catch (error) {
      printErrorLine(
        io,
        `${PREFIX}: cannot read the migration state from the database: ${describeError(error)}`,
      );
      return EXIT_FAILURE;
    }
    if (statusOnly) return printStatus(io, status);
    assertNotNewerThanCode(status);
    const applied = await migrateToLatest(database.db, logger);
    for (const name of applied) printLine(io, `applied ${name}`);
    const total = status.applied.length + applied.length;
    printLine(
      io,
      applied.length > 0
        ? `${applied.length} migration(s) applied; the database is up to date (${total} applied)`
        : `nothing to apply; the database is up to date (${total} applied)`,
    );
    return EXIT_OK;
  } catch (error) {
    reportError(io, PREFIX, error);
    if (!statusOnly) printErrorLine(io, 'run `gatehouse migrate --status` to see what is applied');
    return EXIT_FAILURE;
  } finally {
    await database.close();
  }
}

export function registerMigrateCommand(program: Command, context: CliContext): void {
  program
    .command('migrate')
    .description('apply pending database migrations')
    .option('--status', 'only show applied and pending migrations; exit 1 when any are pending or unknown')
    .action(async (options: { status?: boolean }) => {
      const config = loadConfigOrReport(context, PREFIX);
      if (!config) return;
      context.setExitCode(await applyPending(context.io, config, options.status === true));
    });
}
