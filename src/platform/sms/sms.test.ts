import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LogCapture } from '../../../test/helpers/logs.js';
import { GatehouseError } from '../errors.js';
import { createLogger } from '../logger.js';
import { type SmsSettings, SmsSettingsSchema } from './settings.js';
import { createSmsSender, maskPhone } from './sms.js';

const settings = (overrides: Record<string, unknown>): SmsSettings =>
  Value.Default(SmsSettingsSchema, structuredClone(overrides)) as SmsSettings;

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  form: URLSearchParams;
}

/** The Twilio Messages API, as far as Gatehouse uses it, on a real socket. */
describe('SMS through a Twilio-compatible API', () => {
  let server: Server;
  let base: string;
  const seen: Seen[] = [];
  let answer: { status: number; body: string } = { status: 201, body: '{"sid":"SM1"}' };

  beforeAll(async () => {
    server = createServer((request: IncomingMessage, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        seen.push({
          method: request.method ?? '',
          url: request.url ?? '',
          authorization: request.headers.authorization,
          contentType: request.headers['content-type'],
          form: new URLSearchParams(body),
        });
        response.writeHead(answer.status, { 'content-type': 'application/json' });
        response.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => {
    seen.length = 0;
    answer = { status: 201, body: '{"sid":"SM1"}' };
  });

  const twilio = (extra: Record<string, unknown> = {}, registry?: Registry, logs?: LogCapture) =>
    createSmsSender(
      settings({
        provider: 'twilio',
        twilio: {
          accountSid: 'AC123',
          authToken: 'secret-token',
          from: '+15550001111',
          baseUrl: base,
          timeoutMs: 2000,
          ...extra,
        },
      }),
      {
        logger: createLogger({ level: 'info', pretty: false }, logs ?? new LogCapture()),
        outboxDir: '/nonexistent',
        ...(registry ? { registry } : {}),
      },
    );
  const message = { to: '+15550002222', body: '123456 is your code', tag: 'mfa-code' };

  it('posts the message form-encoded with HTTP Basic to the account’s Messages resource', async () => {
    const registry = new Registry();
    const logs = new LogCapture();
    expect(await twilio({}, registry, logs).send(message)).toEqual({ id: 'SM1' });
    expect(seen).toHaveLength(1);
    const [request] = seen;
    expect(request).toMatchObject({
      method: 'POST',
      url: '/2010-04-01/Accounts/AC123/Messages.json',
      authorization: `Basic ${Buffer.from('AC123:secret-token').toString('base64')}`,
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(Object.fromEntries(request!.form)).toEqual({
      To: '+15550002222',
      From: '+15550001111',
      Body: '123456 is your code',
    });
    expect(await registry.getSingleMetricAsString('gatehouse_sms_sent_total')).toContain('tag="mfa-code"} 1');
    // Logs name the masked number, never the text (it holds the code) or the token.
    expect(logs.text).toContain(maskPhone('+15550002222'));
    expect(logs.text).not.toContain('123456');
    expect(logs.text).not.toContain('secret-token');
  });

  it('sends from a messaging service when one is configured', async () => {
    await twilio({ messagingServiceSid: 'MG9' }).send(message);
    expect(seen[0]!.form.get('MessagingServiceSid')).toBe('MG9');
    expect(seen[0]!.form.has('From')).toBe(false);
  });

  it('fails with sms_delivery_failed when the provider refuses or cannot be reached', async () => {
    const registry = new Registry();
    answer = { status: 400, body: '{"code":21211,"message":"invalid To"}' };
    const refused = await twilio({}, registry)
      .send(message)
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(GatehouseError);
    expect((refused as GatehouseError).code).toBe('sms_delivery_failed');
    expect((refused as GatehouseError).message).toContain('400');
    expect(await registry.getSingleMetricAsString('gatehouse_sms_failed_total')).toContain(
      'tag="mfa-code"} 1',
    );

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = await twilio({ baseUrl: `http://127.0.0.1:${port}` })
      .send(message)
      .catch((error: unknown) => error);
    expect((unreachable as GatehouseError).code).toBe('sms_delivery_failed');
  });
});

describe('other SMS providers', () => {
  const logger = createLogger({ level: 'silent', pretty: false });

  it('none: SMS is off and sending says so', async () => {
    const sender = createSmsSender(settings({ provider: 'none' }), { logger, outboxDir: '/nonexistent' });
    expect(sender.enabled).toBe(false);
    await expect(sender.send({ to: '+15550002222', body: 'x', tag: 't' })).rejects.toMatchObject({
      code: 'sms_unavailable',
    });
  });

  it('outbox: each message becomes a private JSON file', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-sms-'));
    const sender = createSmsSender(settings({ provider: 'outbox' }), { logger, outboxDir: directory });
    await sender.send({ to: '+15550002222', body: '654321 is your code', tag: 'mfa-code' });
    const files = readdirSync(directory);
    expect(files).toHaveLength(1);
    const file = join(directory, files[0]!);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      to: '+15550002222',
      body: '654321 is your code',
      tag: 'mfa-code',
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('masks phone numbers down to the country code and the last two digits', () => {
    expect(maskPhone('+15550002222')).toBe('+15*******22');
  });
});
