import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { type Measurement, measure, round, type Scenario, startGatehouse } from '../harness.js';

/** The same engine with its in-memory adapter and nothing of Gatehouse around it: the ceiling. */
async function startBareEngine(
  clientId: string,
  clientSecret: string,
): Promise<{ server: Server; url: string }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(url, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
    ],
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      devInteractions: { enabled: false },
    },
  });
  server.on('request', provider.callback());
  return { server, url };
}

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function token(url: string, authorization: string): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  if (response.status !== 200)
    throw new Error(`token request failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** Token issuance and introspection: Gatehouse (oidc-provider on its SQLite storage) vs the bare engine. */
export const oidcThroughput: Scenario = {
  name: 'oidc-throughput',
  description:
    'client_credentials tokens/s and introspections/s on Gatehouse (default SQLite storage) vs a bare oidc-provider with its in-memory adapter',
  async run(settings) {
    const gatehouse = await startGatehouse();
    const { client, secret } = await gatehouse.app.services.clients.create(
      { name: 'bench', grants: ['client_credentials'] },
      {},
    );
    const bare = await startBareEngine('bench-client', 'bench-secret-0123456789abcdefghij');
    const common = {
      connections: settings.connections,
      duration: settings.durationSeconds,
      warmupSeconds: settings.warmupSeconds,
    };
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    try {
      const gatehouseAuth = basic(client.id, secret!);
      const bareAuth = basic('bench-client', 'bench-secret-0123456789abcdefghij');
      const results: Measurement[] = [];
      results.push(
        await measure('bare engine: client_credentials', {
          url: `${bare.url}/token`,
          method: 'POST',
          headers: { ...form, authorization: bareAuth },
          body: 'grant_type=client_credentials',
          ...common,
        }),
        await measure('gatehouse: client_credentials', {
          url: `${gatehouse.url}/oauth2/token`,
          method: 'POST',
          headers: { ...form, authorization: gatehouseAuth },
          body: 'grant_type=client_credentials',
          ...common,
        }),
      );
      const bareToken = await token(`${bare.url}/token`, bareAuth);
      const gatehouseToken = await token(`${gatehouse.url}/oauth2/token`, gatehouseAuth);
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
      const [bareTokens, ghTokens, bareIntrospect, ghIntrospect] = results as [
        Measurement,
        Measurement,
        Measurement,
        Measurement,
      ];
      return {
        measurements: results,
        figures: {
          'client_credentials ratio gatehouse/bare': round(
            ghTokens.requestsPerSecond.mean / bareTokens.requestsPerSecond.mean,
            2,
          ),
          'introspection ratio gatehouse/bare': round(
            ghIntrospect.requestsPerSecond.mean / bareIntrospect.requestsPerSecond.mean,
            2,
          ),
        },
        notes: [
          'Every target and autocannon share one process on a 2-core machine; the ratio is the point.',
          'Gatehouse stores every token in its database (SQLite here, WAL); the bare engine keeps them in memory, which no multi-node deployment can.',
          'userinfo is not measured yet.',
        ],
      };
    } finally {
      await gatehouse.stop();
      await new Promise((resolve) => bare.server.close(resolve));
    }
  },
};
