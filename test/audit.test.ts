import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fromHex, verifyConsistency, verifyInclusion } from '../src/platform/audit/merkle.js';
import { type SignedInAccount, signedInAccount, TEST_PASSWORD } from './helpers/accounts.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { runGatehouse } from './helpers/cli.js';
import { FakeClock } from './helpers/clock.js';
import { describeEachDialect } from './helpers/dialects.js';

const DAY = 86_400_000;

interface EventView {
  seq: number;
  id: string;
  name: string;
  severity: string;
  outcome: string;
  actor: { type: string; id: string | null };
  target: { type: string; id: string } | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown> | null;
}

describeEachDialect('audit log', (testDatabase, dialect) => {
  let harness: TestApp;
  let admin: SignedInAccount;
  let member: SignedInAccount;
  const clock = new FakeClock(Date.now());
  const exportDir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-'));

  const call = (
    who: SignedInAccount | undefined,
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    payload?: object,
  ) => harness.app.inject({ method, url, headers: who?.headers ?? {}, ...(payload ? { payload } : {}) });
  const settled = () => harness.app.services.auditWriter.flush();
  const search = async (query: string, who: SignedInAccount = admin) => {
    await settled();
    const response = await call(who, 'GET', `/api/v1/admin/audit?${query}`);
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as { events: EventView[]; nextCursor?: string };
  };
  const db = () => harness.app.gatehouse.database.db;
  const cliEnv = () => ({
    NODE_ENV: 'test',
    GATEHOUSE_DATA_DIR: mkdtempSync(join(tmpdir(), 'gatehouse-cli-audit-')),
    GATEHOUSE_SECRET_KEY: createHash('sha256').update(`gatehouse-test:${testDatabase().url}`).digest('hex'),
    DATABASE_URL: testDatabase().url,
  });

  beforeAll(async () => {
    harness = await buildTestApp(testDatabase().url, {
      clock,
      overrides: {
        passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } },
        accounts: { notifyNewSignIn: false },
        audit: {
          checkpoints: { intervalSeconds: 0, exportFile: join(exportDir, 'checkpoints.ndjson') },
          writer: { maxBuffer: 100, retryBaseMs: 2, retryMaxMs: 20, failingAfter: 2 },
          retention: { low: 30 },
        },
      },
    });
    admin = await signedInAccount(harness.app, 'audit-admin', dialect);
    await harness.app.services.authz.assign({ type: 'user', id: admin.id }, 'admin', {});
    member = await signedInAccount(harness.app, 'audit-member', dialect);
  });

  afterAll(async () => {
    await harness?.app.close();
  });

  it('records who did what to whom, from where, and finds it by name, actor, target, outcome and IP', async () => {
    const failed = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: member.email, password: `${TEST_PASSWORD}-wrong` },
      remoteAddress: '203.0.113.9',
      headers: { 'user-agent': 'audit-test/1.0' },
    });
    expect(failed.statusCode).toBe(401);

    const [attempt] = (await search(`name=auth.login.failed&target=${member.id}`)).events;
    expect(attempt).toMatchObject({
      name: 'auth.login.failed',
      severity: 'low',
      outcome: 'failure',
      actor: { type: 'anonymous', id: null },
      target: { type: 'user', id: member.id },
      ip: '203.0.113.9',
      userAgent: 'audit-test/1.0',
      requestId: failed.headers['x-request-id'],
    });
    expect((await search('outcome=failure&ip=203.0.113.9')).events.map((event) => event.id)).toContain(
      attempt?.id,
    );

    // An admin change made with an API key names the key as the actor, and is written before the answer.
    const created = await call(admin, 'POST', '/api/v1/me/api-keys', { name: 'ops' });
    expect(created.statusCode, created.body).toBe(201);
    const { token, key } = created.json() as { token: string; key: { id: string } };
    const granted = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/admin/security/blocks',
      headers: { authorization: `Bearer ${token}` },
      payload: { kind: 'ip', value: '198.51.100.0/24', reason: 'scanner' },
    });
    expect(granted.statusCode, granted.body).toBe(201);
    const [blocked] = (await search('name=security.ip.blocked')).events;
    expect(blocked).toMatchObject({ actor: { type: 'api_key', id: key.id }, severity: expect.any(String) });
    expect((await search(`actor=${key.id}`)).events.map((event) => event.name)).toContain(
      'security.ip.blocked',
    );

    // Prefixes, severities and pages.
    const auth = await search('name=auth.*&limit=2');
    expect(auth.events).toHaveLength(2);
    expect(auth.events.every((event) => event.name.startsWith('auth.'))).toBe(true);
    const next = await search(`name=auth.&limit=2&cursor=${auth.nextCursor}`);
    expect(next.events[0]!.seq).toBeLessThan(auth.events[1]!.seq);
    expect((await search('severity=critical')).events).toEqual([]);
    expect((await call(admin, 'GET', '/api/v1/admin/audit?name=DROP%20TABLE')).statusCode).toBe(400);
    expect((await call(member, 'GET', '/api/v1/admin/audit')).statusCode).toBe(403);
  });

  it('commits an authorization, client or API-key change together with its record, or neither', async () => {
    const assigned = await call(admin, 'PUT', `/api/v1/admin/users/${member.id}/roles/auditor`);
    expect(assigned.statusCode, assigned.body).toBeLessThan(300);
    const [event] = (await search(`name=role.assigned&target=${member.id}`)).events;
    expect(event).toMatchObject({
      actor: { type: 'user', id: admin.id },
      target: { type: 'user', id: member.id },
      details: expect.objectContaining({ role: 'auditor' }),
    });
    // With the log unable to append, the change is refused and does not happen.
    await sql`alter table audit_tree rename to audit_tree_away`.execute(db());
    try {
      const refused = await call(admin, 'PUT', `/api/v1/admin/users/${member.id}/roles/admin`);
      expect(refused.statusCode, refused.body).toBe(503);
      expect(refused.json().code).toBe('audit_unavailable');
      // The same for a client and an API key: no record, no client, no key.
      const client = await call(admin, 'POST', '/api/v1/admin/clients', {
        name: 'Unrecorded',
        grants: ['client_credentials'],
      });
      expect(client.statusCode, client.body).toBe(503);
      const key = await call(admin, 'POST', '/api/v1/me/api-keys', { name: 'unrecorded' });
      expect(key.statusCode, key.body).toBe(503);
    } finally {
      await sql`alter table audit_tree_away rename to audit_tree`.execute(db());
    }
    const access = await harness.app.services.authz.effectiveAccess(member.id);
    expect(access.roles).not.toContain('admin');
    expect((await harness.app.services.clients.list()).map((entry) => entry.name)).not.toContain(
      'Unrecorded',
    );
    const keys = await harness.app.services.apiKeys.list({ type: 'user', id: admin.id });
    expect(keys.map((entry) => entry.name)).not.toContain('unrecorded');
  });

  it('retries failed writes, reports them in readiness, pushes back when full, and loses nothing', async () => {
    await settled();
    const before = await harness.app.services.audit.treeSize();
    await sql`alter table audit_tree rename to audit_tree_away`.execute(db());
    try {
      for (let index = 0; index < 100; index += 1) {
        harness.app.services.events.record({ name: 'test.outage', severity: 'low', outcome: 'success' });
      }
      await vi.waitFor(async () => {
        const ready = await harness.app.inject({ method: 'GET', url: '/health/ready' });
        expect(ready.statusCode).toBe(503);
        expect(ready.json().failed).toContain('audit');
      });
      const refused = await call(admin, 'GET', '/api/v1/me');
      expect(refused.statusCode).toBe(503);
      expect(refused.json().code).toBe('audit_backpressure');
      expect(refused.headers['retry-after']).toBe('1');
      const metrics = await harness.app.gatehouse.metrics.registry.getSingleMetricAsString(
        'gatehouse_audit_writer_failing',
      );
      expect(metrics).toMatch(/gatehouse_audit_writer_failing 1/);
    } finally {
      await sql`alter table audit_tree_away rename to audit_tree`.execute(db());
    }
    await settled();
    expect((await harness.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
    expect((await call(admin, 'GET', '/api/v1/me')).statusCode).toBe(200);
    const outage = await harness.app.services.audit.list({ name: 'test.outage' }, 500);
    expect(outage.events).toHaveLength(100);
    expect(await harness.app.services.audit.treeSize()).toBeGreaterThanOrEqual(before + 100);
  });

  it("shows a user their own activity and nobody else's", async () => {
    await settled();
    const response = await call(member, 'GET', '/api/v1/me/activity');
    expect(response.statusCode, response.body).toBe(200);
    const events = (response.json() as { events: EventView[] }).events;
    expect(events.map((event) => event.name)).toEqual(
      expect.arrayContaining(['auth.login.failed', 'auth.login.succeeded', 'user.created']),
    );
    for (const event of events) {
      expect([event.actor.id, event.target?.id]).toContain(member.id);
    }
  });

  it('lists security events and counts them for the dashboard', async () => {
    await settled();
    const events = await call(admin, 'GET', '/api/v1/admin/security/events');
    expect(events.statusCode, events.body).toBe(200);
    const names = (events.json() as { events: EventView[] }).events.map((event) => event.name);
    expect(names).toContain('security.ip.blocked');
    expect(names.every((name) => name.startsWith('security.'))).toBe(true);
    const stats = await call(admin, 'GET', '/api/v1/admin/security/events/stats?hours=1');
    expect(stats.statusCode, stats.body).toBe(200);
    const body = stats.json() as { total: number; byName: { name: string; count: number }[] };
    expect(body.byName).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'security.ip.blocked', count: 1 }),
        expect.objectContaining({ name: 'auth.login.failed', count: 1 }),
      ]),
    );
    expect(body.total).toBe(body.byName.reduce((sum, row) => sum + row.count, 0));
    const { series } = stats.json() as { series: { start: string; counts: Record<string, number> }[] };
    const charted = series.reduce(
      (sum, point) => sum + Object.values(point.counts).reduce((a, b) => a + b, 0),
      0,
    );
    expect(charted).toBe(body.total);
    expect(Date.parse(series[0]!.start) % 3_600_000).toBe(0);
  });

  it('proves an event is in a signed checkpoint, and that a later checkpoint extends an earlier one', async () => {
    await settled();
    const first = await call(admin, 'POST', '/api/v1/admin/audit/checkpoints');
    expect(first.statusCode, first.body).toBe(200);
    const from = first.json().checkpoint as { treeSize: number; rootHash: string };
    await signedInAccount(harness.app, 'audit-later', dialect);
    await settled();
    const to = (await call(admin, 'POST', '/api/v1/admin/audit/checkpoints')).json().checkpoint as {
      treeSize: number;
      rootHash: string;
    };
    expect(to.treeSize).toBeGreaterThan(from.treeSize);

    const [event] = (await search('name=user.created&limit=1')).events;
    const proof = await call(admin, 'GET', `/api/v1/admin/audit/proof/${event!.id}`);
    expect(proof.statusCode, proof.body).toBe(200);
    const inclusion = proof.json();
    expect(inclusion.checkpoint.treeSize).toBe(to.treeSize);
    expect(
      verifyInclusion(
        fromHex(inclusion.leafHash),
        inclusion.leafIndex,
        to.treeSize,
        inclusion.inclusionProof.map(fromHex),
        fromHex(to.rootHash),
      ),
    ).toBe(true);

    const consistency = await call(
      admin,
      'GET',
      `/api/v1/admin/audit/consistency?from=${from.treeSize}&to=${to.treeSize}`,
    );
    expect(consistency.statusCode, consistency.body).toBe(200);
    expect(
      verifyConsistency(
        from.treeSize,
        to.treeSize,
        fromHex(from.rootHash),
        fromHex(to.rootHash),
        consistency.json().consistencyProof.map(fromHex),
      ),
    ).toBe(true);

    // The standalone verifier, with the public key fetched separately, accepts both documents.
    const keys = (await call(admin, 'GET', '/api/v1/admin/audit/keys')).json().keys;
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-proof-'));
    writeFileSync(join(dir, 'keys.json'), JSON.stringify(keys));
    for (const [file, document] of [
      ['inclusion.json', inclusion],
      ['consistency.json', consistency.json()],
    ] as const) {
      writeFileSync(join(dir, file), JSON.stringify(document));
      const run = spawnSync(
        process.execPath,
        ['tools/audit-verify-proof.mjs', join(dir, file), '--public-key', join(dir, 'keys.json')],
        { encoding: 'utf8' },
      );
      expect(run.status, run.stdout + run.stderr).toBe(0);
    }
    // ... and refuses an event whose content was changed on its way.
    writeFileSync(
      join(dir, 'forged.json'),
      JSON.stringify({ ...inclusion, leafData: inclusion.leafData.replace('user.created', 'user.deleted') }),
    );
    const forged = spawnSync(
      process.execPath,
      ['tools/audit-verify-proof.mjs', join(dir, 'forged.json'), '--public-key', join(dir, 'keys.json')],
      { encoding: 'utf8' },
    );
    expect(forged.status).toBe(1);

    // Every new checkpoint was also written outside the database.
    const exported = readFileSync(join(exportDir, 'checkpoints.ndjson'), 'utf8').trim().split('\n');
    expect(exported.map((line) => JSON.parse(line).treeSize)).toEqual(
      expect.arrayContaining([from.treeSize, to.treeSize]),
    );
    expect((await call(admin, 'GET', '/api/v1/admin/audit/proof/nope')).statusCode).toBe(404);
  });

  it('exports as NDJSON and CSV, oldest first, with spreadsheet formulas defused', async () => {
    await harness.app.services.events.recordDurably({
      name: 'test.formula',
      severity: 'low',
      outcome: 'success',
      details: { note: '=HYPERLINK("http://evil.example")' },
    });
    const ndjson = await call(admin, 'GET', '/api/v1/admin/audit/export?format=ndjson');
    expect(ndjson.statusCode, ndjson.body).toBe(200);
    expect(ndjson.headers['content-type']).toContain('application/x-ndjson');
    const lines = ndjson.body
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as EventView);
    const total = await harness.app.services.audit.treeSize();
    // The export's own audit.exported event was written before the stream started.
    expect(lines).toHaveLength(total);
    expect(lines.map((line) => line.seq)).toEqual([...Array(total).keys()]);
    expect(lines.at(-1)!.name).toBe('audit.exported');

    const csv = await call(admin, 'GET', '/api/v1/admin/audit/export?format=csv&name=test.formula');
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-disposition']).toMatch(/^attachment; filename="gatehouse-audit-.*\.csv"$/);
    const [header, row] = csv.body.trim().split('\n');
    expect(header).toBe(
      'seq,id,time,name,severity,outcome,actorType,actorId,targetType,targetId,organizationId,ip,userAgent,requestId,details',
    );
    expect(row).toContain('test.formula');
    expect(row).not.toMatch(/,"?=HYPERLINK/);

    const cli = await runGatehouse(
      ['audit', 'export', '--format', 'ndjson', '--name', 'test.formula'],
      cliEnv(),
    );
    expect(cli.exitCode, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout.trim()).name).toBe('test.formula');
    expect((await runGatehouse(['audit', 'export', '--format', 'xml'], cliEnv())).exitCode).toBe(2);
  });

  it('refuses, in the database itself, to delete an event or change one other than by pruning it', async () => {
    await settled();
    await expect(sql`update audit_events set details = '{}' where seq = 0`.execute(db())).rejects.toThrow(
      /append-only/,
    );
    await expect(sql`delete from audit_events where seq = 0`.execute(db())).rejects.toThrow(/append-only/);
    await expect(sql`update audit_events set seq = 100000 where seq = 0`.execute(db())).rejects.toThrow(
      /append-only/,
    );
  });

  it('keeps one order when two nodes write at once, and a node shutting down writes what it buffered', async () => {
    const other = await buildTestApp(testDatabase().url, {
      overrides: { audit: { checkpoints: { intervalSeconds: 0 } } },
    });
    // Its start-up records config.changed (its settings differ): settle that first.
    await other.app.services.auditWriter.flush();
    await settled();
    const before = await harness.app.services.audit.treeSize();
    const burst = (node: TestApp, label: string) => {
      for (let index = 0; index < 180; index += 1) {
        node.app.services.events.record({
          name: 'test.burst',
          severity: 'low',
          outcome: 'success',
          details: { node: label, index },
        });
      }
    };
    try {
      burst(harness, 'a');
      burst(other, 'b');
      await Promise.all([harness.app.services.checkpointNow(), other.app.services.checkpointNow()]);
    } finally {
      // No flush first: closing must commit the buffer.
      await other.app.close();
    }
    await settled();
    expect(await harness.app.services.audit.treeSize()).toBe(before + 360);
    const sizes = (await harness.app.services.audit.checkpoints()).map((checkpoint) => checkpoint.treeSize);
    expect(new Set(sizes).size).toBe(sizes.length);
    const report = await harness.app.services.audit.verify();
    expect(report.findings).toEqual([]);
    expect(report.events).toBe(before + 360);
  });

  describe('tampering made directly in SQL is found, and said exactly', () => {
    type Row = Record<string, unknown>;
    const verify = () => harness.app.services.audit.verify();
    const rowAt = async (seq: number) =>
      (await sql<Row>`select * from audit_events where seq = ${seq}`.execute(db())).rows[0]!;
    const reinsert = async (row: Row) => {
      await db()
        .insertInto('audit_events')
        .values(row as never)
        .execute();
    };

    beforeAll(async () => {
      await settled();
      await harness.app.services.checkpointNow();
      expect((await verify()).ok).toBe(true);
      // The attacker owns the database: the append-only triggers go first.
      if (dialect === 'postgres') {
        await sql`alter table audit_events disable trigger user`.execute(db());
      } else {
        await sql`drop trigger audit_events_no_delete`.execute(db());
        await sql`drop trigger audit_events_prune_only`.execute(db());
      }
    });

    it('reports OK with the count when nothing was touched', async () => {
      const report = await verify();
      expect(report).toMatchObject({ ok: true, findings: [] });
      expect(report.events).toBe(await harness.app.services.audit.treeSize());
      const cli = await runGatehouse(['audit', 'verify'], cliEnv());
      expect(cli.exitCode, cli.stderr).toBe(0);
      expect(cli.stdout).toMatch(new RegExp(`^OK: ${report.events} events, \\d+ checkpoints`));
    });

    it('an edited event', async () => {
      const row = await rowAt(3);
      await sql`update audit_events set ip = '192.0.2.1' where seq = 3`.execute(db());
      const report = await verify();
      expect(report.ok).toBe(false);
      expect(report.findings).toContainEqual(
        expect.objectContaining({ kind: 'changed', seq: 3, id: row.id }),
      );
      const cli = await runGatehouse(['audit', 'verify'], cliEnv());
      expect(cli.exitCode).toBe(1);
      expect(cli.stdout).toContain(`changed: event ${row.id} (position 3`);
      await sql`update audit_events set ip = ${row.ip} where seq = 3`.execute(db());
      expect((await verify()).ok).toBe(true);
    });

    it('an edited event whose hash was recomputed too', async () => {
      const row = await rowAt(4);
      const { leafData } = await import('../src/platform/audit/leaf.js');
      const { leafHash, toHex } = await import('../src/platform/audit/merkle.js');
      const forgedDetails = '{"forged":true}';
      const leaf = toHex(
        leafHash(
          leafData(
            {
              id: row.id as string,
              time: Number(row.time),
              name: row.name as string,
              severity: row.severity as 'low',
              outcome: row.outcome as 'success',
              actorType: row.actor_type as 'user',
              actorId: row.actor_id as string | null,
              targetType: row.target_type as string | null,
              targetId: row.target_id as string | null,
              organizationId: row.organization_id as string | null,
              ip: row.ip as string | null,
              userAgent: row.user_agent as string | null,
              requestId: row.request_id as string | null,
            },
            forgedDetails,
          ),
        ),
      );
      await sql`update audit_events set details = ${forgedDetails}, leaf_hash = ${leaf} where seq = 4`.execute(
        db(),
      );
      const report = await verify();
      expect(report.findings).toContainEqual(
        expect.objectContaining({ kind: 'inserted', seq: 4, id: row.id }),
      );
      expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'checkpoint_mismatch' }));
      await sql`update audit_events set details = ${row.details}, leaf_hash = ${row.leaf_hash} where seq = 4`.execute(
        db(),
      );
      expect((await verify()).ok).toBe(true);
    });

    it('a deleted event', async () => {
      const row = await rowAt(5);
      await sql`delete from audit_events where seq = 5`.execute(db());
      const report = await verify();
      expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'deleted', seq: 5 }));
      await reinsert(row);
      expect((await verify()).ok).toBe(true);
    });

    it('events deleted from the end', async () => {
      const size = await harness.app.services.audit.treeSize();
      const last = await rowAt(size - 1);
      await sql`delete from audit_events where seq = ${size - 1}`.execute(db());
      const report = await verify();
      expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'truncated' }));
      await reinsert(last);
      expect((await verify()).ok).toBe(true);
    });

    it('an inserted event', async () => {
      const size = await harness.app.services.audit.treeSize();
      const template = await rowAt(2);
      const id = '01900000-0000-7000-8000-000000000000';
      await reinsert({ ...template, seq: size, id });
      const report = await verify();
      expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'inserted', seq: size, id }));
      await sql`delete from audit_events where seq = ${size}`.execute(db());
      expect((await verify()).ok).toBe(true);
    });

    it('two events swapped', async () => {
      const [a, b] = [await rowAt(6), await rowAt(7)];
      await sql`update audit_events set seq = -1 where seq = 6`.execute(db());
      await sql`update audit_events set seq = 6 where seq = 7`.execute(db());
      await sql`update audit_events set seq = 7 where seq = -1`.execute(db());
      const report = await verify();
      expect(report.findings).toContainEqual(
        expect.objectContaining({ kind: 'reordered', seq: 6, id: b.id }),
      );
      expect(report.findings).toContainEqual(
        expect.objectContaining({ kind: 'reordered', seq: 7, id: a.id }),
      );
      await sql`update audit_events set seq = -1 where seq = 6`.execute(db());
      await sql`update audit_events set seq = 6 where seq = 7`.execute(db());
      await sql`update audit_events set seq = 7 where seq = -1`.execute(db());
      expect((await verify()).ok).toBe(true);
    });

    it('content pruned before its retention ended', async () => {
      const row = await rowAt(8);
      await sql`update audit_events set details = null, ip = null, pruned_at = ${clock.now()} where seq = 8`.execute(
        db(),
      );
      expect((await verify()).findings).toContainEqual(
        expect.objectContaining({ kind: 'pruned_early', seq: 8, id: row.id }),
      );
      await sql`update audit_events set details = ${row.details}, ip = ${row.ip}, pruned_at = null where seq = 8`.execute(
        db(),
      );
      expect((await verify()).ok).toBe(true);
    });
  });

  it('retention clears old low-severity content and the log still verifies', async () => {
    await settled();
    const before = (await search('severity=low&limit=1')).events[0]!;
    clock.advance(31 * DAY);
    const kept = await harness.app.services.events.recordDurably({
      name: 'test.after',
      severity: 'low',
      outcome: 'success',
      details: { fresh: true },
    });
    expect(kept).toBeUndefined();
    const counts = await harness.app.services.housekeeping.runOnce();
    expect(counts.audit_retention).toBeGreaterThan(0);
    const pruned = await db()
      .selectFrom('audit_events')
      .selectAll()
      .where('id', '=', before.id)
      .executeTakeFirstOrThrow();
    expect(pruned).toMatchObject({ details: null, ip: null, user_agent: null, name: before.name });
    const medium = await db()
      .selectFrom('audit_events')
      .select(['details'])
      .where('severity', '=', 'medium')
      .where('pruned_at', 'is', null)
      .execute();
    expect(medium.length).toBeGreaterThan(0);
    const fresh = await db()
      .selectFrom('audit_events')
      .select(['details', 'pruned_at'])
      .where('name', '=', 'test.after')
      .executeTakeFirstOrThrow();
    expect(fresh.pruned_at).toBeNull();
    const report = await harness.app.services.audit.verify();
    expect(report.findings).toEqual([]);
  });
});

describe('audit forwarding from a running app', () => {
  it('posts each new checkpoint to the checkpoint webhook, outside the database', async () => {
    const { createServer } = await import('node:http');
    const { createTestDatabase } = await import('./helpers/dialects.js');
    const posted: Record<string, unknown>[] = [];
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      request.on('end', () => {
        posted.push(JSON.parse(body) as Record<string, unknown>);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as import('node:net').AddressInfo;
    const database = await createTestDatabase('sqlite');
    const harness = await buildTestApp(database.url, {
      overrides: {
        audit: {
          checkpoints: { intervalSeconds: 0, exportWebhookUrl: `http://127.0.0.1:${port}/checkpoints` },
        },
      },
    });
    try {
      await harness.app.services.events.recordDurably({
        name: 'test.one',
        severity: 'low',
        outcome: 'success',
      });
      await harness.app.services.checkpointNow();
      const [stored] = await harness.app.services.audit.checkpoints();
      expect(posted).toEqual([stored]);
      expect(stored).toMatchObject({ treeSize: expect.any(Number), keyId: 'k0' });
    } finally {
      await harness.app.close();
      server.close();
      await database.drop();
    }
  });

  it('sends each committed event to a syslog collector as RFC 5424', async () => {
    const { createSocket } = await import('node:dgram');
    const { createTestDatabase } = await import('./helpers/dialects.js');
    const collector = createSocket('udp4');
    const received: string[] = [];
    collector.on('message', (message) => received.push(message.toString('utf8')));
    await new Promise<void>((resolve) => collector.bind(0, '127.0.0.1', resolve));
    const database = await createTestDatabase('sqlite');
    const harness = await buildTestApp(database.url, {
      overrides: {
        audit: {
          forwarding: {
            syslog: { enabled: true, port: collector.address().port, protocol: 'udp', hostname: 'node-1' },
          },
        },
      },
    });
    try {
      await harness.app.services.events.recordDurably({
        name: 'security.ip.blocked',
        severity: 'high',
        outcome: 'success',
        ip: '198.51.100.7',
        details: { value: '198.51.100.0/24' },
      });
      await vi.waitFor(() =>
        expect(received.some((line) => line.includes('security.ip.blocked'))).toBe(true),
      );
      const line = received.find((entry) => entry.includes('security.ip.blocked'))!;
      // authpriv (10) * 8 + err (3) = 83.
      expect(line).toMatch(
        /^<83>1 \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z node-1 gatehouse \S+ security\.ip\.blocked \[gatehouse@32473 /,
      );
      expect(line).toContain('ip="198.51.100.7"');
      expect(line).toContain('198.51.100.0/24');
    } finally {
      await harness.app.close();
      collector.close();
      await database.drop();
    }
  });
});
