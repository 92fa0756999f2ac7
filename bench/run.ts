import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { environment, type Measurement, type ScenarioResult } from './harness.js';
import { scenarios } from './scenarios/index.js';

const RESULTS = join(import.meta.dirname ?? 'bench', 'results');

function parseSettings() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      warmup: { type: 'string', default: '2' },
    },
  });
  const number = (name: string, value: string, min: number, max: number) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max)
      throw new Error(`--${name} must be a whole number from ${min} to ${max}`);
    return parsed;
  };
  const selected = positionals.length > 0 ? positionals : scenarios.map((scenario) => scenario.name);
  for (const name of selected) {
    if (!scenarios.some((scenario) => scenario.name === name))
      throw new Error(`unknown scenario ${name}; known: ${scenarios.map((s) => s.name).join(', ')}`);
  }
  return {
    selected,
    settings: {
      durationSeconds: number('duration', values.duration!, 1, 120),
      connections: number('connections', values.connections!, 1, 1000),
      warmupSeconds: number('warmup', values.warmup!, 0, 30),
    },
  };
}

function table(
  name: string,
  description: string,
  result: ScenarioResult & { environment: ReturnType<typeof environment> },
): string {
  const rows = result.measurements.map(
    (m: Measurement) =>
      `| ${m.target} | ${m.requestsPerSecond.mean} ± ${m.requestsPerSecond.stdev} | ${m.latencyMs.p50} | ${m.latencyMs.p99} | ${m.totalRequests} | ${Object.entries(
        m.statusCodes,
      )
        .map(([code, count]) => `${code}: ${count}`)
        .join(', ')} |`,
  );
  const figures = Object.entries(result.figures).map(([key, value]) => `| ${key} | ${value} |`);
  return [
    `## ${name}`,
    '',
    description,
    '',
    `Measured ${result.environment.date} on ${result.environment.cores} × ${result.environment.cpu}, Node ${result.environment.node}, commit ${result.environment.commit ?? 'unknown'}.`,
    '',
    '| target | req/s (mean ± sd) | p50 ms | p99 ms | requests | status codes |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    '| figure | value |',
    '|---|---|',
    ...figures,
    '',
    ...result.notes.map((note) => `- ${note}`),
    '',
  ].join('\n');
}

async function main() {
  const { selected, settings } = parseSettings();
  mkdirSync(RESULTS, { recursive: true });
  for (const scenario of scenarios.filter((candidate) => selected.includes(candidate.name))) {
    process.stdout.write(
      `bench: ${scenario.name} (${settings.durationSeconds} s, ${settings.connections} connections)\n`,
    );
    const result = { ...(await scenario.run(settings)), environment: environment(), settings };
    writeFileSync(
      join(RESULTS, `${scenario.name}.json`),
      `${JSON.stringify({ scenario: scenario.name, description: scenario.description, ...result }, null, 2)}\n`,
    );
    process.stdout.write(`${table(scenario.name, scenario.description, result)}\n`);
  }
  // The summary is rebuilt from every stored result, so running one scenario keeps the others' tables.
  const sections = readdirSync(RESULTS)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const stored = JSON.parse(readFileSync(join(RESULTS, file), 'utf8'));
      return table(stored.scenario, stored.description, stored);
    });
  writeFileSync(
    join(RESULTS, 'README.md'),
    `# Benchmark results\n\nWritten by \`npm run bench\`; loopback only, in-process servers.\n\n${sections.join('\n')}`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
