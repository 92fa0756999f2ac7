import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { LogCapture } from '../../../test/helpers/logs.js';
import { createLogger } from '../logger.js';
import { createBreakers } from './breakers.js';

// A provider that fails on purpose while `failing`, and one that never answers.
let failing = true;
let hits = 0;
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    hits += 1;
    if (request.url === '/hang') return; // never answers
    response.statusCode = failing ? 503 : 200;
    response.end(failing ? 'down' : 'ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

afterEach(() => {
  vi.useRealTimers();
});

const call = async (url: string, signal: AbortSignal) => {
  const response = await fetch(url, { signal });
  if (!response.ok) throw new Error(`provider answered ${response.status}`);
  return response.text();
};

it('opens after consecutive failures, fails fast while open, half-opens after the cool-down and closes on success', async () => {
  const registry = new Registry();
  const logs = new LogCapture();
  const breakers = createBreakers({
    settings: {
      timeoutMs: 2000,
      consecutiveFailures: 3,
      halfOpenAfterMs: 30_000,
      allowPrivateNetworks: true,
    },
    logger: createLogger({ level: 'info', pretty: false }, logs),
    registry,
  });
  const webhook = breakers.get('webhook:example');
  expect(breakers.get('webhook:example')).toBe(webhook);
  failing = true;
  hits = 0;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    await expect(webhook.execute((signal) => call(`${base}/hook`, signal))).rejects.toThrow(/503/);
  }
  expect(webhook.state).toBe('open');
  expect(hits).toBe(3);
  await expect(webhook.execute((signal) => call(`${base}/hook`, signal))).rejects.toMatchObject({
    code: 'outbound_unavailable',
  });
  expect(hits).toBe(3);
  expect(await registry.getSingleMetricAsString('gatehouse_circuit_state')).toMatch(
    /gatehouse_circuit_state\{target="webhook:example"\} 2/,
  );
  expect(logs.entries.some((line) => line.msg?.toString().startsWith('outbound circuit opened'))).toBe(true);

  // Half-open after the cool-down: a failed trial opens it again, a good one closes it.
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 30_001 });
  await expect(webhook.execute((signal) => call(`${base}/hook`, signal))).rejects.toThrow(/503/);
  expect(webhook.state).toBe('open');
  expect(hits).toBe(4);
  vi.setSystemTime(Date.now() + 30_001);
  failing = false;
  expect(await webhook.execute((signal) => call(`${base}/hook`, signal))).toBe('ok');
  expect(webhook.state).toBe('closed');
  expect(breakers.states()).toEqual({ 'webhook:example': 'closed' });
  expect(await registry.getSingleMetricAsString('gatehouse_circuit_state')).toMatch(
    /gatehouse_circuit_state\{target="webhook:example"\} 0/,
  );
});

it('gives up on a provider that does not answer, aborting the call', async () => {
  const breakers = createBreakers({
    settings: { timeoutMs: 100, consecutiveFailures: 5, halfOpenAfterMs: 30_000, allowPrivateNetworks: true },
    logger: createLogger({ level: 'silent', pretty: false }),
  });
  let aborted = false;
  await expect(
    breakers.get('slow').execute(async (signal) => {
      signal.addEventListener('abort', () => {
        aborted = true;
      });
      return call(`${base}/hang`, signal);
    }),
  ).rejects.toMatchObject({ code: 'outbound_timeout' });
  expect(aborted).toBe(true);
  expect(breakers.get('slow').state).toBe('closed');
});
