import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGatehouse } from './helpers/cli.js';
import { type Cluster, type ClusterNode, startCluster, waitForOutput } from './helpers/cluster.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from './helpers/dialects.js';
import { BrowserlessAgent } from './helpers/oidc.js';

const PASSWORD = 'violet-harbor-lantern-42';
const USER_AGENT = 'cluster-test/1.0';
const REDIRECT_URI = 'https://app.example.com/callback';

interface Answer {
  status: number;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: a test reads whatever the API answered
  json(): any;
  headers: Headers;
}

/** The cluster's public address: browsers send it as Origin whichever node answers. */
let publicOrigin = '';

/** One HTTP call to a node (or the proxy) from a given client address, as a browser or script would make it. */
async function call(
  base: string,
  method: string,
  path: string,
  options: { json?: unknown; ip: string; headers?: Record<string, string> },
): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    redirect: 'manual',
    headers: {
      'user-agent': USER_AGENT,
      'x-forwarded-for': options.ip,
      ...(options.json !== undefined ? { 'content-type': 'application/json', origin: publicOrigin } : {}),
      ...options.headers,
    },
    ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {}),
  });
  const body = await response.text();
  return { status: response.status, body, headers: response.headers, json: () => JSON.parse(body) };
}

/** Signs in on one node; the session works on every node (it lives in the database, not the process). */
async function signIn(node: ClusterNode, email: string, ip: string) {
  const login = await call(node.url, 'POST', '/api/v1/auth/login', {
    ip,
    json: { email, password: PASSWORD },
  });
  expect(login.status, login.body).toBe(200);
  const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
  return { cookie, 'x-csrf-token': login.json().csrfToken as string };
}

/**
 * Three Gatehouse processes on one PostgreSQL and one Redis behind a round-robin proxy: what one node does,
 * every other node sees at once, and losing a node loses nothing it acknowledged.
 */
describe('a cluster of three nodes behind a load balancer', () => {
  let database: TestDatabase;
  let cluster: Cluster;
  let a: ClusterNode;
  let b: ClusterNode;
  let c: ClusterNode;
  let adminHeaders: Record<string, string>;
  const adminIp = '192.0.2.10';

  const signUp = async (base: string, email: string, ip: string) => {
    const created = await call(base, 'POST', '/api/v1/auth/signup', {
      ip,
      json: { email, password: PASSWORD },
    });
    expect(created.status, created.body).toBe(201);
    return created.json().user.id as string;
  };

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    cluster = await startCluster({
      nodes: 3,
      databaseUrl: database.url,
      redisUrl: TEST_REDIS_URL,
      env: {
        // A spent refresh token is refused at once, whichever node it is presented to.
        GATEHOUSE__OIDC__REFRESH_TOKEN_REUSE_GRACE_SECONDS: '0',
        // Housekeeping every two seconds, looked for every half second, so "runs once" is seen quickly.
        GATEHOUSE__JOBS__SCHEDULES__HOUSEKEEPING__CRON: '*/2 * * * * *',
        GATEHOUSE__JOBS__SCHEDULER_TICK_MS: '500',
      },
    });
    publicOrigin = cluster.url;
    [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];

    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-cluster-cli-'));
    try {
      const created = await runGatehouse(
        ['admin', 'create', '--email', 'admin@cluster.example', '--password-stdin'],
        { ...cluster.env, GATEHOUSE_DATA_DIR: dataDir },
        PASSWORD,
      );
      expect(created.exitCode, created.stderr).toBe(0);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
    adminHeaders = await signIn(a, 'admin@cluster.example', adminIp);
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
    await database?.drop();
  });

  it('serves every node through the proxy, all ready', async () => {
    for (const node of cluster.nodes) {
      const ready = await call(node.url, 'GET', '/health/ready', { ip: '192.0.2.1' });
      expect(ready.status, `${node.name}: ${ready.body}`).toBe(200);
    }
    const seen = new Set<string>();
    for (let index = 0; index < 6; index++) {
      const live = await call(cluster.url, 'GET', '/health/live', { ip: '192.0.2.1' });
      expect(live.status).toBe(200);
      seen.add(live.headers.get('x-served-by')!);
    }
    expect([...seen].sort()).toEqual(['node-a', 'node-b', 'node-c']);
  });

  it('rejects on node B, at once, a session signed out on node A', async () => {
    const ip = '192.0.2.20';
    await signUp(a.url, 'session@cluster.example', ip);
    const session = await signIn(a, 'session@cluster.example', ip);
    // Node B has seen (and may cache) the session before it ends.
    expect((await call(b.url, 'GET', '/api/v1/me', { ip, headers: session })).status).toBe(200);
    expect((await call(c.url, 'GET', '/api/v1/me', { ip, headers: session })).status).toBe(200);
    const out = await call(a.url, 'POST', '/api/v1/auth/logout', { ip, headers: session });
    expect(out.status, out.body).toBe(204);
    expect((await call(b.url, 'GET', '/api/v1/me', { ip, headers: session })).status).toBe(401);
    expect((await call(c.url, 'GET', '/api/v1/me', { ip, headers: session })).status).toBe(401);
  });

  it('shares one rate-limit budget across nodes', async () => {
    // The sign-in budget is per client address: 10 a minute and a burst of 3 by default, on any node.
    const ip = '192.0.2.30';
    const statuses: number[] = [];
    for (let index = 0; index < 20; index++) {
      const node = cluster.nodes[index % 2]!;
      const asked = await call(node.url, 'POST', '/api/v1/auth/password-reset/request', {
        ip,
        json: { email: 'nobody@cluster.example' },
      });
      statuses.push(asked.status);
    }
    const allowed = statuses.filter((status) => status !== 429);
    expect(allowed, statuses.join(' ')).toHaveLength(13);
    // Both nodes refused once the shared budget was spent.
    expect(statuses.slice(13).every((status) => status === 429)).toBe(true);
    expect(statuses.slice(13).length).toBeGreaterThanOrEqual(2);
  });

  it('applies on node B, at once, a role given and taken on node A', async () => {
    const userId = await signUp(a.url, 'roles@cluster.example', '192.0.2.40');
    const check = async (node: ClusterNode) => {
      const decided = await call(node.url, 'POST', '/api/v1/authz/check', {
        ip: adminIp,
        headers: adminHeaders,
        json: { subject: { type: 'user', id: userId }, action: 'security:read' },
      });
      expect(decided.status, decided.body).toBe(200);
      return decided.json().allowed as boolean;
    };
    expect(await check(b)).toBe(false);
    const given = await call(a.url, 'PUT', `/api/v1/admin/users/${userId}/roles/auditor`, {
      ip: adminIp,
      headers: adminHeaders,
    });
    expect(given.status, given.body).toBe(204);
    expect(await check(b)).toBe(true);
    expect(await check(c)).toBe(true);
    const taken = await call(a.url, 'DELETE', `/api/v1/admin/users/${userId}/roles/auditor`, {
      ip: adminIp,
      headers: adminHeaders,
    });
    expect(taken.status, taken.body).toBe(204);
    expect(await check(b)).toBe(false);
  });

  it('signs in through the proxy (any node per request) and refuses on node B a refresh token rotated on node A', async () => {
    await signUp(a.url, 'oauth@cluster.example', '192.0.2.50');
    const registered = await call(a.url, 'POST', '/api/v1/admin/clients', {
      ip: adminIp,
      headers: adminHeaders,
      json: {
        name: 'Cluster app',
        grants: ['authorization_code', 'refresh_token'],
        redirectUris: [REDIRECT_URI],
        firstParty: true,
      },
    });
    expect(registered.status, registered.body).toBe(201);
    const { client, secret } = registered.json();
    const discovered = await oidc.discovery(new URL(cluster.url), client.id, secret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    // The authorization request, the sign-in form and the consent each land on whichever node is next.
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(discovered, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid offline_access',
      prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const { callback, step } = await new BrowserlessAgent(cluster.url).authorize(
      url,
      { email: 'oauth@cluster.example', password: PASSWORD },
      'Cluster app',
    );
    expect(callback.origin + callback.pathname, JSON.stringify(step).slice(0, 500)).toBe(REDIRECT_URI);
    const tokens = await oidc.authorizationCodeGrant(discovered, callback, { pkceCodeVerifier: verifier });
    expect(tokens.refresh_token).toBeTruthy();

    // The token endpoint of one chosen node, instead of the proxy's.
    const onNode = (node: ClusterNode) => {
      const config = oidc.discovery(new URL(cluster.url), client.id, secret, undefined, {
        execute: [oidc.allowInsecureRequests],
      });
      return config.then((configuration) => {
        configuration[oidc.customFetch] = (target, init) =>
          fetch(new URL(new URL(target).pathname, node.url), init as RequestInit);
        return configuration;
      });
    };
    const rotated = await oidc.refreshTokenGrant(await onNode(a), tokens.refresh_token!);
    expect(rotated.refresh_token).toBeTruthy();
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    await expect(oidc.refreshTokenGrant(await onNode(b), tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    // Reuse of a spent token ends the family everywhere: the rotated token is refused on node C too.
    await expect(oidc.refreshTokenGrant(await onNode(c), rotated.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('locks an account after failed passwords spread over every node', async () => {
    const ip = '192.0.2.70';
    await signUp(a.url, 'lockout@cluster.example', ip);
    // Five wrong passwords in a row lock the account by default, wherever they land.
    for (let attempt = 0; attempt < 5; attempt++) {
      const node = cluster.nodes[attempt % 3]!;
      const refused = await call(node.url, 'POST', '/api/v1/auth/login', {
        ip,
        json: { email: 'lockout@cluster.example', password: `wrong-${attempt}-harbor-lantern` },
      });
      expect(refused.status, refused.body).toBe(401);
    }
    const locked = await call(b.url, 'POST', '/api/v1/auth/login', {
      ip,
      json: { email: 'lockout@cluster.example', password: PASSWORD },
    });
    // A locked account answers like a wrong password (nothing to learn about accounts), even the right one.
    expect(locked.status, locked.body).toBe(401);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ locked_until: string | null }>(
        `select locked_until from users where email = 'lockout@cluster.example'`,
      );
      expect(Number(rows[0]!.locked_until)).toBeGreaterThan(Date.now());
    } finally {
      await client.end();
    }
  });

  it('sees one password tried on many accounts as stuffing, though each node saw it only once', async () => {
    const victims = ['stuffed-1', 'stuffed-2', 'stuffed-3'];
    const ids: string[] = [];
    for (const [index, name] of victims.entries())
      ids.push(await signUp(a.url, `${name}@cluster.example`, `192.0.2.9${index}`));
    // One leaked password against three accounts, from three addresses, one attempt per node.
    for (const [index, name] of victims.entries()) {
      const refused = await call(cluster.nodes[index]!.url, 'POST', '/api/v1/auth/login', {
        ip: `203.0.113.${index + 1}`,
        json: { email: `${name}@cluster.example`, password: 'leaked-password-from-elsewhere-1' },
      });
      expect(refused.status, refused.body).toBe(401);
    }
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ reasons: string }>(
        `select reasons from security_sign_ins where user_id = $1 and outcome = 'failed'`,
        [ids[2]],
      );
      // The third attempt counts three accounts for that password: the count is in Redis, not in a node.
      expect(rows.map((row) => JSON.parse(row.reasons))).toContainEqual(
        expect.arrayContaining(['passwordManyAccounts']),
      );
    } finally {
      await client.end();
    }
  });

  it('publishes and signs with keys rotated from the command line on every node at once', async () => {
    const kids = async (node: ClusterNode) =>
      (await call(node.url, 'GET', '/oauth2/jwks', { ip: '192.0.2.80' }))
        .json()
        .keys.map((key: { kid: string }) => key.kid) as string[];
    const before = await kids(b);
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-cluster-cli-'));
    try {
      const rotated = await runGatehouse(['keys', 'rotate'], { ...cluster.env, GATEHOUSE_DATA_DIR: dataDir });
      expect(rotated.exitCode, rotated.stderr).toBe(0);
      const fresh = /new signing keys: ([^;]+);/.exec(rotated.stdout)![1]!.split(', ');
      for (const node of cluster.nodes) {
        // Each node reloads its keys when the rotation's message reaches it (or within a minute without Redis).
        await waitForOutput(
          node,
          new RegExp(`signing keys reloaded.*${fresh[0]}|${fresh[0]}.*signing keys reloaded`),
        );
        const published = await kids(node);
        expect(published, node.name).toEqual(expect.arrayContaining([...fresh, ...before]));
      }
      // An ID token signed on node C after the rotation carries one of the new keys.
      const created = await runGatehouse(
        ['clients', 'create', '--name', 'Keys app', '--grant', 'client_credentials', '--json'],
        { ...cluster.env, GATEHOUSE_DATA_DIR: dataDir },
      );
      expect(created.exitCode, created.stderr).toBe(0);
      const { client, secret } = JSON.parse(created.stdout);
      const issued = await fetch(`${c.url}/oauth2/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${client.id}:${secret}`).toString('base64')}`,
        },
        body: 'grant_type=client_credentials',
      });
      expect(issued.status).toBe(200);
      const token = ((await issued.json()) as { access_token: string }).access_token;
      if (token.split('.').length === 3) {
        const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString());
        expect(fresh).toContain(header.kid);
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('runs each scheduled task once, whichever nodes look for it', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const housekeeping = async () =>
        (
          await client.query<{
            idempotency_key: string;
            status: string;
            attempts: number;
            locked_by: string;
          }>(`select idempotency_key, status, attempts, locked_by from jobs where type = 'housekeeping.run'`)
        ).rows;
      // Wait (bounded by the test timeout) until three runs have finished; each is due every two seconds.
      let rows = await housekeeping();
      while (rows.filter((row) => row.status === 'succeeded').length < 3) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        rows = await housekeeping();
      }
      const slots = rows.map((row) => row.idempotency_key);
      expect(new Set(slots).size, slots.join(' ')).toBe(slots.length);
      for (const row of rows.filter((entry) => entry.status === 'succeeded')) expect(row.attempts).toBe(1);
      const runs = (
        await client.query<{ count: string }>(
          `select count(*) as count from job_schedules where name = 'housekeeping'`,
        )
      ).rows[0]!;
      expect(Number(runs.count)).toBe(1);
    } finally {
      await client.end();
    }
  });

  it('loses no acknowledged write when a node is killed mid-traffic, and the others keep serving', async () => {
    const acknowledged: string[] = [];
    const failed: number[] = [];
    let sent = 0;
    const killAt = 24;
    let killed: Promise<number | null> | undefined;
    // Four clients writing at once, each sign-up from its own address (the sign-up budget is per address).
    const worker = async (lane: number) => {
      for (let index = lane; index < 80; index += 4) {
        sent++;
        if (sent === killAt) {
          c.child.kill('SIGKILL');
          killed = c.exited;
        }
        const email = `load-${index}@cluster.example`;
        const answer = await call(cluster.url, 'POST', '/api/v1/auth/signup', {
          ip: `198.18.${lane}.${index}`,
          json: { email, password: PASSWORD },
        });
        if (answer.status === 201) acknowledged.push(answer.json().user.id);
        else failed.push(answer.status);
      }
    };
    await Promise.all([0, 1, 2, 3].map(worker));
    await killed;
    // Only requests node C was holding when it died may fail (502 from the proxy, as HAProxy answers).
    expect(failed.every((status) => status === 502)).toBe(true);
    expect(failed.length).toBeLessThanOrEqual(4);
    expect(acknowledged.length).toBeGreaterThanOrEqual(76);

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const stored = await client.query<{ id: string }>(`select id from users where id = any($1)`, [
        acknowledged,
      ]);
      expect(stored.rows.map((row) => row.id).sort()).toEqual([...acknowledged].sort());
    } finally {
      await client.end();
    }
    // After the kill the proxy sends everything to A and B, which answer.
    const after = cluster.proxy.answeredBy.slice(-20);
    expect(after).not.toContain('node-c');
    for (let index = 0; index < 4; index++) {
      const me = await call(cluster.url, 'GET', '/health/ready', { ip: '192.0.2.60' });
      expect(me.status).toBe(200);
      expect(['node-a', 'node-b']).toContain(me.headers.get('x-served-by'));
    }
  });
});
