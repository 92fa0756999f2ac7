import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { isGatehouseError } from '../platform/errors.js';

/** Everything a command touches outside itself, so tests can run commands in-process and read their output. */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly fetch?: typeof fetch;
  /** All of standard input, for secrets that must not appear in argv or shell history. */
  readonly readStdin?: () => Promise<string>;
}

/** Commands report their outcome through this rather than exiting, so the caller decides what to do with it. */
export interface CliContext {
  readonly io: CliIo;
  setExitCode(code: number): void;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
/** Bad command line: unknown command or option, invalid flag value. */
export const EXIT_USAGE = 2;

export function printLine(io: CliIo, text = ''): void {
  io.stdout(`${text}\n`);
}

export function printErrorLine(io: CliIo, text: string): void {
  io.stderr(`${text}\n`);
}

/**
 * Prints an error the way an operator needs it: every configuration problem on its own line, a Gatehouse
 * error with its cause, a system error by its message, anything else with its stack (it is a bug, and the
 * stack is what gets it fixed).
 */
export function reportError(io: CliIo, prefix: string, error: unknown): void {
  if (error instanceof ConfigError) {
    printErrorLine(io, `${prefix}: the configuration is invalid:`);
    for (const problem of error.problems) printErrorLine(io, `  ${problem}`);
    return;
  }
  if (isGatehouseError(error)) {
    printErrorLine(io, `${prefix}: ${error.message}`);
    if (error.cause) {
      const cause = (error.cause instanceof Error && error.cause.message) || describeError(error.cause);
      printErrorLine(io, `  cause: ${cause}`);
    }
    return;
  }
  if (isSystemError(error)) {
    printErrorLine(io, `${prefix}: ${error.message || describeError(error)}`);
    return;
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  printErrorLine(io, `${prefix}: unexpected error: ${detail}`);
}

/** Loads the configuration from the command's environment; on failure reports why and returns undefined. */
export function loadConfigOrReport(context: CliContext, prefix: string): Config | undefined {
  try {
    return loadConfig({ env: context.io.env });
  } catch (error) {
    reportError(context.io, prefix, error);
    context.setExitCode(EXIT_FAILURE);
    return undefined;
  }
}

export function parsePositiveInteger(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < 1) {
    throw new InvalidArgumentError('must be a positive whole number');
  }
  return parsed;
}

/** Accepts an http(s) base URL, possibly with a path prefix; returns it without trailing slashes. */
export function parseHttpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('must be an http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError('must be an http:// or https:// URL');
  }
  if (url.search || url.hash) throw new InvalidArgumentError('must not have a query or fragment');
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

const SYSTEM_ERROR_CODE = /^E[A-Z0-9_]+$/;

/** Failures of the environment (port in use, file not readable): the message says it all, no stack needed. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  return typeof code === 'string' && SYSTEM_ERROR_CODE.test(code);
}

/**
 * A one-line reason for a failed network or database call. Node wraps the reason (fetch's `cause`, an
 * AggregateError per address tried), and the outer message alone ("fetch failed", "") says nothing.
 * System errors are reported by their code (ECONNREFUSED), which is what operators search for.
 */
export function describeError(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const { code } = current as NodeJS.ErrnoException;
    if (code && SYSTEM_ERROR_CODE.test(code)) return code;
    if (current instanceof AggregateError && current.errors.length > 0) current = current.errors[0];
    else if (current.cause !== undefined) current = current.cause;
    else return current.message || code || current.name;
  }
  return current instanceof Error ? current.message : String(current);
}

/**
 * Checks CLI input against the API's own schema, so the CLI accepts exactly what the API accepts; prints each
 * problem and sets the usage exit code when it does not fit.
 */
export function acceptsInput(context: CliContext, prefix: string, schema: TSchema, input: unknown): boolean {
  const problems = [...Value.Errors(schema, input)];
  for (const problem of problems)
    printErrorLine(context.io, `${prefix}: ${problem.path || '/'} ${problem.message}`);
  if (problems.length > 0) context.setExitCode(EXIT_USAGE);
  return problems.length === 0;
}
