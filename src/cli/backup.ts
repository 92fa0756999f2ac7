import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import type { BackupKeySource } from '../modules/backup/archive.js';
import { copyDatabase, createBackup, restoreBackup, verifyBackup } from '../modules/backup/service.js';
import { loadSecretKey } from '../platform/crypto/secret-key.js';
import { createDatabase, type DatabaseHandle } from '../platform/db/connection.js';
import { GatehouseError } from '../platform/errors.js';
import { createLogger } from '../platform/logger.js';
import { createMetrics } from '../platform/metrics.js';
import {
  type CliContext,
  EXIT_FAILURE,
  EXIT_USAGE,
  loadConfigOrReport,
  printErrorLine,
  printLine,
  reportError,
} from './io.js';

interface KeyOptions {
  passphraseFile?: string;
}

/** The archive key: a passphrase when one is given (file or GATEHOUSE_BACKUP_PASSPHRASE), else the keyring. */
function keySource(context: CliContext, config: Config, options: KeyOptions): BackupKeySource {
  const passphrase = options.passphraseFile
    ? readFileSync(options.passphraseFile, 'utf8').replace(/\r?\n$/, '')
    : context.io.env.GATEHOUSE_BACKUP_PASSPHRASE;
  if (passphrase !== undefined) {
    if (passphrase.length < 12) {
      throw new GatehouseError('validation_failed', 'the backup passphrase must be at least 12 characters');
    }
    return { passphrase };
  }
  const logger = createLogger(
    { level: 'error', pretty: false },
    { write: (line: string) => context.io.stderr(line) },
  );
  return { masterKey: loadSecretKey(config, logger).key };
}

function deps(context: CliContext, config: Config) {
  return {
    logger: createLogger(
      { level: config.log.level === 'info' ? 'error' : config.log.level, pretty: false },
      { write: (line: string) => context.io.stderr(line) },
    ),
    metrics: createMetrics({ collectProcessMetrics: false }),
  };
}

async function withDatabase<T>(
  url: string,
  config: Config,
  dependencies: ReturnType<typeof deps>,
  work: (database: DatabaseHandle) => Promise<T>,
): Promise<T> {
  const database = createDatabase({ ...config.database, url }, dependencies);
  try {
    return await work(database);
  } finally {
    await database.close();
  }
}

const stamp = (time: number) => new Date(time).toISOString().replace(/[:.]/g, '-');

/** `gatehouse backup create|verify|restore` and `gatehouse migrate-data`. */
export function registerBackupCommands(program: Command, context: CliContext): void {
  const { io } = context;
  const backup = program.command('backup').description('encrypted backups of all data, and restoring them');
  const run = async (prefix: string, work: (config: Config) => Promise<void>) => {
    const config = loadConfigOrReport(context, prefix);
    if (!config) return;
    try {
      await work(config);
    } catch (error) {
      reportError(io, prefix, error);
      context.setExitCode(EXIT_FAILURE);
    }
  };

  backup
    .command('create')
    .description('write a consistent, compressed and encrypted snapshot of every table')
    .option('--out <file>', 'where to write it (default: <dataDir>/backups/gatehouse-<time>.ghbk)')
    .option('--passphrase-file <file>', 'encrypt with this passphrase instead of the installation key')
    .action((options: KeyOptions & { out?: string }) =>
      run('gatehouse backup create', async (config) => {
        const dependencies = deps(context, config);
        const path = resolve(
          options.out ?? join(config.dataDir, 'backups', `gatehouse-${stamp(Date.now())}.ghbk`),
        );
        if (!options.out) await mkdir(join(config.dataDir, 'backups'), { recursive: true, mode: 0o700 });
        const key = keySource(context, config, options);
        const manifest = await withDatabase(config.database.url, config, dependencies, (database) =>
          createBackup(database, { path, key, now: Date.now() }, dependencies),
        );
        const rows = Object.values(manifest.tables).reduce((sum, table) => sum + table.rows, 0);
        printLine(
          io,
          `wrote ${path}: ${Object.keys(manifest.tables).length} tables, ${rows} rows, schema ${manifest.schemaVersion}`,
        );
      }),
    );

  backup
    .command('verify <file>')
    .description('decrypt the whole backup and check every row count and checksum against its manifest')
    .option('--passphrase-file <file>', 'the passphrase it was made with')
    .action((file: string, options: KeyOptions) =>
      run('gatehouse backup verify', async (config) => {
        const result = await verifyBackup(file, keySource(context, config, options));
        const { manifest } = result;
        if (result.ok) {
          const rows = Object.values(manifest.tables).reduce((sum, table) => sum + table.rows, 0);
          printLine(
            io,
            `OK: ${Object.keys(manifest.tables).length} tables, ${rows} rows; schema ${manifest.schemaVersion}, from ${manifest.dialect}, made ${manifest.createdAt} by Gatehouse ${manifest.gatehouseVersion}`,
          );
        } else {
          printLine(io, `FAILED: ${result.problems.length} problems`);
          for (const problem of result.problems) printLine(io, `  ${problem}`);
          context.setExitCode(EXIT_FAILURE);
        }
      }),
    );

  backup
    .command('restore <file>')
    .description('restore a backup into the configured database, which must be new and empty')
    .option('--passphrase-file <file>', 'the passphrase it was made with')
    .action((file: string, options: KeyOptions) =>
      run('gatehouse backup restore', async (config) => {
        const dependencies = deps(context, config);
        const manifest = await withDatabase(config.database.url, config, dependencies, (database) =>
          restoreBackup(database, { path: file, key: keySource(context, config, options) }, dependencies),
        );
        const rows = Object.values(manifest.tables).reduce((sum, table) => sum + table.rows, 0);
        printLine(
          io,
          `restored ${rows} rows in ${Object.keys(manifest.tables).length} tables; counts and checksums match`,
        );
        printLine(io, 'run `gatehouse audit verify` to check the audit log');
      }),
    );

  program
    .command('migrate-data')
    .description('copy all data from one database to another (SQLite to PostgreSQL, or back), verified')
    .requiredOption('--from <url>', 'the source database URL (sqlite:… or postgres://…)')
    .requiredOption('--to <url>', 'the target database URL, new and empty')
    .action((options: { from: string; to: string }) =>
      run('gatehouse migrate-data', async (config) => {
        if (options.from === options.to) {
          printErrorLine(io, 'gatehouse migrate-data: --from and --to are the same database');
          context.setExitCode(EXIT_USAGE);
          return;
        }
        const dependencies = deps(context, config);
        await withDatabase(options.from, config, dependencies, (source) =>
          withDatabase(options.to, config, dependencies, async (target) => {
            let last = '';
            const result = await copyDatabase(
              source,
              target,
              {
                onProgress: ({ table, copied, total }) => {
                  if (copied === total && `${table}` !== last) {
                    last = table;
                    printLine(io, `${table}: ${copied} rows`);
                  }
                },
              },
              dependencies,
            );
            const rows = Object.values(result.tables).reduce((sum, table) => sum + table.rows, 0);
            printLine(
              io,
              result.copied
                ? `copied ${rows} rows in ${Object.keys(result.tables).length} tables (schema ${result.schemaVersion}); counts and checksums match`
                : `nothing to do: the target already holds exactly this data (${rows} rows)`,
            );
          }),
        );
      }),
    );
}
