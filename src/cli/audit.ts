import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { Type } from '@sinclair/typebox';
import type { Command } from 'commander';
import { acceptsInput, type CliContext, EXIT_FAILURE, printLine } from './io.js';
import { withServices } from './with-services.js';

// TypeBox's checker knows no string formats by itself; an ISO 8601 date or date-time by pattern instead.
const IsoTime = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2}))?$',
});

const ExportOptions = Type.Object({
  format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson')]),
  from: Type.Optional(IsoTime),
  to: Type.Optional(IsoTime),
  name: Type.Optional(Type.String({ pattern: '^[a-z0-9_.]+\\*?$', maxLength: 100 })),
});

/** `gatehouse audit …`: verify the log, export it, sign a checkpoint, show the public keys. */
export function registerAuditCommands(program: Command, context: CliContext): void {
  const audit = program.command('audit').description('the tamper-evident audit log');

  audit
    .command('verify')
    .description('recompute the Merkle tree from the rows and check every event and signed checkpoint')
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      await withServices(context, 'gatehouse audit verify', async (services) => {
        const report = await services.audit.verify();
        if (options.json) {
          printLine(context.io, JSON.stringify(report, null, 2));
        } else if (report.ok) {
          const latest = report.latestCheckpoint;
          printLine(
            context.io,
            `OK: ${report.events} events, ${report.checkpoints} checkpoints` +
              (latest ? `; latest signed at size ${latest.treeSize}, root ${latest.rootHash}` : '') +
              (report.uncheckpointed > 0 ? `; ${report.uncheckpointed} events not yet in a checkpoint` : ''),
          );
        } else {
          printLine(context.io, `FAILED: ${report.findings.length} problems in ${report.events} events`);
          for (const finding of report.findings.slice(0, 50)) {
            printLine(context.io, `  ${finding.kind}: ${finding.message}`);
          }
          if (report.findings.length > 50)
            printLine(context.io, `  … and ${report.findings.length - 50} more`);
        }
        if (!report.ok) context.setExitCode(EXIT_FAILURE);
      });
    });

  audit
    .command('export')
    .description('write events oldest first as CSV or NDJSON (to stdout, or --output)')
    .option('--format <format>', 'csv or ndjson', 'ndjson')
    .option('--from <time>', 'from this ISO 8601 time')
    .option('--to <time>', 'until this ISO 8601 time')
    .option('--name <name>', 'an event name, or a prefix ending in . or *')
    .option('--output <file>', 'write to this file instead of stdout')
    .action(
      async (options: { format: string; from?: string; to?: string; name?: string; output?: string }) => {
        const prefix = 'gatehouse audit export';
        const { output, ...input } = options;
        if (!acceptsInput(context, prefix, ExportOptions, input)) return;
        await withServices(context, prefix, async (services) => {
          const file = output ? createWriteStream(output, { mode: 0o600 }) : undefined;
          const chunks = services.audit.exportEvents(
            {
              from: input.from ? Date.parse(input.from) : undefined,
              to: input.to ? Date.parse(input.to) : undefined,
              name: input.name,
            },
            input.format as 'csv' | 'ndjson',
          );
          for await (const chunk of chunks) {
            if (!file) context.io.stdout(chunk);
            else if (!file.write(chunk)) await once(file, 'drain');
          }
          if (file) {
            file.end();
            await once(file, 'finish');
          }
          services.events.record({
            name: 'audit.exported',
            severity: 'medium',
            outcome: 'success',
            details: { format: input.format, via: 'cli' },
          });
        });
      },
    );

  audit
    .command('checkpoint')
    .description('sign the current tree head now')
    .action(async () => {
      await withServices(context, 'gatehouse audit checkpoint', async (services) => {
        const made = await services.audit.checkpoint();
        printLine(
          context.io,
          made
            ? `checkpoint: size ${made.treeSize}, root ${made.rootHash}, key ${made.keyId}`
            : 'the log is empty',
        );
      });
    });

  audit
    .command('keys')
    .description('the public keys that sign checkpoints, with fingerprints to compare out of band')
    .action(async () => {
      await withServices(context, 'gatehouse audit keys', async (services) => {
        for (const key of services.audit.publicKeys()) {
          printLine(
            context.io,
            `${key.kid}  sha256:${key.fingerprint}  ${JSON.stringify({ kty: key.kty, crv: key.crv, x: key.x, kid: key.kid })}`,
          );
        }
      });
    });
}
