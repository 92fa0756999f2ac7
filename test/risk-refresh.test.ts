import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TEST_PASSWORD } from './helpers/accounts.js';
import { listenTestApp, type TestApp } from './helpers/app.js';
import { FakeClock } from './helpers/clock.js';
import { describeEachDialect } from './helpers/dialects.js';
import { BrowserlessAgent } from './helpers/oidc.js';

const REDIRECT_URI = 'https://phone.example.com/callback';
const LONDON = '81.2.69.160';
const MOUNTAIN_VIEW = '8.8.8.8';

describeEachDialect('risk on token refresh', (testDatabase, dialect) => {
  let harness: TestApp & { baseUrl: string };
  const clock = new FakeClock(Date.UTC(2026, 10, 23, 9));

  beforeAll(async () => {
    // Behind a proxy that says where each request comes from (X-Forwarded-For).
    harness = await listenTestApp(testDatabase().url, { server: { trustProxy: true } }, clock);
  });

  afterAll(async () => {
    await harness?.app.close();
  });

  const token = (form: Record<string, string>, from: string) =>
    fetch(`${harness.baseUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': from },
      body: new URLSearchParams(form),
    });

  it("refuses a public client's refresh from an impossible place, and keeps the grant from going on", async () => {
    const email = `phone-${dialect}@example.com`;
    const created = await harness.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email, password: TEST_PASSWORD },
    });
    const userId = created.json().user.id as string;
    const { client } = await harness.app.services.clients.create(
      {
        name: 'Phone app',
        grants: ['authorization_code', 'refresh_token'],
        redirectUris: [REDIRECT_URI],
        public: true,
        firstParty: true,
        scopes: ['openid', 'offline_access'],
      },
      {},
    );
    const verifier = randomBytes(32).toString('base64url');
    const url = new URL(`${harness.baseUrl}/oauth2/authorize`);
    for (const [name, value] of Object.entries({
      client_id: client.id,
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid offline_access',
      prompt: 'consent',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    })) {
      url.searchParams.set(name, value);
    }
    const { callback } = await new BrowserlessAgent(harness.baseUrl).authorize(
      url,
      { email, password: TEST_PASSWORD },
      'Phone app',
    );
    const code = callback.searchParams.get('code');
    expect(code, callback.toString()).toBeTruthy();
    const issued = await token(
      {
        grant_type: 'authorization_code',
        client_id: client.id,
        code: code!,
        redirect_uri: REDIRECT_URI,
        code_verifier: verifier,
      },
      LONDON,
    );
    expect(issued.status).toBe(200);
    const first = (await issued.json()) as { refresh_token: string };

    // The phone refreshes from London: fine.
    const near = await token(
      { grant_type: 'refresh_token', client_id: client.id, refresh_token: first.refresh_token },
      LONDON,
    );
    expect(near.status, await near.clone().text()).toBe(200);
    const second = (await near.json()) as { refresh_token: string };

    // Ten minutes later the same grant refreshes from California.
    clock.advance(600_000);
    const far = await token(
      { grant_type: 'refresh_token', client_id: client.id, refresh_token: second.refresh_token },
      MOUNTAIN_VIEW,
    );
    expect(
      far.status,
      JSON.stringify(await harness.app.services.risk.history(userId, { limit: 5, offset: 0 })),
    ).toBe(400);
    expect(((await far.json()) as { error: string }).error).toBe('invalid_grant');
    const history = await harness.app.services.risk.history(userId, { limit: 5, offset: 0 });
    expect(history[0]).toMatchObject({
      method: 'refresh',
      outcome: 'refused',
      action: 'deny',
      country: 'US',
    });
    expect(history[0]!.reasons).toContain('impossibleTravel');
    // The refresh token it spent cannot be tried again.
    const retried = await token(
      { grant_type: 'refresh_token', client_id: client.id, refresh_token: second.refresh_token },
      LONDON,
    );
    expect(retried.status).toBe(400);
  });
});
