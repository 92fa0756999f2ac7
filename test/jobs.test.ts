import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { signedInAccount } from './helpers/accounts.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { FakeClock } from './helpers/clock.js';
import { describeEachDialect } from './helpers/dialects.js';
import { startTestSmtpServer, type TestSmtpServer } from './helpers/mail.js';

const HEALTH_TOKEN = 'health-token-for-the-jobs-tests';

describeEachDialect('jobs, outbound mail and circuit breakers in a running app', (testDatabase, dialect) => {
  let harness: TestApp;
  let smtp: TestSmtpServer;
  const clock = new FakeClock(Date.UTC(2026, 10, 23, 12));

  beforeAll(async () => {
    smtp = await startTestSmtpServer();
    harness = await buildTestApp(testDatabase().url, {
      clock,
      overrides: {
        mail: {
          transport: 'smtp',
          from: 'Gatehouse <id@example.test>',
          smtp: { host: '127.0.0.1', port: smtp.port, secure: false, requireTls: false },
        },
        passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
        accounts: { notifyNewSignIn: false },
        // The test runs the worker itself, step by step, with the fake clock.
        jobs: { enabled: false },
        outbound: { consecutiveFailures: 3, halfOpenAfterMs: 60_000 },
        health: { token: HEALTH_TOKEN },
      },
    });
    await harness.app.ready();
  });

  afterAll(async () => {
    await harness?.app.close();
    await smtp?.close();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  const jobs = () => harness.app.services.jobs;
  const mailJobs = async () => jobs().list({ type: 'mail.send' });
  /** Moves the clock to the job's next attempt and lets this node run what is due. */
  const nextAttempt = async (id: string) => {
    clock.set(Math.max(clock.now(), (await jobs().get(id)).runAt));
    return jobs().runDue();
  };

  it('retries mail a failing provider refuses, opens the circuit, reports it, and delivers once the provider is back', async () => {
    const admin = await signedInAccount(harness.app, 'jobs-admin', dialect);
    await harness.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
    await jobs().runDue();
    smtp.setFailing(true);

    const email = `jobs-person-${dialect}@example.com`;
    const signup = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email, password: 'amber-lighthouse-quartz-71' },
    });
    expect(signup.statusCode).toBe(201);
    // The answer does not wait for the mail, nor even for its job to be written: poll for the job.
    await expect.poll(async () => (await mailJobs()).filter((job) => job.status === 'queued').length).toBe(1);
    const [job] = (await mailJobs()).filter((entry) => entry.status === 'queued');
    const row = await harness.app.services.database.db
      .selectFrom('jobs')
      .select('payload')
      .where('id', '=', job!.id)
      .executeTakeFirstOrThrow();
    expect(row.payload).not.toContain(email);

    expect(await jobs().runDue()).toBe(1);
    let state = await jobs().get(job!.id);
    expect(state).toMatchObject({ status: 'failed', attempts: 1 });
    expect(state.lastError).toMatch(/451/);
    expect(state.runAt).toBeGreaterThan(clock.now());
    expect(await jobs().runDue()).toBe(0);
    await nextAttempt(job!.id);
    await nextAttempt(job!.id);
    expect(smtp.refused).toBe(3);
    expect(harness.app.services.breakers.states()).toMatchObject({ smtp: 'open' });

    // Open: the next attempt fails at once, without touching the provider.
    await nextAttempt(job!.id);
    state = await jobs().get(job!.id);
    expect(state).toMatchObject({ status: 'failed', attempts: 4 });
    expect(state.lastError).toMatch(/paused/);
    expect(smtp.refused).toBe(3);

    const health = await harness.app.inject({
      method: 'GET',
      url: '/health',
      headers: { authorization: `Bearer ${HEALTH_TOKEN}` },
    });
    const metrics = await harness.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/gatehouse_circuit_state\{target="smtp"\} 2/);
    expect(metrics.body).toMatch(/gatehouse_jobs_total\{type="mail.send",outcome="retried"\} 4/);
    const overview = await harness.app.inject({
      method: 'GET',
      url: '/api/v1/admin/system/jobs',
      headers: admin.headers,
    });
    expect(overview.statusCode, overview.body).toBe(200);
    expect(overview.json().types['mail.send']).toMatchObject({ failed: 1 });
    expect(overview.json().worker).toMatchObject({ enabled: false, concurrency: 4 });
    // Not critical: the node stays ready (sign-ins work; mail waits), and operators see why.
    expect(health.statusCode).toBe(200);
    expect(health.json().components.outbound).toMatchObject({ status: 'down', critical: false });
    expect(health.json().components.outbound.error).toMatch(/circuit open for smtp/);

    // The provider recovers; after the cool-down one trial goes through and closes the circuit.
    smtp.setFailing(false);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 61_000 });
    await nextAttempt(job!.id);
    expect(await jobs().get(job!.id)).toMatchObject({ status: 'succeeded', attempts: 5 });
    expect(harness.app.services.breakers.states()).toMatchObject({ smtp: 'closed' });
    const mail = await smtp.waitFor((message) => message.to.includes(email));
    expect(mail.subject).toMatch(/Verify/);
  });

  it('lets an operator see jobs and replay a dead one, recorded in the audit log; others may not', async () => {
    const admin = await signedInAccount(harness.app, 'jobs-replayer', dialect);
    await harness.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
    const member = await signedInAccount(harness.app, 'jobs-member', dialect);
    const { job } = await jobs().enqueue('housekeeping.run', {});
    await harness.app.services.database.db
      .updateTable('jobs')
      .set({ status: 'dead', attempts: 3, last_error: 'Error: gave up', finished_at: clock.now() })
      .where('id', '=', job.id)
      .execute();

    const listed = await harness.app.inject({
      method: 'GET',
      url: '/api/v1/admin/system/jobs/list?status=dead',
      headers: admin.headers,
    });
    expect(listed.json().jobs.map((entry: { id: string }) => entry.id)).toContain(job.id);
    expect(listed.body).not.toContain('payload');
    const refused = await harness.app.inject({
      method: 'POST',
      url: `/api/v1/admin/system/jobs/${job.id}/retry`,
      headers: member.headers,
    });
    expect(refused.statusCode).toBe(403);
    const replayed = await harness.app.inject({
      method: 'POST',
      url: `/api/v1/admin/system/jobs/${job.id}/retry`,
      headers: admin.headers,
    });
    expect(replayed.statusCode, replayed.body).toBe(200);
    expect(replayed.json().job).toMatchObject({ status: 'queued', attempts: 0, lastError: null });
    const again = await harness.app.inject({
      method: 'POST',
      url: `/api/v1/admin/system/jobs/${job.id}/retry`,
      headers: admin.headers,
    });
    expect(again.json()).toMatchObject({ status: 409, code: 'job_not_retryable' });
    const missing = await harness.app.inject({
      method: 'GET',
      url: '/api/v1/admin/system/jobs/no-such-job',
      headers: admin.headers,
    });
    expect(missing.statusCode).toBe(404);
    await harness.app.services.auditWriter.flush();
    const audit = await harness.app.services.audit.list({ name: 'system.job.retried' }, 10);
    expect(audit.events.map((event) => event.targetId)).toContain(job.id);
    await jobs().runDue();
    expect(await jobs().get(job.id)).toMatchObject({ status: 'succeeded' });
  });
});
