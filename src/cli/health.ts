import type { Command } from 'commander';
import {
  type CliContext,
  type CliIo,
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  loadConfigOrReport,
  parseHttpUrl,
  parsePositiveInteger,
  printErrorLine,
  printLine,
} from './io.js';

const PREFIX = 'gatehouse health';
const DEFAULT_TIMEOUT_MS = 5_000;

interface HealthOptions {
  url?: string;
  token?: string;
  timeoutMs: number;
}

interface ComponentReport {
  status: 'up' | 'down';
  critical?: boolean;
  latencyMs?: number;
  error?: string;
}

/** The parts of /health/ready and /health this command reads; both carry status and shuttingDown. */
interface HealthBody {
  status: 'up' | 'down';
  shuttingDown?: boolean;
  failed?: string[];
  version?: string;
  uptimeSeconds?: number;
  components?: Record<string, ComponentReport>;
}

function isHealthBody(value: unknown): value is HealthBody {
  const status = (value as { status?: unknown } | null)?.status;
  return status === 'up' || status === 'down';
}

type Fetched = { ok: true; httpStatus: number; body: HealthBody } | { ok: false; reason: string };

async function fetchHealth(
  io: CliIo,
  url: string,
  token: string | undefined,
  timeoutMs: number,
): Promise<Fetched> {
  const doFetch = io.fetch ?? fetch;
  let response: Response;
  let text: string;
  try {
    response = await doFetch(url, {
      headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const reason =
      error instanceof Error && error.name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : describeError(error);
    return { ok: false, reason: `cannot reach ${url}: ${reason}` };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  // 503 is how a node that is up but not ready answers; anything else is not a Gatehouse health endpoint.
  if ((response.status !== 200 && response.status !== 503) || !isHealthBody(body)) {
    return {
      ok: false,
      reason: `unexpected answer from ${url}: HTTP ${response.status}; is this a Gatehouse server?`,
    };
  }
  return { ok: true, httpStatus: response.status, body };
}

function failedComponents(body: HealthBody): string[] {
  if (body.failed) return body.failed;
  return Object.entries(body.components ?? {})
    .filter(([, component]) => component.status === 'down')
    .map(([name]) => name);
}

function componentTable(components: Record<string, ComponentReport>): string[] {
  const rows = [
    ['COMPONENT', 'STATUS', 'CRITICAL', 'LATENCY', 'ERROR'],
    ...Object.entries(components).map(([name, component]) => [
      name,
      component.status,
      component.critical === undefined ? '' : component.critical ? 'yes' : 'no',
      component.latencyMs === undefined ? '' : `${Math.round(component.latencyMs)} ms`,
      component.error ?? '',
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd(),
  );
}

async function checkHealth(context: CliContext, options: HealthOptions): Promise<void> {
  const io = context.io;
  let baseUrl = options.url;
  if (baseUrl === undefined) {
    const config = loadConfigOrReport(context, PREFIX);
    if (!config) {
      printErrorLine(io, `${PREFIX}: give --url to check a server without a valid configuration here`);
      return;
    }
    baseUrl = config.server.publicUrl;
  }
  // Component details are for operators: only /health with the health token shows them.
  const url = `${baseUrl}${options.token ? '/health' : '/health/ready'}`;
  const result = await fetchHealth(io, url, options.token, options.timeoutMs);
  if (!result.ok) {
    printErrorLine(io, `${PREFIX}: ${result.reason}`);
    context.setExitCode(EXIT_FAILURE);
    return;
  }

  const { body } = result;
  const failed = failedComponents(body);
  const facts = [
    ...(body.shuttingDown ? ['shutting down'] : []),
    ...(failed.length > 0 ? [`failed: ${failed.join(', ')}`] : []),
  ];
  printLine(io, `${baseUrl} is ${body.status}${facts.length > 0 ? ` (${facts.join('; ')})` : ''}`);
  if (options.token) {
    if (body.uptimeSeconds === undefined) {
      printErrorLine(io, `${PREFIX}: the server did not accept the token; showing what anyone may see`);
    }
    const about = [
      ...(body.version ? [`version ${body.version}`] : []),
      ...(body.uptimeSeconds !== undefined ? [`up for ${body.uptimeSeconds} s`] : []),
    ];
    if (about.length > 0) printLine(io, about.join(', '));
    for (const line of componentTable(body.components ?? {})) printLine(io, line);
  }
  context.setExitCode(body.status === 'up' && result.httpStatus === 200 ? EXIT_OK : EXIT_FAILURE);
}

export function registerHealthCommand(program: Command, context: CliContext): void {
  program
    .command('health')
    .description('check whether a running Gatehouse is ready; exit 0 when up, 1 when down or unreachable')
    .option(
      '--url <url>',
      'base URL of the server (default: server.publicUrl from the configuration)',
      parseHttpUrl,
    )
    .option('--token <token>', 'health.token of the server: show every component and its error')
    .option(
      '--timeout-ms <ms>',
      'give up after this many milliseconds',
      parsePositiveInteger,
      DEFAULT_TIMEOUT_MS,
    )
    .action((options: HealthOptions) => checkHealth(context, options));
}
