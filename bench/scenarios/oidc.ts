import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { BrowserlessAgent } from '../../test/helpers/oidc.js';
import {
  type Measurement,
  measure,
  round,
  type Scenario,
  type StartedGatehouse,
  startGatehouse,
} from '../harness.js';

const MACHINE = { id: 'bench-client', secret: 'bench-secret-0123456789abcdefghij' };
const WEB = { id: 'bench-web', secret: 'bench-web-secret-0123456789abcdefg' };
const SCOPE = 'openid email profile';

/** The same engine with its in-memory adapter and nothing of Gatehouse around it: the ceiling. */
async function startBareEngine(): Promise<{ server: Server; url: string; userinfoToken(): Promise<string> }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(url, {
    clients: [
      {
        client_id: MACHINE.id,
        client_secret: MACHINE.secret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
      { client_id: WEB.id, client_secret: WEB.secret, redirect_uris: ['https://app.example.com/callback'] },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    findAccount: (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, email: 'bench@example.com', email_verified: true, name: 'Bench' }),
    }),
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      devInteractions: { enabled: false },
    },
  });
  server.on('request', provider.callback());
  /**
   * A user's access token, minted as the code flow would leave it (a grant with the OpenID scopes). Minted just
   * before use: the in-memory adapter keeps only the last 1,000 artefacts.
   */
  async function userinfoToken(): Promise<string> {
    const client = await provider.Client.find(WEB.id);
    const grant = new provider.Grant({ accountId: 'bench-user', clientId: WEB.id });
    grant.addOIDCScope(SCOPE);
    const grantId = await grant.save();
    return new provider.AccessToken({
      accountId: 'bench-user',
      client: client!,
      grantId,
      gty: 'authorization_code',
      scope: SCOPE,
    }).save();
  }
  return { server, url, userinfoToken };
}

/** A user's access token from Gatehouse, through its real sign-in pages and token endpoint. */
export async function signInForToken(gatehouse: StartedGatehouse): Promise<string> {
  const email = 'bench-user@example.com';
  const password = 'bench-violet-harbor-lantern-42';
  const signup = await fetch(`${gatehouse.url}/api/v1/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password, name: 'Bench' }),
  });
  if (signup.status !== 201) throw new Error(`signup failed: ${signup.status} ${await signup.text()}`);
  const redirectUri = 'https://app.example.com/callback';
  const { client, secret } = await gatehouse.app.services.clients.create(
    { name: 'Bench web', grants: ['authorization_code'], redirectUris: [redirectUri], firstParty: true },
    {},
  );
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL(`${gatehouse.url}/oauth2/authorize`);
  for (const [name, value] of Object.entries({
    client_id: client.id,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: SCOPE,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  })) {
    authorize.searchParams.set(name, value);
  }
  const { callback } = await new BrowserlessAgent(gatehouse.url).authorize(
    authorize,
    { email, password },
    'Bench web',
  );
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code in ${callback}`);
  const response = await fetch(`${gatehouse.url}/oauth2/token`, {
    method: 'POST',
    headers: {
      authorization: basic(client.id, secret!),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }).toString(),
  });
  if (response.status !== 200) throw new Error(`code exchange failed: ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function machineToken(url: string, authorization: string): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  if (response.status !== 200)
    throw new Error(`token request failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** Token issuance, introspection and userinfo: Gatehouse (oidc-provider on its SQLite storage) vs the bare engine. */
export const oidcThroughput: Scenario = {
  name: 'oidc-throughput',
  description:
    'client_credentials tokens/s, introspections/s and userinfo/s on Gatehouse (default SQLite storage) vs a bare oidc-provider with its in-memory adapter',
  async run(settings) {
    const gatehouse = await startGatehouse();
    const bare = await startBareEngine();
    const common = {
      connections: settings.connections,
      duration: settings.durationSeconds,
      warmupSeconds: settings.warmupSeconds,
    };
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    try {
      const { client, secret } = await gatehouse.app.services.clients.create(
        { name: 'bench', grants: ['client_credentials'] },
        {},
      );
      const gatehouseAuth = basic(client.id, secret!);
      const bareAuth = basic(MACHINE.id, MACHINE.secret);
      const results: Measurement[] = [];
      const tokenRequest = { method: 'POST' as const, body: 'grant_type=client_credentials' };
      results.push(
        await measure('bare engine: client_credentials', {
          url: `${bare.url}/token`,
          headers: { ...form, authorization: bareAuth },
          ...tokenRequest,
          ...common,
        }),
        await measure('gatehouse: client_credentials', {
          url: `${gatehouse.url}/oauth2/token`,
          headers: { ...form, authorization: gatehouseAuth },
          ...tokenRequest,
          ...common,
        }),
      );
      const bareToken = await machineToken(`${bare.url}/token`, bareAuth);
      const gatehouseToken = await machineToken(`${gatehouse.url}/oauth2/token`, gatehouseAuth);
      results.push(
        await measure('bare engine: introspection', {
          url: `${bare.url}/token/introspection`,
          method: 'POST',
          headers: { ...form, authorization: bareAuth },
          body: `token=${bareToken}`,
          ...common,
        }),
        await measure('gatehouse: introspection', {
          url: `${gatehouse.url}/oauth2/introspect`,
          method: 'POST',
          headers: { ...form, authorization: gatehouseAuth },
          body: `token=${gatehouseToken}`,
          ...common,
        }),
      );
      const userToken = await signInForToken(gatehouse);
      const bareUserToken = await bare.userinfoToken();
      for (const [where, token] of [
        [`${bare.url}/me`, bareUserToken],
        [`${gatehouse.url}/oauth2/userinfo`, userToken],
      ] as const) {
        const check = await fetch(where, { headers: { authorization: `Bearer ${token}` } });
        if (check.status !== 200)
          throw new Error(`userinfo at ${where}: ${check.status} ${check.headers.get('www-authenticate')}`);
      }
      results.push(
        await measure('bare engine: userinfo', {
          url: `${bare.url}/me`,
          headers: { authorization: `Bearer ${bareUserToken}` },
          ...common,
        }),
        await measure('gatehouse: userinfo', {
          url: `${gatehouse.url}/oauth2/userinfo`,
          headers: { authorization: `Bearer ${userToken}` },
          ...common,
        }),
      );
      const ratio = (target: string) => {
        const of = (prefix: string) =>
          results.find((m) => m.target === `${prefix}: ${target}`)!.requestsPerSecond.mean;
        return round(of('gatehouse') / of('bare engine'), 2);
      };
      return {
        measurements: results,
        figures: {
          'client_credentials ratio gatehouse/bare': ratio('client_credentials'),
          'introspection ratio gatehouse/bare': ratio('introspection'),
          'userinfo ratio gatehouse/bare': ratio('userinfo'),
        },
        notes: [
          'Both servers run in this process, one at a time under load; autocannon runs in a worker thread, so on two cores the server has one and the load generator the other.',
          'Gatehouse stores every token in its database (SQLite here, WAL, group commit); the bare engine keeps them in memory, which no multi-node deployment can.',
          "Gatehouse's userinfo token comes from its real sign-in pages and token endpoint; the bare engine's is minted through its models.",
        ],
      };
    } finally {
      await gatehouse.stop();
      await new Promise((resolve) => bare.server.close(resolve));
    }
  },
};
