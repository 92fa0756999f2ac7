import { type CliIo, runCli } from '../../src/cli/program.js';

export interface CliRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the `gatehouse` CLI in-process with this environment, capturing what it prints. */
export async function runGatehouse(
  argv: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    env,
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    ...(stdin !== undefined ? { readStdin: async () => stdin } : {}),
  };
  return { exitCode: await runCli(argv, io), stdout, stderr };
}
