import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Provider from 'oidc-provider';

/** A person at an upstream provider. */
export interface UpstreamPerson {
  readonly sub: string;
  readonly email?: string;
  readonly email_verified?: boolean;
  readonly name?: string;
  readonly groups?: readonly string[];
}

async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/**
 * A real OpenID provider (a second oidc-provider) on a loopback port, standing in for Google or a company's
 * IdP. Its sign-in page is skipped: whoever the test names with `signInAs` is signed in, and consent is given.
 * It listens on 127.0.0.1 while Gatehouse listens on localhost, so a browser keeps their cookies apart.
 */
export async function startUpstreamOidc(input: {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUris: readonly string[];
  readonly people: readonly UpstreamPerson[];
}) {
  const server = createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  let current: string | undefined;
  const people = new Map(input.people.map((person) => [person.sub, person]));
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: input.clientId,
        client_secret: input.clientSecret,
        redirect_uris: [...input.redirectUris],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    cookies: { keys: ['upstream-test-cookie-key'] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const person = people.get(sub);
      if (!person) return undefined;
      return {
        accountId: sub,
        claims: async () => ({ ...person, groups: person.groups ? [...person.groups] : undefined }),
      };
    },
    // Consent is given for whatever the client asks (the test is about Gatehouse, not this provider).
    async loadExistingGrant(ctx) {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client!.clientId,
        accountId: ctx.oidc.session!.accountId!,
      });
      grant.addOIDCScope('openid email profile groups');
      await grant.save();
      return grant;
    },
  });
  provider.on('server_error', (_ctx, error) => console.error('upstream server_error', error));
  const callback = provider.callback();
  server.on('request', async (request: IncomingMessage, response: ServerResponse) => {
    if (request.url?.startsWith('/interaction/')) {
      try {
        if (!current) throw new Error('the test did not say who signs in upstream');
        await provider.interactionFinished(
          request,
          response,
          { login: { accountId: current } },
          {
            mergeWithLastSubmission: false,
          },
        );
      } catch (error) {
        response.statusCode = 500;
        response.end(String(error));
      }
      return;
    }
    callback(request, response);
  });
  return {
    issuer,
    provider,
    /** Who the next sign-in at this provider is. */
    signInAs(sub: string) {
      current = sub;
    },
    setPerson(person: UpstreamPerson) {
      people.set(person.sub, person);
    },
    close: () => stop(server),
  };
}

/**
 * A small OAuth 2.0 server shaped like GitHub's: `/login/oauth/authorize` (approves at once as the chosen
 * person), `/login/oauth/access_token` (checks the client secret and the PKCE verifier), `/user` and
 * `/user/emails` (GitHub's profile and address list, with `id` numbers and no `sub`).
 */
export async function startGitHubStub(input: { clientId: string; clientSecret: string }) {
  interface GitHubUser {
    id: number;
    login: string;
    name: string | null;
    avatar_url: string;
    emails: { email: string; primary: boolean; verified: boolean }[];
  }
  const users = new Map<number, GitHubUser>();
  const codes = new Map<string, { userId: number; challenge: string; redirectUri: string }>();
  const tokens = new Map<string, number>();
  let current: number | undefined;
  const json = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://stub');
    if (url.pathname === '/login/oauth/authorize') {
      const redirect = new URL(url.searchParams.get('redirect_uri') ?? '');
      if (url.searchParams.get('client_id') !== input.clientId || current === undefined) {
        return json(response, 400, { error: 'bad request' });
      }
      const code = randomBytes(10).toString('hex');
      codes.set(code, {
        userId: current,
        challenge: url.searchParams.get('code_challenge') ?? '',
        redirectUri: redirect.toString(),
      });
      redirect.searchParams.set('code', code);
      redirect.searchParams.set('state', url.searchParams.get('state') ?? '');
      response.writeHead(302, { location: redirect.toString() });
      return response.end();
    }
    if (url.pathname === '/login/oauth/access_token' && request.method === 'POST') {
      let body = '';
      for await (const chunk of request) body += chunk;
      const form = new URLSearchParams(body);
      const grant = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const verifier = form.get('code_verifier') ?? '';
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      if (
        !grant ||
        form.get('client_id') !== input.clientId ||
        form.get('client_secret') !== input.clientSecret ||
        grant.challenge !== challenge
      ) {
        return json(response, 400, { error: 'bad_verification_code' });
      }
      const token = `gho_${randomBytes(16).toString('hex')}`;
      tokens.set(token, grant.userId);
      return json(response, 200, {
        access_token: token,
        token_type: 'bearer',
        scope: 'read:user,user:email',
      });
    }
    const token = /^(?:token|bearer) (.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const user = token ? users.get(tokens.get(token) ?? -1) : undefined;
    if (!user) return json(response, 401, { message: 'Bad credentials' });
    if (url.pathname === '/user') {
      const { emails, ...profile } = user;
      return json(response, 200, { ...profile, email: emails.find((email) => email.primary)?.email ?? null });
    }
    if (url.pathname === '/user/emails') {
      return json(
        response,
        200,
        user.emails.map((email) => ({ ...email, visibility: email.primary ? 'public' : null })),
      );
    }
    return json(response, 404, { message: 'Not Found' });
  });
  const port = await listen(server);
  const base = `http://127.0.0.1:${port}`;
  return {
    endpoints: {
      authorization: `${base}/login/oauth/authorize`,
      token: `${base}/login/oauth/access_token`,
      userinfo: `${base}/user`,
      emails: `${base}/user/emails`,
    },
    addUser(user: GitHubUser) {
      users.set(user.id, user);
    },
    signInAs(id: number) {
      current = id;
    },
    close: () => stop(server),
  };
}
