/**
 * The deployment files (Dockerfile, .dockerignore, docker-compose.yml, deploy/haproxy, deploy/helm,
 * deploy/kubernetes) checked against what the app really reads and serves: there is no container engine,
 * Kubernetes or helm binary where this runs, so these are schema and consistency checks, plus HAProxy itself
 * when Debian's package is installed (scripts/ensure-haproxy.sh, which .ci/run calls).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { Ajv, type Schema } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { ConfigError, ENV_VARIABLES, EXAMPLE_SECRETS, loadConfig } from '../src/config/load.js';
import { ConfigSchema } from '../src/config/schema.js';

type Json = Record<string, unknown>;

const read = (path: string) => readFileSync(path, 'utf8');
const PACKAGE = JSON.parse(read('package.json')) as { version: string; scripts: Record<string, string> };
/** The settings' defaults, as a node started with no configuration sees them. */
const DEFAULTS = loadConfig({});
const HAPROXY = '/usr/sbin/haproxy';
const CHART = 'deploy/helm/gatehouse';
const RENDERED = 'deploy/kubernetes/gatehouse.yaml';

const ajv = new Ajv({ allErrors: true, strict: false });
function expectValid(schema: Schema, data: unknown, what: string): void {
  const validate = ajv.compile(schema);
  const valid = validate(data);
  expect(valid ? [] : ajv.errorsText(validate.errors, { dataVar: what }).split(', '), what).toEqual([]);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function at(value: unknown, ...path: (string | number)[]): unknown {
  let node = value;
  for (const key of path) {
    if (Array.isArray(node) && typeof key === 'number') node = node[key];
    else if (isObject(node)) node = node[String(key)];
    else return undefined;
  }
  return node;
}

/** Every document of a YAML stream; a syntax error anywhere fails. */
function yamlDocuments(path: string): Json[] {
  const documents = parseAllDocuments(read(path));
  const list = Array.isArray(documents) ? documents : [documents];
  for (const document of list)
    expect(
      document.errors.map((error) => error.message),
      path,
    ).toEqual([]);
  return list.map((document) => document.toJS() as Json).filter((value) => value !== null);
}

/** Whether Gatehouse reads this environment variable: a conventional name, or GATEHOUSE__SECTION__KEY. */
function acceptedVariable(name: string): boolean {
  if (name in ENV_VARIABLES) return true;
  if (!name.startsWith('GATEHOUSE__')) return false;
  let schema: TSchema = ConfigSchema;
  for (const segment of name.slice('GATEHOUSE__'.length).split('__')) {
    const properties = (schema as { properties?: Record<string, TSchema> }).properties;
    const wanted = segment.replaceAll('_', '').toLowerCase();
    const key = properties && Object.keys(properties).find((candidate) => candidate.toLowerCase() === wanted);
    if (!key) return false;
    schema = properties[key]!;
  }
  // A whole section is not one setting.
  return !(schema as { properties?: unknown }).properties;
}

const secret = (bytes: number) => randomBytes(bytes).toString('hex');

/** Replaces the documented example secrets with generated ones. */
function withRealSecrets(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([name, value]) => [
      name,
      EXAMPLE_SECRETS.has(value) ? (name === 'GATEHOUSE_SECRET_KEY' ? secret(32) : secret(24)) : value,
    ]),
  );
}

function configProblems(env: Record<string, string>): string[] {
  try {
    loadConfig({ env });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
}

/** HTTP servers standing in for Gatehouse nodes: they answer probes and echo the request headers. */
interface FakeNode {
  server: Server;
  port: number;
  ready: boolean;
  seen: IncomingHttpHeaders[];
}

async function fakeNode(name: string): Promise<FakeNode> {
  const node = { ready: true, seen: [] } as unknown as FakeNode;
  node.server = createServer((request, response) => {
    if (request.url === '/health/live') return void response.writeHead(200).end('{"status":"up"}');
    if (request.url === '/health/ready') return void response.writeHead(node.ready ? 200 : 503).end();
    node.seen.push(request.headers);
    response.writeHead(200, { 'content-type': 'application/json', 'x-node': name });
    response.end(JSON.stringify(request.headers));
  });
  await new Promise<void>((resolve) => node.server.listen(0, '127.0.0.1', resolve));
  node.port = (node.server.address() as AddressInfo).port;
  return node;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs a healthcheck command (an exec-form array starting with node) and returns its exit code. */
function runCheck(command: string[], env: Record<string, string> = {}): Promise<number | null> {
  expect(command[0]).toBe('node');
  const child = spawn(process.execPath, command.slice(1), {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: 'ignore',
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

async function withProbeServer(status: number, run: (port: number) => Promise<void>): Promise<void> {
  const paths: string[] = [];
  const server = createServer((request, response) => {
    paths.push(request.url ?? '');
    response.writeHead(status).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run((server.address() as AddressInfo).port);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Every YAML file under a directory, Helm templates (Go templates, not YAML) aside. */
function yamlFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory())
      return path.endsWith(join('helm', 'gatehouse', 'templates')) ? [] : yamlFiles(path);
    return /\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

it('parses every YAML file of the deployment', () => {
  const files = ['docker-compose.yml', ...yamlFiles('deploy')];
  expect(files).toEqual(expect.arrayContaining([RENDERED, `${CHART}/values.yaml`, `${CHART}/Chart.yaml`]));
  for (const file of files) expect(yamlDocuments(file).length, file).toBeGreaterThan(0);
});

// ---------------------------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  keyword: string;
  args: string;
  stage: number;
}

function dockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (current === '' && /^\s*(#|$)/.test(line)) continue;
    if (/\\\s*$/.test(line)) {
      current += `${line.replace(/\\\s*$/, '')} `;
      continue;
    }
    logical.push(current + line);
    current = '';
  }
  let stage = -1;
  return logical.map((line) => {
    const [, keyword = '', args = ''] = /^\s*(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === 'FROM') stage += 1;
    return { keyword: keyword.toUpperCase(), args: args.replace(/\s+/g, ' ').trim(), stage };
  });
}

/** KEY=value pairs of ENV, ARG and LABEL (values may be double-quoted). */
function pairs(args: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const match of args.matchAll(/([\w.-]+)=(?:"([^"]*)"|(\S*))/g))
    result[match[1]!] = match[2] ?? match[3]!;
  return result;
}

/** .dockerignore semantics: patterns in order, the last one matching a path or a parent of it wins. */
function dockerIgnored(patterns: string[], path: string): boolean {
  let ignored = false;
  const parts = path.split('/');
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    const source = pattern
      .split('/')
      .map((part) =>
        part === '**'
          ? '.*'
          : part
              .replace(/[.+^${}()|[\]\\]/g, '\\$&')
              .replaceAll('*', '[^/]*')
              .replaceAll('?', '[^/]'),
      )
      .join('/')
      .replaceAll('.*/', '(?:.*/)?');
    const regex = new RegExp(`^${source}$`);
    for (let length = 1; length <= parts.length; length += 1) {
      if (regex.test(parts.slice(0, length).join('/'))) {
        ignored = !negated;
        break;
      }
    }
  }
  return ignored;
}

describe('Dockerfile', () => {
  const instructions = dockerfile(read('Dockerfile'));
  const stages = Math.max(...instructions.map((instruction) => instruction.stage)) + 1;
  const last = instructions.filter((instruction) => instruction.stage === stages - 1);
  const first = (list: Instruction[], keyword: string) => list.filter((entry) => entry.keyword === keyword);
  const runs = (stage: number) =>
    first(instructions, 'RUN')
      .filter((entry) => entry.stage === stage)
      .map((entry) => entry.args)
      .join('\n');

  it('builds in one stage and runs in another, both on the same Node LTS slim image, tags pinned', () => {
    const froms = first(instructions, 'FROM').map((entry) => entry.args.split(' ')[0]!);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const image of froms) {
      expect(image).toMatch(/^node:(22|24)(\.\d+){0,2}-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
      expect(image).not.toMatch(/:latest\b/);
    }
    expect(new Set(froms).size, 'the runtime must run the Node the native module was built for').toBe(1);
  });

  it('installs with npm ci, compiles the native module, builds, and prunes dev dependencies', () => {
    const build = runs(0);
    expect(build).toMatch(/apt-get install[^\n]*\bpython3\b/);
    expect(build).toMatch(/\bmake\b/);
    expect(build).toMatch(/\bg\+\+/);
    expect(build).toMatch(/\bnpm ci\b/);
    expect(build).toMatch(/npm rebuild better-sqlite3/);
    expect(build).toMatch(/npm run build/);
    expect(build).toMatch(/npm prune --omit=dev/);
    // The runtime stage has no compiler and copies the build stage's result.
    expect(runs(stages - 1)).not.toMatch(/apt-get|npm (ci|install)/);
    const copied = first(last, 'COPY').map((entry) => entry.args);
    for (const path of ['/app/package.json', '/app/node_modules', '/app/dist', '/app/bin']) {
      expect(copied.some((args) => args.startsWith('--from=build') && args.includes(`${path} `))).toBe(true);
    }
  });

  it('runs as a non-root numeric user, the same the Helm chart declares', () => {
    const users = first(last, 'USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0]!.args.split(':');
    expect(uid).toMatch(/^[1-9]\d*$/);
    expect(gid ?? '1').toMatch(/^[1-9]\d*$/);
    const values = parseYaml(read(`${CHART}/values.yaml`)) as Json;
    expect(at(values, 'securityContext', 'runAsUser')).toBe(Number(uid));
    expect(at(values, 'securityContext', 'runAsGroup')).toBe(Number(gid));
    // The data directory exists and belongs to that user; nothing else in the image does.
    const env = Object.assign({}, ...first(last, 'ENV').map((entry) => pairs(entry.args))) as Record<
      string,
      string
    >;
    expect(runs(stages - 1)).toContain(`chown ${uid}:${gid} ${env.GATEHOUSE_DATA_DIR}`);
  });

  it('sets production, the port the app listens on by default, and only variables the app reads', () => {
    const env = Object.assign({}, ...first(last, 'ENV').map((entry) => pairs(entry.args))) as Record<
      string,
      string
    >;
    expect(env.NODE_ENV).toBe('production');
    expect(env.HOST).toBe('0.0.0.0');
    expect(Number(env.PORT)).toBe(DEFAULTS.server.port);
    expect(first(last, 'EXPOSE').map((entry) => entry.args)).toEqual([String(DEFAULTS.server.port)]);
    // TMPDIR is Node's and SQLite's, not a Gatehouse setting.
    expect(Object.keys(env).filter((name) => name !== 'TMPDIR' && !acceptedVariable(name))).toEqual([]);
    expect(first(last, 'STOPSIGNAL').map((entry) => entry.args)).toEqual(['SIGTERM']);
  });

  it('starts the compiled entry point directly (not npm start, which rebuilds)', () => {
    const command = first(last, 'CMD').at(-1)?.args ?? first(last, 'ENTRYPOINT').at(-1)?.args ?? '';
    const entry = JSON.parse(command) as string[];
    expect(entry).toEqual(['node', PACKAGE.scripts.start!.replace(/^node /, '')]);
    expect(existsSync(join('src', entry[1]!.replace(/^dist\/src\//, '').replace(/\.js$/, '.ts')))).toBe(true);
  });

  it('has a HEALTHCHECK on /health/live through Node, and it works', async () => {
    const checks = first(last, 'HEALTHCHECK');
    expect(checks).toHaveLength(1);
    const command = JSON.parse(checks[0]!.args.replace(/^.*?\bCMD\s+/, '')) as string[];
    expect(command.join(' ')).toContain('/health/live');
    expect(command.join(' ')).not.toMatch(/\b(curl|wget)\b/);
    await withProbeServer(200, async (port) => {
      expect(await runCheck(command, { PORT: String(port) })).toBe(0);
    });
    await withProbeServer(503, async (port) => {
      expect(await runCheck(command, { PORT: String(port) })).toBe(1);
    });
  });

  it('carries OCI labels, its version the package version', () => {
    const labels = Object.assign({}, ...first(last, 'LABEL').map((entry) => pairs(entry.args))) as Record<
      string,
      string
    >;
    for (const name of ['title', 'description', 'version', 'revision', 'created', 'licenses']) {
      expect(labels[`org.opencontainers.image.${name}`], name).toBeTruthy();
    }
    const args = Object.assign({}, ...first(last, 'ARG').map((entry) => pairs(entry.args))) as Record<
      string,
      string
    >;
    // The label is the build argument, whose default is the package version.
    expect(labels['org.opencontainers.image.version']).toMatch(/^\$\{VERSION\}$/);
    expect(args.VERSION).toBe(PACKAGE.version);
  });

  it('.dockerignore sends the build what it needs and nothing else', () => {
    const patterns = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    const needed = [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'src/main.ts',
      'src/platform/messages/en.ts',
      'migrations/index.ts',
      'web/build.mjs',
      'web/console/console.css',
      'bin/gatehouse.js',
    ];
    for (const path of needed) expect(dockerIgnored(patterns, path), path).toBe(false);
    const kept = [
      '.env',
      'node_modules/fastify/package.json',
      '.git/HEAD',
      'dist/src/main.js',
      'data/gatehouse.db',
    ];
    for (const path of [
      ...kept,
      'src/config/config.test.ts',
      'test/deploy.test.ts',
      'docs/configuration.md',
    ]) {
      expect(dockerIgnored(patterns, path), path).toBe(true);
    }
    // What tsconfig.build.json extends is in the context too.
    const build = JSON.parse(read('tsconfig.build.json')) as { extends: string };
    expect(dockerIgnored(patterns, build.extends.replace(/^\.\//, ''))).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------------------
// docker-compose.yml

/** Compose's variable substitution: ${V}, ${V:-default}, ${V-default}, ${V:?error}, ${V?error}, $$. */
function interpolate(text: string, variables: Record<string, string>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g,
    (match, name: string | undefined, operator: string | undefined, argument: string | undefined) => {
      if (match === '$$') return '$';
      const value = variables[name!];
      const empty = value === undefined || (operator?.startsWith(':') && value === '');
      if (!operator) return value ?? '';
      if (operator.endsWith('-')) return empty ? argument! : value!;
      if (empty) throw new Error(`${name}: ${argument}`);
      return value!;
    },
  );
}

function dotenv(path: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of read(path).split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match) result[match[1]!] = match[2]!.trim();
  }
  return result;
}

function composeEnvironment(service: Json, variables: Record<string, string>): Record<string, string> {
  const environment = service.environment as Record<string, string | number>;
  return Object.fromEntries(
    Object.entries(environment).map(([name, value]) => [name, interpolate(String(value), variables)]),
  );
}

const imageTag = { type: 'string', pattern: '^[a-z0-9./-]+:[A-Za-z0-9._-]+$', not: { pattern: ':latest$' } };
const healthcheck = {
  type: 'object',
  required: ['test', 'interval', 'timeout', 'retries'],
  properties: { test: { type: 'array', minItems: 2, items: { type: 'string' } } },
};
const composeSchema = {
  type: 'object',
  required: ['services', 'networks', 'volumes'],
  additionalProperties: false,
  patternProperties: { '^x-': {} },
  properties: {
    name: { type: 'string' },
    networks: { type: 'object' },
    volumes: { type: 'object' },
    services: {
      type: 'object',
      required: ['gatehouse', 'postgres', 'redis', 'haproxy'],
      // Every service (patternProperties applies to the named ones below too, additionalProperties would not).
      patternProperties: {
        '': {
          type: 'object',
          required: ['image', 'healthcheck', 'restart', 'networks'],
          properties: { image: imageTag, healthcheck, restart: { const: 'unless-stopped' } },
        },
      },
      properties: {
        gatehouse: {
          required: ['build', 'environment', 'read_only', 'tmpfs', 'deploy', 'depends_on', 'cap_drop'],
          not: { required: ['ports'] },
          properties: {
            read_only: { const: true },
            tmpfs: { type: 'array', contains: { type: 'string', pattern: '^/tmp(:|$)' } },
            deploy: {
              type: 'object',
              required: ['replicas'],
              properties: { replicas: { type: 'integer', minimum: 2 } },
            },
            cap_drop: { type: 'array', contains: { const: 'ALL' } },
            environment: { type: 'object', additionalProperties: { type: ['string', 'number'] } },
            depends_on: {
              type: 'object',
              required: ['postgres', 'redis'],
              additionalProperties: {
                type: 'object',
                required: ['condition'],
                properties: { condition: { const: 'service_healthy' } },
              },
            },
          },
        },
        postgres: { not: { required: ['ports'] } },
        redis: { not: { required: ['ports'] } },
        haproxy: {
          required: ['ports', 'volumes', 'depends_on'],
          properties: {
            read_only: { const: true },
            depends_on: {
              type: 'object',
              required: ['gatehouse'],
              properties: { gatehouse: { properties: { condition: { const: 'service_healthy' } } } },
            },
          },
        },
      },
    },
  },
};

describe('docker-compose.yml', () => {
  const text = read('docker-compose.yml');
  const compose = parseYaml(text) as Json;
  const services = compose.services as Record<string, Json>;
  const gatehouse = services.gatehouse!;
  const example = dotenv('.env.example');

  it('matches its schema: four services with healthchecks, Gatehouse read-only, two replicas, unpublished', () => {
    expectValid(composeSchema, compose, 'docker-compose.yml');
  });

  it('builds the image this repository describes, tagged with the package version', () => {
    expect(gatehouse.build).toBe('.');
    expect(gatehouse.image).toBe(`gatehouse:${PACKAGE.version}`);
  });

  it('gives Gatehouse only environment variables it reads', () => {
    const names = Object.keys(gatehouse.environment as Json);
    expect(names.length).toBeGreaterThan(5);
    expect(names.filter((name) => !acceptedVariable(name))).toEqual([]);
  });

  it('takes every variable it uses from .env.example, and .env.example has no others', () => {
    const used = new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1]!));
    expect([...used].filter((name) => !(name in example))).toEqual([]);
    expect(Object.keys(example).filter((name) => !used.has(name))).toEqual([]);
  });

  it('will not start on the example .env: Compose wants the empty secrets, Gatehouse refuses the placeholders', () => {
    expect(() => composeEnvironment(gatehouse, example)).toThrow(/POSTGRES_PASSWORD|REDIS_PASSWORD|SMTP_URL/);
    const filled = {
      ...example,
      POSTGRES_PASSWORD: secret(24),
      REDIS_PASSWORD: secret(24),
      SMTP_URL: 'smtp://mailer:password@smtp.example.com:587',
    };
    const problems = configProblems(composeEnvironment(gatehouse, filled));
    for (const setting of ['secrets.key', 'health.token', 'metrics.token']) {
      expect(problems).toContain(
        `${setting}: is the example value from the documentation; generate your own`,
      );
    }
  });

  it('has no default for any secret: each must come from .env', () => {
    const secrets = [
      'GATEHOUSE_SECRET_KEY',
      'HEALTH_TOKEN',
      'METRICS_TOKEN',
      'POSTGRES_PASSWORD',
      'REDIS_PASSWORD',
    ];
    const filled = withRealSecrets({
      ...example,
      POSTGRES_PASSWORD: secret(24),
      REDIS_PASSWORD: secret(24),
      SMTP_URL: 'smtp://mailer:password@smtp.example.com:587',
    });
    for (const name of [...secrets, 'SMTP_URL']) {
      const { [name]: _left, ...others } = filled;
      expect(() => composeEnvironment(gatehouse, others), name).toThrow(
        new RegExp(`^${name}: set ${name} in .env`),
      );
    }
    // The database and Redis get their passwords from the same variables, as required.
    for (const [service, name] of [
      ['postgres', 'POSTGRES_PASSWORD'],
      ['redis', 'REDIS_PASSWORD'],
    ] as const) {
      const { [name]: _left, ...others } = filled;
      expect(() => composeEnvironment(services[service]!, others), name).toThrow(new RegExp(`^${name}:`));
    }
  });

  it('starts, with real secrets, as a production node on PostgreSQL and Redis behind the proxy', () => {
    const variables = withRealSecrets({
      ...example,
      POSTGRES_PASSWORD: secret(24),
      REDIS_PASSWORD: secret(24),
      SMTP_URL: 'smtp://mailer:password@smtp.example.com:587',
    });
    const env = composeEnvironment(gatehouse, variables);
    expect(configProblems(env)).toEqual([]);
    const config = loadConfig({ env });
    expect(config.env).toBe('production');
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.server.port).toBe(DEFAULTS.server.port);
    expect(config.database.url).toBe(
      `postgres://gatehouse:${variables.POSTGRES_PASSWORD}@postgres:5432/gatehouse`,
    );
    expect(config.redis.url).toBe(`redis://:${variables.REDIS_PASSWORD}@redis:6379`);
    expect(config.mail.transport).toBe('smtp');
    // The proxy's network is what Gatehouse trusts for X-Forwarded-*, and the proxy is on that network.
    const edge = at(compose, 'networks', 'edge', 'ipam', 'config', 0, 'subnet') as string;
    expect(config.server.trustProxy).toBe(interpolate(edge, variables));
    expect(at(services, 'haproxy', 'networks')).toEqual(['edge']);
    expect(gatehouse.networks).toContain('edge');
    expect(at(compose, 'networks', 'backend', 'internal')).toBe(true);
    // HAProxy's drain time fits inside the node's shutdown delay (checks every 2 s, 2 failures).
    expect(config.server.shutdownDelayMs).toBeGreaterThanOrEqual(4_000);
    // The public URL is where HAProxy is published.
    expect(new URL(config.server.publicUrl).port).toBe(variables.HTTP_PORT);
  });

  it('checks Gatehouse on /health/ready with Node (and the check works), PostgreSQL and Redis natively', async () => {
    const test = at(gatehouse, 'healthcheck', 'test') as string[];
    expect(test[0]).toBe('CMD');
    const command = test.slice(1);
    const script = command.join(' ');
    expect(script).toContain(`127.0.0.1:${DEFAULTS.server.port}/health/ready`);
    const onPort = (port: number) =>
      command.map((part) => part.replace(`:${DEFAULTS.server.port}/`, `:${port}/`));
    await withProbeServer(200, async (port) => expect(await runCheck(onPort(port))).toBe(0));
    await withProbeServer(503, async (port) => expect(await runCheck(onPort(port))).toBe(1));
    expect((at(services, 'postgres', 'healthcheck', 'test') as string[]).join(' ')).toContain('pg_isready');
    expect((at(services, 'redis', 'healthcheck', 'test') as string[]).join(' ')).toContain('redis-cli ping');
  });

  it('mounts the HAProxy configuration this repository checks, and keeps data on volumes', () => {
    const mounts = at(services, 'haproxy', 'volumes') as string[];
    const config = mounts.find((mount) => mount.includes('haproxy.cfg'))!;
    const [source, target, mode] = config.split(':');
    expect(source).toBe('./deploy/haproxy/haproxy.cfg');
    expect(existsSync(source!)).toBe(true);
    expect(target).toBe('/usr/local/etc/haproxy/haproxy.cfg');
    expect(mode).toBe('ro');
    const dataDir = dockerfile(read('Dockerfile'))
      .filter((entry) => entry.keyword === 'ENV')
      .map((entry) => pairs(entry.args).GATEHOUSE_DATA_DIR)
      .find(Boolean);
    expect((gatehouse.volumes as string[]).some((mount) => mount.endsWith(`:${dataDir}`))).toBe(true);
    for (const mount of [
      ...(gatehouse.volumes as string[]),
      ...(at(services, 'postgres', 'volumes') as string[]),
    ]) {
      const volume = mount.split(':')[0]!;
      if (!volume.startsWith('.')) expect(compose.volumes, volume).toHaveProperty([volume]);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// HAProxy

/** HAProxy durations: a number and an optional unit (us, ms, s, m, h, d); milliseconds by default. */
function milliseconds(value: string): number {
  const [, amount, unit = 'ms'] = /^(\d+)(us|ms|s|m|h|d)?$/.exec(value) ?? [];
  const factor = { us: 0.001, ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  return Number(amount) * factor;
}

/** Section name (e.g. "backend gatehouse") to its directive lines, comments dropped. */
function haproxySections(text: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    if (/^(global|defaults|frontend|backend|listen|resolvers|peers|userlist)\b/.test(raw)) {
      current = [];
      sections.set(line, current);
    } else current?.push(line.replace(/\s+/g, ' '));
  }
  return sections;
}

describe('deploy/haproxy/haproxy.cfg', () => {
  const text = read('deploy/haproxy/haproxy.cfg');
  const sections = haproxySections(text);
  const backend = sections.get('backend gatehouse') ?? [];
  const defaults = sections.get('defaults') ?? [];
  const frontend = sections.get('frontend gatehouse_http') ?? [];
  const timeout = (name: string) => {
    const line = [...backend, ...defaults].find((entry) => entry.startsWith(`timeout ${name} `));
    expect(line, `timeout ${name}`).toBeDefined();
    return milliseconds(line!.split(' ')[2]!);
  };

  it('balances round-robin with no sticky sessions, routing only to ready nodes', () => {
    expect(backend).toContain('balance roundrobin');
    expect(backend).toContain('option httpchk GET /health/ready');
    expect(backend).toContain('http-check expect status 200');
    expect(
      [...backend, ...defaults].filter((line) =>
        /^(cookie|stick|stick-table|hash-type|balance source)\b/.test(line),
      ),
    ).toEqual([]);
    expect(backend.filter((line) => /\bcookie\b/.test(line))).toEqual([]);
    const servers = backend.filter((line) => /^(server|server-template) /.test(line));
    expect(servers.length).toBeGreaterThan(0);
    for (const server of servers) expect(server).toMatch(new RegExp(`:${DEFAULTS.server.port}( |$)`));
    expect(backend.find((line) => line.startsWith('default-server'))).toMatch(
      /\bcheck\b.*\binit-addr none\b/,
    );
  });

  it('forwards the client address and scheme, and drops forwarding headers clients could forge', () => {
    expect(frontend).toContain('option forwardfor');
    expect(frontend).toContain('http-request set-header X-Forwarded-Proto https if { ssl_fc }');
    expect(frontend).toContain('http-request set-header X-Forwarded-Proto http unless { ssl_fc }');
    for (const header of ['X-Forwarded-Host', 'Forwarded']) {
      expect(frontend).toContain(`http-request del-header ${header}`);
    }
  });

  it("times out idle connections before Gatehouse does and gives requests Gatehouse's time", () => {
    const keepAlive = DEFAULTS.server.keepAliveTimeoutMs;
    for (const name of ['http-keep-alive', 'client', 'server']) expect(timeout(name)).toBeLessThan(keepAlive);
    expect(timeout('http-request')).toBe(DEFAULTS.server.requestTimeoutMs);
    expect(timeout('check')).toBeGreaterThan(DEFAULTS.health.checkTimeoutMs);
    expect(timeout('server')).toBeGreaterThan(DEFAULTS.server.requestTimeoutMs);
  });

  it.skipIf(!existsSync(HAPROXY))(
    `passes haproxy -c (${existsSync(HAPROXY) ? HAPROXY : `SKIPPED: ${HAPROXY} is not installed; run scripts/ensure-haproxy.sh`})`,
    () => {
      const result = spawnSync(HAPROXY, ['-c', '-f', 'deploy/haproxy/haproxy.cfg'], { encoding: 'utf8' });
      expect(`${result.stdout}${result.stderr}`).toContain('Configuration file is valid');
      expect(result.status).toBe(0);
    },
  );

  describe.skipIf(!existsSync(HAPROXY))('run against two stand-in nodes on loopback', () => {
    let haproxy: ChildProcess | undefined;
    let nodes: FakeNode[] = [];
    let port = 0;
    let statusPort = 0;
    let output = '';
    const configFile = join(tmpdir(), `gatehouse-haproxy-${process.pid}.cfg`);

    beforeAll(async () => {
      nodes = [await fakeNode('a'), await fakeNode('b')];
      port = await freePort();
      statusPort = await freePort();
      // The file as it is, but listening on free loopback ports and with the two nodes listed instead of
      // Docker's DNS names (as the comment in the file says to do outside Docker).
      const config = text
        .replace(/^(\s*)bind :8080$/m, `$1bind 127.0.0.1:${port}`)
        .replace(/^(\s*)bind 127\.0\.0\.1:8404$/m, `$1bind 127.0.0.1:${statusPort}`)
        .replace(
          /^(\s*)server-template .*$/m,
          nodes.map((node, index) => `$1server node${index} 127.0.0.1:${node.port}`).join('\n'),
        );
      expect(config).toContain(`bind 127.0.0.1:${port}`);
      expect(config).toContain(`bind 127.0.0.1:${statusPort}`);
      writeFileSync(configFile, config);
      haproxy = spawn(HAPROXY, ['-db', '-f', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      haproxy.stdout?.on('data', (chunk) => {
        output += chunk;
      });
      haproxy.stderr?.on('data', (chunk) => {
        output += chunk;
      });
      // Up once both nodes passed their checks (rise 2, every 2 s).
      const deadline = Date.now() + 20_000;
      for (;;) {
        const answers = new Set<string>();
        for (let i = 0; i < 4; i += 1) {
          const response = await fetch(`http://127.0.0.1:${port}/x`).catch(() => undefined);
          if (response?.ok) answers.add(response.headers.get('x-node') ?? '');
        }
        if (answers.size === 2) break;
        if (Date.now() > deadline) throw new Error(`HAProxy did not route to both nodes:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }, 30_000);

    afterAll(async () => {
      haproxy?.kill('SIGTERM');
      rmSync(configFile, { force: true });
      for (const node of nodes) await new Promise((resolve) => node.server.close(resolve));
    });

    it('alternates between the nodes, whatever cookies the client sends', async () => {
      const order: string[] = [];
      for (let i = 0; i < 6; i += 1) {
        const response = await fetch(`http://127.0.0.1:${port}/api/v1/me`, {
          headers: { cookie: '__Host-gh_session=abc' },
        });
        order.push(response.headers.get('x-node') ?? '');
        await response.arrayBuffer();
      }
      expect(new Set(order)).toEqual(new Set(['a', 'b']));
      for (let i = 1; i < order.length; i += 1) expect(order[i]).not.toBe(order[i - 1]);
    });

    it('sets X-Forwarded-For/-Proto and X-Request-Id, and drops a forged X-Forwarded-Host', async () => {
      const response = await fetch(`http://127.0.0.1:${port}/x`, {
        headers: {
          'x-forwarded-host': 'evil.example',
          'x-forwarded-for': '203.0.113.9',
          forwarded: 'for=1.2.3.4',
        },
      });
      const headers = (await response.json()) as Record<string, string>;
      expect(headers['x-forwarded-proto']).toBe('http');
      // The client's own entry is kept first; HAProxy appends the address it saw, which Gatehouse trusts.
      expect(headers['x-forwarded-for']).toMatch(/127\.0\.0\.1$/);
      expect(headers['x-forwarded-host']).toBeUndefined();
      expect(headers.forwarded).toBeUndefined();
      expect(headers['x-request-id']).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
    });

    it('answers the compose healthcheck on its local monitor URI', () => {
      const test = (parseYaml(read('docker-compose.yml')) as Json).services as Record<string, Json>;
      const command = (at(test, 'haproxy', 'healthcheck', 'test') as string[]).slice(1);
      expect(command[0]).toBe('bash');
      const result = spawnSync(
        'bash',
        command.slice(1).map((part) => part.replace('127.0.0.1/8404', `127.0.0.1/${statusPort}`)),
        { encoding: 'utf8', timeout: 10_000 },
      );
      expect(result.status).toBe(0);
    });

    it('stops sending requests to a node whose readiness turns 503 (a draining node)', async () => {
      nodes[1]!.ready = false;
      const deadline = Date.now() + 15_000;
      let streak = 0;
      while (streak < 6) {
        const response = await fetch(`http://127.0.0.1:${port}/x`);
        await response.arrayBuffer();
        streak = response.headers.get('x-node') === 'a' ? streak + 1 : 0;
        if (Date.now() > deadline) throw new Error('HAProxy kept routing to the node that is not ready');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      nodes[1]!.ready = true;
    }, 20_000);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Kubernetes: the rendered manifests

const metadata = {
  type: 'object',
  required: ['name', 'labels'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
    labels: {
      type: 'object',
      required: ['app.kubernetes.io/name', 'app.kubernetes.io/instance'],
      additionalProperties: { type: 'string' },
    },
  },
};
const matchLabels = {
  type: 'object',
  required: ['matchLabels'],
  properties: { matchLabels: { type: 'object', minProperties: 1, additionalProperties: { type: 'string' } } },
};
const probe = (path: string) => ({
  type: 'object',
  required: ['httpGet', 'periodSeconds', 'failureThreshold'],
  properties: {
    httpGet: { type: 'object', required: ['path', 'port'], properties: { path: { const: path } } },
  },
});
const resource = (apiVersion: string, kind: string, spec: Json = {}, required = ['spec']) => ({
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', ...required],
  properties: { apiVersion: { const: apiVersion }, kind: { const: kind }, metadata, ...spec },
});
const stringMap = { type: 'object', minProperties: 1, additionalProperties: { type: 'string' } };

const KIND_SCHEMAS: Record<string, Json> = {
  Deployment: resource('apps/v1', 'Deployment', {
    spec: {
      type: 'object',
      required: ['selector', 'template', 'strategy'],
      properties: {
        selector: matchLabels,
        strategy: {
          type: 'object',
          properties: { rollingUpdate: { properties: { maxUnavailable: { const: 0 } } } },
        },
        template: {
          type: 'object',
          required: ['metadata', 'spec'],
          properties: {
            metadata: { type: 'object', required: ['labels'] },
            spec: {
              type: 'object',
              required: ['containers', 'securityContext', 'volumes', 'terminationGracePeriodSeconds'],
              properties: {
                automountServiceAccountToken: { const: false },
                enableServiceLinks: { const: false },
                securityContext: {
                  type: 'object',
                  required: ['runAsNonRoot', 'runAsUser', 'seccompProfile'],
                  properties: {
                    runAsNonRoot: { const: true },
                    runAsUser: { type: 'integer', minimum: 1 },
                    seccompProfile: { properties: { type: { const: 'RuntimeDefault' } } },
                  },
                },
                containers: {
                  type: 'array',
                  minItems: 1,
                  items: {
                    type: 'object',
                    required: [
                      'name',
                      'image',
                      'ports',
                      'env',
                      'envFrom',
                      'securityContext',
                      'resources',
                      'startupProbe',
                      'livenessProbe',
                      'readinessProbe',
                      'volumeMounts',
                    ],
                    properties: {
                      image: {
                        type: 'string',
                        pattern: '^[^:@\\s]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$',
                        not: { pattern: ':latest$' },
                      },
                      securityContext: {
                        type: 'object',
                        required: [
                          'runAsNonRoot',
                          'readOnlyRootFilesystem',
                          'allowPrivilegeEscalation',
                          'capabilities',
                        ],
                        properties: {
                          runAsNonRoot: { const: true },
                          readOnlyRootFilesystem: { const: true },
                          allowPrivilegeEscalation: { const: false },
                          privileged: { const: false },
                          capabilities: {
                            type: 'object',
                            required: ['drop'],
                            properties: {
                              drop: { type: 'array', contains: { const: 'ALL' } },
                              add: { type: 'array', maxItems: 0 },
                            },
                          },
                        },
                      },
                      resources: {
                        type: 'object',
                        required: ['requests', 'limits'],
                        properties: {
                          requests: { type: 'object', required: ['cpu', 'memory'] },
                          limits: { type: 'object', required: ['memory'] },
                        },
                      },
                      startupProbe: probe('/health/live'),
                      livenessProbe: probe('/health/live'),
                      readinessProbe: probe('/health/ready'),
                      ports: {
                        type: 'array',
                        minItems: 1,
                        items: { type: 'object', required: ['name', 'containerPort'] },
                      },
                      env: {
                        type: 'array',
                        items: {
                          type: 'object',
                          required: ['name', 'value'],
                          properties: { value: { type: 'string' } },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  }),
  Service: resource('v1', 'Service', {
    spec: {
      type: 'object',
      required: ['selector', 'ports'],
      properties: {
        selector: stringMap,
        ports: {
          type: 'array',
          minItems: 1,
          items: { type: 'object', required: ['name', 'port', 'targetPort'] },
        },
      },
    },
  }),
  HorizontalPodAutoscaler: resource('autoscaling/v2', 'HorizontalPodAutoscaler', {
    spec: {
      type: 'object',
      required: ['scaleTargetRef', 'minReplicas', 'maxReplicas', 'metrics'],
      properties: {
        scaleTargetRef: {
          type: 'object',
          required: ['apiVersion', 'kind', 'name'],
          properties: { apiVersion: { const: 'apps/v1' }, kind: { const: 'Deployment' } },
        },
        minReplicas: { type: 'integer', minimum: 2 },
      },
    },
  }),
  PodDisruptionBudget: resource('policy/v1', 'PodDisruptionBudget', {
    spec: {
      type: 'object',
      required: ['selector'],
      oneOf: [{ required: ['minAvailable'] }, { required: ['maxUnavailable'] }],
      properties: { selector: matchLabels },
    },
  }),
  Ingress: resource('networking.k8s.io/v1', 'Ingress', {
    spec: {
      type: 'object',
      required: ['rules'],
      properties: {
        rules: {
          type: 'array',
          minItems: 1,
          items: { type: 'object', required: ['host', 'http'] },
        },
      },
    },
  }),
  ConfigMap: resource('v1', 'ConfigMap', { data: stringMap }, ['data']),
  Secret: resource('v1', 'Secret', { stringData: stringMap, type: { const: 'Opaque' } }, ['stringData']),
  ServiceAccount: resource('v1', 'ServiceAccount', { automountServiceAccountToken: { const: false } }, [
    'automountServiceAccountToken',
  ]),
  ServiceMonitor: resource('monitoring.coreos.com/v1', 'ServiceMonitor', {
    spec: {
      type: 'object',
      required: ['selector', 'endpoints'],
      properties: {
        selector: matchLabels,
        endpoints: {
          type: 'array',
          minItems: 1,
          items: { type: 'object', required: ['port', 'path'], properties: { path: { const: '/metrics' } } },
        },
      },
    },
  }),
};

const subset = (small: unknown, big: unknown) =>
  isObject(small) && isObject(big) && Object.entries(small).every(([key, value]) => big[key] === value);

describe('deploy/kubernetes/gatehouse.yaml', () => {
  const documents = yamlDocuments(RENDERED);
  const one = (kind: string) => {
    const found = documents.filter((document) => document.kind === kind);
    expect(found, kind).toHaveLength(1);
    return found[0]!;
  };
  const deployment = one('Deployment');
  const podSpec = at(deployment, 'spec', 'template', 'spec') as Json;
  const container = at(podSpec, 'containers', 0) as Json;
  const podLabels = at(deployment, 'spec', 'template', 'metadata', 'labels');
  const configMap = one('ConfigMap');
  const secretDocument = one('Secret');
  const containerEnv = Object.fromEntries(
    (container.env as { name: string; value: string }[]).map((entry) => [entry.name, entry.value]),
  );
  const environment = {
    ...(configMap.data as Record<string, string>),
    ...(secretDocument.stringData as Record<string, string>),
    ...containerEnv,
  };

  it('says at the top that it was rendered by hand from the chart', () => {
    expect(read(RENDERED).split('\n')[0]).toMatch(/^# /);
    expect(read(RENDERED)).toMatch(/helm template gatehouse deploy\/helm\/gatehouse/);
    expect(read(RENDERED)).toMatch(/by hand/);
  });

  it('has only kinds it has a schema for, each matching it', () => {
    expect(documents.length).toBeGreaterThanOrEqual(8);
    for (const document of documents) {
      const schema = KIND_SCHEMAS[String(document.kind)];
      expect(schema, `no schema for ${String(document.kind)}`).toBeDefined();
      expectValid(schema!, document, `${String(document.kind)} ${String(at(document, 'metadata', 'name'))}`);
    }
  });

  it('selects the pods it creates: Deployment, Service, PDB and HPA agree', () => {
    expect(subset(at(deployment, 'spec', 'selector', 'matchLabels'), podLabels)).toBe(true);
    expect(subset(at(one('Service'), 'spec', 'selector'), podLabels)).toBe(true);
    expect(subset(at(one('PodDisruptionBudget'), 'spec', 'selector', 'matchLabels'), podLabels)).toBe(true);
    const spread = at(podSpec, 'topologySpreadConstraints', 0, 'labelSelector', 'matchLabels');
    if (spread) expect(subset(spread, podLabels)).toBe(true);
    const hpa = one('HorizontalPodAutoscaler');
    expect(at(hpa, 'spec', 'scaleTargetRef', 'name')).toBe(at(deployment, 'metadata', 'name'));
    // With an autoscaler the Deployment leaves the replica count to it.
    expect(at(deployment, 'spec', 'replicas')).toBeUndefined();
  });

  it("sends the Service, Ingress and probes to the container's port, the one Gatehouse listens on", () => {
    const ports = container.ports as { name: string; containerPort: number }[];
    const port = ports[0]!;
    expect(port.containerPort).toBe(DEFAULTS.server.port);
    expect(Number(containerEnv.PORT)).toBe(port.containerPort);
    const service = one('Service');
    const servicePort = at(service, 'spec', 'ports', 0) as { name: string; targetPort: string | number };
    expect([port.name, port.containerPort]).toContain(servicePort.targetPort);
    for (const probeName of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      expect([port.name, port.containerPort]).toContain(at(container, probeName, 'httpGet', 'port'));
    }
    const backend = at(one('Ingress'), 'spec', 'rules', 0, 'http', 'paths', 0, 'backend', 'service') as Json;
    expect(backend.name).toBe(at(service, 'metadata', 'name'));
    expect([servicePort.name, at(service, 'spec', 'ports', 0, 'port')]).toContain(
      at(backend, 'port', 'name') ?? at(backend, 'port', 'number'),
    );
    // The Ingress host is the public URL's.
    expect(at(one('Ingress'), 'spec', 'rules', 0, 'host')).toBe(new URL(environment.PUBLIC_URL!).hostname);
  });

  it('mounts writable volumes only at /tmp and the data directory, the root filesystem being read-only', () => {
    const mounts = container.volumeMounts as { name: string; mountPath: string }[];
    expect(mounts.map((mount) => mount.mountPath).sort()).toEqual(
      ['/tmp', containerEnv.GATEHOUSE_DATA_DIR].sort(),
    );
    const volumes = podSpec.volumes as Json[];
    for (const mount of mounts) {
      const volume = volumes.find((entry) => entry.name === mount.name);
      expect(volume?.emptyDir ?? volume?.persistentVolumeClaim, mount.name).toBeDefined();
    }
  });

  it('reads its settings from the ConfigMap and Secret it names, all of them variables Gatehouse reads', () => {
    const from = container.envFrom as { configMapRef?: { name: string }; secretRef?: { name: string } }[];
    expect(from.find((entry) => entry.configMapRef)?.configMapRef?.name).toBe(
      at(configMap, 'metadata', 'name'),
    );
    expect(from.find((entry) => entry.secretRef)?.secretRef?.name).toBe(
      at(secretDocument, 'metadata', 'name'),
    );
    expect(podSpec.serviceAccountName).toBe(at(one('ServiceAccount'), 'metadata', 'name'));
    expect(Object.keys(environment).filter((name) => !acceptedVariable(name))).toEqual([]);
    expect(containerEnv.NODE_ENV).toBe('production');
  });

  it('is refused with its placeholder secrets and starts with real ones', () => {
    const problems = configProblems(environment);
    for (const setting of ['secrets.key', 'health.token', 'metrics.token']) {
      expect(problems).toContain(
        `${setting}: is the example value from the documentation; generate your own`,
      );
    }
    expect(configProblems(withRealSecrets(environment))).toEqual([]);
    const config = loadConfig({ env: withRealSecrets(environment) });
    expect(config.server.publicUrl.startsWith('https://')).toBe(true);
    expect(config.database.url).toMatch(/^postgres:/);
    expect(config.dataDir).toBe('/data');
  });

  it('gives pods longer to stop than Gatehouse takes to drain', () => {
    const config = loadConfig({ env: withRealSecrets(environment) });
    const drainSeconds = (config.server.shutdownDelayMs + config.server.shutdownTimeoutMs) / 1000;
    expect(podSpec.terminationGracePeriodSeconds as number).toBeGreaterThan(drainSeconds);
    // The readiness probe notices a draining pod within the delay.
    const readiness = container.readinessProbe as { periodSeconds: number; failureThreshold: number };
    expect(readiness.periodSeconds * readiness.failureThreshold * 1000).toBeLessThanOrEqual(
      config.server.shutdownDelayMs,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// The Helm chart

const TEMPLATE = '__TPL__';

/**
 * A template as YAML: lines that hold nothing but an action (if, with, range, end, include…) are dropped and
 * inline actions become a placeholder. With `conditional: false` the lines inside if/with/range blocks go
 * too, leaving what every rendering has.
 */
function skeleton(text: string, conditional: boolean): Json | null {
  const lines: string[] = [];
  let depth = 0;
  for (const line of text.split('\n')) {
    const action = /^\s*\{\{-?\s*([^{}]*?)\s*-?\}\}\s*$/.exec(line)?.[1];
    if (action !== undefined) {
      if (/^(if|with|range)\b/.test(action)) depth += 1;
      else if (/^end\b/.test(action)) depth -= 1;
      continue;
    }
    if (!conditional && depth > 0) continue;
    lines.push(line.replace(/\{\{.*?\}\}/g, TEMPLATE));
  }
  const document = parseAllDocuments(lines.join('\n'), { uniqueKeys: false });
  const list = Array.isArray(document) ? document : [document];
  expect(list.length).toBeLessThanOrEqual(1);
  expect(list[0]?.errors.map((error) => error.message) ?? []).toEqual([]);
  return (list[0]?.toJS() as Json | null) ?? null;
}

/** Every key path of a value (arrays as []), and the paths that hold null (where a template injects YAML). */
function keyPaths(
  value: unknown,
  prefix: string[] = [],
  into = { all: new Set<string>(), open: new Set<string>() },
) {
  if (Array.isArray(value)) {
    for (const item of value) keyPaths(item, [...prefix, '[]'], into);
  } else if (isObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      const path = [...prefix, key];
      into.all.add(path.join('\n'));
      if (child === null) into.open.add(path.join('\n'));
      keyPaths(child, path, into);
    }
  }
  return into;
}

const pathPattern = (path: string) =>
  new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replaceAll(TEMPLATE, '[^\\n]+')}$`);

function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (isObject(value)) return Object.keys(value).length > 0;
  return Boolean(value);
}

describe('deploy/helm/gatehouse', () => {
  const chart = parseYaml(read(`${CHART}/Chart.yaml`)) as Json;
  const values = parseYaml(read(`${CHART}/values.yaml`)) as Json;
  const templateFiles = readdirSync(`${CHART}/templates`).sort();
  const manifests = templateFiles.filter((file) => file.endsWith('.yaml'));
  const templates = Object.fromEntries(
    templateFiles.map((file) => [file, read(`${CHART}/templates/${file}`)]),
  );
  const renderedText = read(RENDERED);
  const rendered = renderedText
    .split(/^---$/m)
    .slice(1)
    .map((part) => ({
      source: /^# Source: gatehouse\/templates\/(\S+)$/m.exec(part)?.[1],
      document: parseYaml(part) as Json,
    }));

  it('has a Chart.yaml for Helm 3 whose appVersion is the package version', () => {
    expectValid(
      {
        type: 'object',
        required: ['apiVersion', 'name', 'version', 'appVersion', 'type'],
        properties: {
          apiVersion: { const: 'v2' },
          name: { const: 'gatehouse' },
          version: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+(-[0-9A-Za-z.-]+)?$' },
          appVersion: { const: PACKAGE.version },
          type: { const: 'application' },
        },
      },
      chart,
      'Chart.yaml',
    );
  });

  it('has values.yaml that its values.schema.json accepts', () => {
    const schema = JSON.parse(read(`${CHART}/values.schema.json`)) as Json;
    delete schema.$schema;
    expectValid(schema, values, 'values.yaml');
    expect(at(values, 'image', 'tag')).not.toBe('latest');
  });

  it('has _helpers.tpl, NOTES.txt and a template for every kind in the rendered manifests', () => {
    expect(templateFiles).toEqual(expect.arrayContaining(['_helpers.tpl', 'NOTES.txt']));
    const kinds = new Map(manifests.map((file) => [file, skeleton(templates[file]!, true)?.kind]));
    for (const kind of Object.keys(KIND_SCHEMAS)) expect([...kinds.values()], kind).toContain(kind);
    for (const { source, document } of rendered) {
      expect(source, `rendered ${String(document.kind)} names no template`).toBeDefined();
      expect(kinds.get(source!), source).toBe(document.kind);
    }
  });

  it('renders each template, by its if-condition on the default values, into the manifests once or not at all', () => {
    for (const file of manifests) {
      const lines = templates[file]!.trim().split('\n');
      const guard = /^\{\{-? if (not )?\.Values\.([\w.]+) -?\}\}$/.exec(lines[0]!);
      const expected = guard
        ? truthy(at(values, ...guard[2]!.split('.'))) !== Boolean(guard[1]) &&
          /^\{\{-? end -?\}\}$/.test(lines.at(-1)!)
        : true;
      expect(rendered.filter((entry) => entry.source === file).length, file).toBe(expected ? 1 : 0);
    }
  });

  it('has the shape of its template in every rendered object', () => {
    for (const { source, document } of rendered) {
      const text = templates[source!]!;
      const always = keyPaths(skeleton(text, false));
      const possible = keyPaths(skeleton(text, true));
      const actual = keyPaths(document);
      const allowed = [...possible.all].map(pathPattern);
      const open = [...possible.open].map(pathPattern);
      for (const path of always.all) {
        const pattern = pathPattern(path);
        expect(
          [...actual.all].some((candidate) => pattern.test(candidate)),
          `${source}: ${path}`,
        ).toBe(true);
      }
      for (const path of actual.all) {
        const parts = path.split('\n');
        const fromTemplate =
          allowed.some((pattern) => pattern.test(path)) ||
          parts.some((_, index) =>
            open.some((pattern) => pattern.test(parts.slice(0, index + 1).join('\n'))),
          );
        expect(
          fromTemplate,
          `${source} rendered ${path.replaceAll('\n', '.')}, which its template lacks`,
        ).toBe(true);
      }
    }
  });

  it('renders the ConfigMap and Secret from values.yaml, every value quoted', () => {
    const byKind = (kind: string) => rendered.find((entry) => entry.document.kind === kind)!.document;
    const strings = (object: unknown) =>
      Object.fromEntries(Object.entries(object as Json).map(([key, value]) => [key, String(value)]));
    expect(byKind('ConfigMap').data).toEqual(strings(values.config));
    expect(byKind('Secret').stringData).toEqual(strings(at(values, 'secrets', 'values')));
    const image = at(byKind('Deployment'), 'spec', 'template', 'spec', 'containers', 0, 'image');
    expect(image).toBe(`${String(at(values, 'image', 'repository'))}:${String(chart.appVersion)}`);
    expect(at(byKind('Deployment'), 'spec', 'template', 'spec', 'containers', 0, 'resources')).toEqual(
      values.resources,
    );
    expect(renderedText).toContain(`helm.sh/chart: gatehouse-${String(chart.version)}`);
  });

  it('uses only values that values.yaml defines, and every top-level value', () => {
    const used = new Set<string>();
    for (const text of Object.values(templates)) {
      for (const match of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g))
        used.add(match[1]!.slice(1));
    }
    const missing = [...used].filter((path) => {
      let node: unknown = values;
      for (const key of path.split('.')) {
        if (!isObject(node) || !(key in node)) return true;
        node = node[key];
      }
      return false;
    });
    expect(missing).toEqual([]);
    const topLevel = new Set([...used].map((path) => path.split('.')[0]!));
    expect(Object.keys(values).filter((key) => !topLevel.has(key))).toEqual([]);
  });

  it('includes only templates _helpers.tpl defines', () => {
    const defined = new Set(
      [...templates['_helpers.tpl']!.matchAll(/define "([^"]+)"/g)].map((match) => match[1]),
    );
    const included = new Set(
      Object.values(templates).flatMap((text) =>
        [...text.matchAll(/include "([^"]+)"/g)].map((match) => match[1]),
      ),
    );
    expect(included.size).toBeGreaterThan(3);
    expect([...included].filter((name) => !defined.has(name))).toEqual([]);
  });

  it('has a ServiceMonitor (off by default) that scrapes /metrics on the Service port with METRICS_TOKEN', () => {
    expect(at(values, 'metrics', 'serviceMonitor', 'enabled')).toBe(false);
    const monitor = skeleton(templates['servicemonitor.yaml']!, true)!;
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    const endpoint = at(monitor, 'spec', 'endpoints', 0) as Json;
    expect(endpoint.path).toBe('/metrics');
    const service = rendered.find((entry) => entry.document.kind === 'Service')!.document;
    expect(endpoint.port).toBe(at(service, 'spec', 'ports', 0, 'name'));
    expect(at(endpoint, 'authorization', 'credentials', 'key')).toBe('METRICS_TOKEN');
    expect(Object.keys(at(values, 'secrets', 'values') as Json)).toContain('METRICS_TOKEN');
  });
});
