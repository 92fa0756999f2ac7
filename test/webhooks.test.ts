import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertCallableUrl, isPublicAddress } from '../src/platform/outbound/destinations.js';
import { type SignedInAccount, signedInAccount } from './helpers/accounts.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { FakeClock } from './helpers/clock.js';
import { describeEachDialect, TEST_REDIS_URL } from './helpers/dialects.js';

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** An endpoint that records what it receives and answers 500 while told to fail. */
async function startReceiver() {
  const received: Received[] = [];
  let failuresLeft = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        response.statusCode = 500;
      }
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    failNext(count: number) {
      failuresLeft = count;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** What a receiver does with the `Gatehouse-Signature` header (the README's recipe). */
function verifySignature(secret: string, header: string, body: string): boolean {
  const parts = Object.fromEntries(header.split(',').map((part) => part.split('=') as [string, string]));
  const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

describe('outbound destinations', () => {
  it('tells public addresses from private, local and reserved ones', () => {
    for (const address of ['8.8.8.8', '2606:4700:4700::1111'])
      expect(isPublicAddress(address), address).toBe(true);
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '0.0.0.0',
      'nonsense',
    ]) {
      expect(isPublicAddress(address), address).toBe(false);
    }
  });

  it('refuses URLs that are not public https, or carry credentials', async () => {
    const strict = { allowPrivateNetworks: false, field: 'url' };
    await expect(assertCallableUrl('https://169.254.169.254/latest/meta-data', strict)).rejects.toMatchObject(
      {
        code: 'destination_not_public',
      },
    );
    await expect(assertCallableUrl('https://[::1]/x', strict)).rejects.toMatchObject({
      code: 'destination_not_public',
    });
    await expect(assertCallableUrl('http://8.8.8.8/x', strict)).rejects.toMatchObject({
      code: 'destination_invalid',
    });
    await expect(assertCallableUrl('https://user:pw@8.8.8.8/x', strict)).rejects.toMatchObject({
      code: 'destination_invalid',
    });
    await expect(assertCallableUrl('ftp://8.8.8.8/x', strict)).rejects.toMatchObject({
      code: 'destination_invalid',
    });
    await expect(assertCallableUrl('https://localhost/x', strict)).rejects.toMatchObject({
      code: 'destination_not_public',
    });
    expect((await assertCallableUrl('https://8.8.8.8/hook', strict)).href).toBe('https://8.8.8.8/hook');
    expect(
      (await assertCallableUrl('http://127.0.0.1:9/x', { ...strict, allowPrivateNetworks: true })).port,
    ).toBe('9');
  });
});

describeEachDialect('webhooks', (testDatabase, dialect) => {
  let harness: TestApp;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let admin: SignedInAccount;
  const clock = new FakeClock(Date.UTC(2026, 10, 23, 12));

  beforeAll(async () => {
    receiver = await startReceiver();
    harness = await buildTestApp(testDatabase().url, {
      clock,
      overrides: {
        passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
        accounts: { notifyNewSignIn: false },
        jobs: { enabled: false },
        outbound: { allowPrivateNetworks: true },
      },
    });
    admin = await signedInAccount(harness.app, 'webhook-admin', dialect);
    await harness.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
  });

  afterAll(async () => {
    await harness?.app.close();
    await receiver?.close();
  });

  const api = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    harness.app.inject({ method, url, headers: admin.headers, ...(payload ? { payload } : {}) });
  const failedLogin = () =>
    harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: `nobody-${dialect}@example.com`, password: 'not-the-password' },
    });
  /** Lets the audit writer commit and hand its records to the webhooks, then waits for `count` deliveries. */
  const deliveriesOf = async (webhookId: string, count: number) => {
    await harness.app.services.auditWriter.flush();
    await expect
      .poll(
        async () =>
          (await api('GET', `/api/v1/admin/webhooks/${webhookId}/deliveries`)).json().deliveries.length,
      )
      .toBe(count);
    return (await api('GET', `/api/v1/admin/webhooks/${webhookId}/deliveries`)).json().deliveries as {
      id: string;
      status: string;
      eventName: string;
    }[];
  };
  const runJobs = async () => {
    for (let round = 0; round < 5; round += 1) {
      if ((await harness.app.services.jobs.runDue()) === 0) return;
    }
  };

  it('delivers matching events signed with the secret, retries failures with backoff, keeps every try and replays', async () => {
    const refused = await api('POST', '/api/v1/admin/webhooks', {
      name: 'x',
      url: receiver.url,
      events: ['Not An Event'],
    });
    expect(refused.json()).toMatchObject({ status: 400, code: 'webhook_invalid' });
    const created = await api('POST', '/api/v1/admin/webhooks', {
      name: 'SIEM',
      url: receiver.url,
      events: ['auth.login.', 'webhook.test'],
    });
    expect(created.statusCode, created.body).toBe(201);
    const { webhook, secret } = created.json() as { webhook: { id: string }; secret: string };
    expect(secret).toMatch(/^whsec_/);
    expect((await api('GET', '/api/v1/admin/webhooks')).body).not.toContain(secret);
    const stored = await harness.app.services.database.db
      .selectFrom('webhooks')
      .select('secret')
      .where('id', '=', webhook.id)
      .executeTakeFirstOrThrow();
    expect(stored.secret).not.toContain(secret);

    await failedLogin();
    const [first] = await deliveriesOf(webhook.id, 1);
    expect(first).toMatchObject({ status: 'pending', eventName: 'auth.login.failed' });
    await runJobs();
    expect(receiver.received).toHaveLength(1);
    const request = receiver.received[0]!;
    expect(request.headers['gatehouse-event']).toBe('auth.login.failed');
    expect(request.headers['gatehouse-delivery']).toBe(first!.id);
    expect(verifySignature(secret, String(request.headers['gatehouse-signature']), request.body)).toBe(true);
    expect(verifySignature('whsec_wrong', String(request.headers['gatehouse-signature']), request.body)).toBe(
      false,
    );
    expect(JSON.parse(request.body)).toMatchObject({
      id: first!.id,
      webhook: webhook.id,
      event: { name: 'auth.login.failed' },
    });

    // Two failures, then success; each try is kept with the endpoint's answer.
    receiver.failNext(2);
    await failedLogin();
    const second = (await deliveriesOf(webhook.id, 2))[0]!;
    await runJobs();
    for (let retry = 0; retry < 2; retry += 1) {
      const job = (await harness.app.services.jobs.list({ type: 'webhook.deliver', status: 'failed' }))[0]!;
      expect(job.runAt).toBeGreaterThan(clock.now());
      clock.set(job.runAt);
      await runJobs();
    }
    const detail = (await api('GET', `/api/v1/admin/webhooks/deliveries/${second.id}`)).json().delivery;
    expect(detail).toMatchObject({ status: 'succeeded', attempts: 3, lastStatusCode: 200 });
    expect(detail.tries.map((attempt: { statusCode: number }) => attempt.statusCode)).toEqual([
      500, 500, 200,
    ]);
    expect(detail.tries[0].error).toMatch(/answered 500/);

    const replayed = await api('POST', `/api/v1/admin/webhooks/deliveries/${second.id}/replay`);
    expect(replayed.statusCode, replayed.body).toBe(202);
    await runJobs();
    const bodies = receiver.received.filter((entry) => entry.headers['gatehouse-delivery'] === second.id);
    expect(bodies).toHaveLength(4);
    expect(new Set(bodies.map((entry) => entry.body)).size).toBe(1);

    // Events it does not subscribe to make no deliveries; the test button sends one anyway.
    await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: `someone-${dialect}@example.com`, password: 'amber-lighthouse-quartz-71' },
    });
    await deliveriesOf(webhook.id, 2);
    const tested = await api('POST', `/api/v1/admin/webhooks/${webhook.id}/test`);
    expect(tested.statusCode).toBe(202);
    await runJobs();
    expect(receiver.received.at(-1)?.headers['gatehouse-event']).toBe('webhook.test');

    // A disabled webhook gets nothing; deleting it takes its deliveries; both are in the audit log.
    await api('PATCH', `/api/v1/admin/webhooks/${webhook.id}`, { enabled: false });
    await failedLogin();
    await harness.app.services.auditWriter.flush();
    expect(
      (await api('GET', `/api/v1/admin/webhooks/${webhook.id}/deliveries`)).json().deliveries,
    ).toHaveLength(3);
    const rotated = await api('POST', `/api/v1/admin/webhooks/${webhook.id}/rotate-secret`);
    expect(rotated.json().secret).not.toBe(secret);
    expect((await api('DELETE', `/api/v1/admin/webhooks/${webhook.id}`)).statusCode).toBe(204);
    expect((await api('GET', `/api/v1/admin/webhooks/deliveries/${second.id}`)).statusCode).toBe(404);
    await harness.app.services.auditWriter.flush();
    const audit = await harness.app.services.audit.list({ name: 'webhook.' }, 20);
    expect(audit.events.map((event) => event.name)).toEqual(
      expect.arrayContaining([
        'webhook.created',
        'webhook.updated',
        'webhook.secret.rotated',
        'webhook.delivery.replayed',
        'webhook.deleted',
      ]),
    );
  });

  it('is for operators: members may not see or change webhooks', async () => {
    const member = await signedInAccount(harness.app, 'webhook-member', dialect);
    const list = await harness.app.inject({
      method: 'GET',
      url: '/api/v1/admin/webhooks',
      headers: member.headers,
    });
    expect(list.statusCode).toBe(403);
    const create = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/admin/webhooks',
      headers: member.headers,
      payload: { name: 'x', url: receiver.url, events: ['*'] },
    });
    expect(create.statusCode).toBe(403);
  });
});

describeEachDialect('webhooks on two nodes', (testDatabase, dialect) => {
  it('a webhook added on one node receives events committed on another at once (through Redis)', async () => {
    const keyPrefix = `gatehouse-webhooks-test-${randomUUID()}:`;
    const node = () =>
      buildTestApp(testDatabase().url, {
        overrides: {
          redis: { url: TEST_REDIS_URL, keyPrefix },
          passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
          accounts: { notifyNewSignIn: false },
          jobs: { enabled: false },
          outbound: { allowPrivateNetworks: true },
        },
      });
    const [a, b] = [await node(), await node()];
    try {
      const record = async (harness: TestApp, name: string) => {
        await harness.app.services.events.recordDurably({ name, severity: 'low', outcome: 'success' });
      };
      // Node B has read the (empty) list of webhooks already.
      await record(b, 'test.before');
      const admin = await signedInAccount(a.app, 'two-node-webhook-admin', dialect);
      await a.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
      const created = await a.app.inject({
        method: 'POST',
        url: '/api/v1/admin/webhooks',
        headers: admin.headers,
        payload: { name: 'SIEM', url: 'http://127.0.0.1:9/hooks', events: ['test.'] },
      });
      const webhookId = created.json().webhook.id as string;
      await expect
        .poll(async () => {
          await record(b, 'test.after');
          return (await b.app.services.webhooks.deliveries(webhookId, {})).length;
        })
        .toBeGreaterThan(0);
      const deliveries = await b.app.services.webhooks.deliveries(webhookId, {});
      expect(deliveries.every((delivery) => delivery.eventName === 'test.after')).toBe(true);
    } finally {
      await a.app.close();
      await b.app.close();
    }
  });
});
