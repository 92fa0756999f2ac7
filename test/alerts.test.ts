import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signWebhookBody } from '../src/platform/outbound/signature.js';
import { type SignedInAccount, signedInAccount } from './helpers/accounts.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { FakeClock } from './helpers/clock.js';
import { describeEachDialect } from './helpers/dialects.js';
import { startTestSmtpServer, type TestSmtpServer } from './helpers/mail.js';

/** One local server standing in for Slack, PagerDuty and a generic endpoint, by path. */
async function startChannels() {
  const received: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.statusCode = request.url === '/pagerduty' ? 202 : 200;
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, received, close: () => new Promise((resolve) => server.close(resolve)) };
}

const ROUTING_KEY = 'R0UT1NGKEY0123456789abcd';
const SECRET = 'alert-webhook-secret-0123';

describeEachDialect('alerts', (testDatabase, dialect) => {
  let harness: TestApp;
  let smtp: TestSmtpServer;
  let channels: Awaited<ReturnType<typeof startChannels>>;
  let admin: SignedInAccount;
  const clock = new FakeClock(Date.UTC(2026, 10, 23, 12));

  beforeAll(async () => {
    smtp = await startTestSmtpServer();
    channels = await startChannels();
    harness = await buildTestApp(testDatabase().url, {
      clock,
      overrides: {
        mail: {
          transport: 'smtp',
          from: 'Gatehouse <id@example.test>',
          smtp: { host: '127.0.0.1', port: smtp.port, secure: false, requireTls: false },
        },
        passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
        accounts: { notifyNewSignIn: false, throttle: { perIpFailures: 1000, perIpAccountFailures: 1000 } },
        jobs: { enabled: false },
        outbound: { allowPrivateNetworks: true },
      },
    });
    admin = await signedInAccount(harness.app, 'alerts-admin', dialect);
    await harness.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
  });

  afterAll(async () => {
    await harness?.app.close();
    await smtp?.close();
    await channels?.close();
  });

  const api = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) =>
    harness.app.inject({ method, url, headers: admin.headers, ...(payload ? { payload } : {}) });
  const failedLogins = async (count: number) => {
    for (let attempt = 0; attempt < count; attempt += 1) {
      await harness.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: `nobody-${dialect}@example.com`, password: 'not-the-password' },
      });
    }
    await harness.app.services.auditWriter.flush();
  };
  const runJobs = async () => {
    while ((await harness.app.services.jobs.runDue()) > 0) {}
  };

  it('fires a threshold rule once per cool-down, on every channel, in each channel’s format', async () => {
    const invalid = await api('POST', '/api/v1/admin/alerts', {
      name: 'x',
      source: 'events',
      eventPattern: 'auth.login.failed',
      channels: [{ type: 'pagerduty', routingKey: 'short' }],
    });
    expect(invalid.statusCode).toBe(400);
    const created = await api('POST', '/api/v1/admin/alerts', {
      name: 'Failed sign-in burst',
      source: 'events',
      eventPattern: 'auth.login.failed',
      threshold: 3,
      windowSeconds: 300,
      cooldownSeconds: 900,
      severity: 'critical',
      channels: [
        { type: 'email', to: `oncall-${dialect}@example.com` },
        { type: 'slack', url: `${channels.base}/slack` },
        { type: 'pagerduty', routingKey: ROUTING_KEY, url: `${channels.base}/pagerduty` },
        { type: 'webhook', url: `${channels.base}/generic`, secret: SECRET },
      ],
    });
    expect(created.statusCode, created.body).toBe(201);
    const rule = created.json().rule;
    // Secrets never come back: the routing key and URLs are masked, and sealed at rest.
    expect(created.body).not.toContain(ROUTING_KEY);
    expect(created.body).not.toContain(SECRET);
    const stored = await harness.app.services.database.db
      .selectFrom('alert_rules')
      .select('channels')
      .where('id', '=', rule.id)
      .executeTakeFirstOrThrow();
    expect(stored.channels).not.toContain(ROUTING_KEY);

    await failedLogins(3);
    expect(await harness.app.services.alerts.evaluate()).toEqual([]);
    await failedLogins(1);
    expect(await harness.app.services.alerts.evaluate()).toEqual(['Failed sign-in burst']);
    // Quiet during the cool-down, however many more fail.
    await failedLogins(5);
    clock.advance(60_000);
    expect(await harness.app.services.alerts.evaluate()).toEqual([]);
    await runJobs();

    const slack = channels.received.find((entry) => entry.path === '/slack');
    expect(JSON.parse(slack!.body).text).toMatch(
      /^\[critical\] Failed sign-in burst: 4 auth\.login\.failed events/,
    );
    const pagerduty = JSON.parse(channels.received.find((entry) => entry.path === '/pagerduty')!.body);
    expect(pagerduty).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: `gatehouse:${rule.id}`,
      payload: { severity: 'critical', component: 'gatehouse', custom_details: { count: 4, threshold: 3 } },
    });
    expect(pagerduty.payload.summary).toMatch(/Failed sign-in burst/);
    const generic = channels.received.find((entry) => entry.path === '/generic')!;
    const t = /t=(\d+)/.exec(String(generic.headers['gatehouse-signature']))![1]!;
    expect(generic.headers['gatehouse-signature']).toBe(signWebhookBody(SECRET, generic.body, Number(t)));
    expect(JSON.parse(generic.body).alert).toMatchObject({
      count: 4,
      rule: { name: 'Failed sign-in burst' },
    });
    const mail = await smtp.waitFor((message) => message.to.includes(`oncall-${dialect}@example.com`));
    expect(mail.subject).toMatch(/alert: \[critical\] Failed sign-in burst/);

    // After the cool-down it may fire again; the firings are listed, the firing is audited.
    clock.advance(900_000);
    await failedLogins(4);
    expect(await harness.app.services.alerts.evaluate()).toEqual(['Failed sign-in burst']);
    const firings = (await api('GET', `/api/v1/admin/alerts/${rule.id}/firings`)).json().firings;
    expect(firings).toHaveLength(2);
    const audit = await harness.app.services.audit.list({ name: 'alert.' }, 10);
    expect(audit.events.map((event) => event.name)).toEqual(
      expect.arrayContaining(['alert.fired', 'alert.rule.created']),
    );
  });

  it('alerts on any honeytoken use with threshold 0, and tests channels on request', async () => {
    const created = await api('POST', '/api/v1/admin/alerts', {
      name: 'Honeytoken touched',
      source: 'events',
      eventPattern: 'security.honeytoken.',
      threshold: 0,
      channels: [{ type: 'slack', url: `${channels.base}/slack-decoys` }],
    });
    const rule = created.json().rule;
    expect(await harness.app.services.alerts.evaluate()).not.toContain('Honeytoken touched');
    harness.app.services.events.record({
      name: 'security.honeytoken.used',
      severity: 'critical',
      outcome: 'failure',
      details: { kind: 'api_key' },
    });
    await harness.app.services.auditWriter.flush();
    expect(await harness.app.services.alerts.evaluate()).toContain('Honeytoken touched');
    const tested = await api('POST', `/api/v1/admin/alerts/${rule.id}/test`);
    expect(tested.json().channels).toEqual([{ type: 'slack', target: `${channels.base}/…`, sent: true }]);
    expect(channels.received.filter((entry) => entry.path === '/slack-decoys').length).toBe(1);
    expect((await api('DELETE', `/api/v1/admin/alerts/${rule.id}`)).statusCode).toBe(204);
  });

  it('tells operators when this node’s audit writer cannot commit, directly and once per cool-down', async () => {
    const created = await api('POST', '/api/v1/admin/alerts', {
      name: 'Audit writer failing',
      source: 'audit_writer',
      severity: 'critical',
      cooldownSeconds: 600,
      channels: [{ type: 'slack', url: `${channels.base}/slack-audit` }],
    });
    expect(created.statusCode, created.body).toBe(201);
    const rules = await harness.app.services.database.db.selectFrom('alert_rules').selectAll().execute();
    const writer = harness.app.services.auditWriter;
    expect(await harness.app.services.alerts.checkAuditWriter(rules)).toEqual([]);
    const state = writer.state;
    writer.state = () => ({
      ...state.call(writer),
      failing: true,
      lastError: 'relation "audit_tree" does not exist',
    });
    try {
      expect(await harness.app.services.alerts.checkAuditWriter(rules)).toEqual(['Audit writer failing']);
      expect(await harness.app.services.alerts.checkAuditWriter(rules)).toEqual([]);
      clock.advance(600_000);
      expect(await harness.app.services.alerts.checkAuditWriter(rules)).toEqual(['Audit writer failing']);
    } finally {
      writer.state = state;
    }
    const sent = channels.received.filter((entry) => entry.path === '/slack-audit');
    expect(sent).toHaveLength(2);
    expect(JSON.parse(sent[0]!.body).text).toMatch(/audit log cannot commit on this node/);
  });
});
