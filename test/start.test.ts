import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from './helpers/dialects.js';

const TSX = join(process.cwd(), 'node_modules', '.bin', 'tsx');

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs src/main.ts as `npm start` would (without the build step), with only the given environment. */
function start(env: Record<string, string>): Started {
  const child = spawn(TSX, ['src/main.ts'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

function waitForLine(started: Started, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pattern.test(started.output())) {
        resolve();
        return true;
      }
      return false;
    };
    if (check()) return;
    const onData = () => {
      if (check()) {
        started.child.stdout?.off('data', onData);
        started.child.stderr?.off('data', onData);
      }
    };
    started.child.stdout?.on('data', onData);
    started.child.stderr?.on('data', onData);
    started.exited.then((code) =>
      reject(new Error(`exited with ${code} before ${pattern}:\n${started.output()}`)),
    );
  });
}

const running: Started[] = [];
const directories: string[] = [];

afterEach(() => {
  for (const started of running.splice(0)) started.child.kill('SIGKILL');
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

describe('the process', () => {
  it('starts on a bare machine with SQLite in the data directory, then stops cleanly on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-start-'));
    directories.push(dataDir);
    const started = start({ GATEHOUSE_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' });
    running.push(started);
    await waitForLine(started, /"msg":"gatehouse is ready"/);
    const address = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(started.output())?.[1];
    expect(address).toBeDefined();

    const live = await fetch(`${address}/health/ready`);
    expect(live.status).toBe(200);
    expect(existsSync(join(dataDir, 'gatehouse.db'))).toBe(true);
    expect(statSync(join(dataDir, 'secret.key')).mode & 0o777).toBe(0o600);
    expect(started.output()).toContain('generated one for development');

    started.child.kill('SIGTERM');
    expect(await started.exited).toBe(0);
    expect(started.output()).toContain('"msg":"stopped"');
  });

  it('warns that one node only is safe on PostgreSQL without Redis', async () => {
    const database = await createTestDatabase('postgres');
    try {
      const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-start-'));
      directories.push(dataDir);
      const started = start({
        GATEHOUSE_DATA_DIR: dataDir,
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: database.url,
      });
      running.push(started);
      await waitForLine(started, /PostgreSQL without Redis: run only one node/);
      expect(started.output()).toContain('"msg":"gatehouse is ready"');
      started.child.kill('SIGTERM');
      expect(await started.exited).toBe(0);
    } finally {
      await database.drop();
    }
  });

  it('refuses to start with an invalid setting, naming it', async () => {
    const started = start({ DATABASE_URL: 'mysql://db/gatehouse' });
    running.push(started);
    expect(await started.exited).toBe(1);
    expect(started.output()).toContain('database.url: must be a sqlite: or postgres: URL');
  });

  it('refuses unsafe production settings', async () => {
    const started = start({ NODE_ENV: 'production', PUBLIC_URL: 'http://id.example.com' });
    running.push(started);
    expect(await started.exited).toBe(1);
    expect(started.output()).toContain('secrets.key: required in production');
    expect(started.output()).toContain('server.publicUrl: must be https:// in production');
  });
});
