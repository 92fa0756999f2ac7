import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { maskSecrets } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { generatedKeyPath } from '../platform/crypto/secret-key.js';
import { type CliContext, EXIT_OK, loadConfigOrReport, printLine } from './io.js';

const PREFIX = 'gatehouse config check';

function notes(config: Config): string[] {
  if (config.secrets.key || config.secrets.keyFile) return [];
  return [
    `no secret key configured: one will be generated in ${generatedKeyPath(config.dataDir)} on first start; set GATEHOUSE_SECRET_KEY (openssl rand -hex 32) before production`,
  ];
}

/**
 * Only reads: loading the configuration creates nothing, and this command opens no database and generates
 * no key, so it is safe to run against a production environment.
 */
function checkConfig(context: CliContext, json: boolean): void {
  const config = loadConfigOrReport(context, PREFIX);
  if (!config) return;
  const { sources, ...settings } = maskSecrets(config) as Record<string, unknown>;
  const io = context.io;
  if (json) {
    printLine(io, JSON.stringify({ valid: true, sources, notes: notes(config), config: settings }, null, 2));
  } else {
    printLine(io, `the configuration is valid (sources, later ones win: ${config.sources.join(' < ')})`);
    for (const note of notes(config)) printLine(io, `note: ${note}`);
    printLine(io);
    io.stdout(toYaml(settings));
  }
  context.setExitCode(EXIT_OK);
}

export function registerConfigCommands(program: Command, context: CliContext): void {
  const config = program.command('config').description('inspect the configuration');
  config
    .command('check')
    .description('validate the configuration and print it with secrets masked')
    .option('--json', 'print JSON instead of YAML')
    .action((options: { json?: boolean }) => checkConfig(context, options.json === true));
}
