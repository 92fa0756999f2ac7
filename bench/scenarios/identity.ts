import { hash } from '@node-rs/argon2';
import { measure, round, type Scenario, type StartedGatehouse, startGatehouse } from '../harness.js';

const PASSWORD = 'bench-password-correct-horse-77';
const USERS = 100;

async function createUsers(gatehouse: StartedGatehouse, count: number): Promise<string[]> {
  const emails = Array.from({ length: count }, (_, index) => `bench-${index}@example.com`);
  for (let start = 0; start < emails.length; start += 4) {
    await Promise.all(
      emails.slice(start, start + 4).map(async (email) => {
        const response = await fetch(`${gatehouse.url}/api/v1/auth/signup`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, password: PASSWORD }),
        });
        if (response.status !== 201)
          throw new Error(`signup failed: ${response.status} ${await response.text()}`);
      }),
    );
  }
  return emails;
}

/** argon2id hashes per second at the default parameters, as many at once as libuv has threads. */
async function rawHashRate(seconds: number): Promise<number> {
  const options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const until = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: threads }, async () => {
      while (performance.now() < until) {
        await hash(PASSWORD, options);
        done++;
      }
    }),
  );
  return done / seconds;
}

const loginRequests = (emails: readonly string[]) => {
  let next = 0;
  return [
    {
      method: 'POST',
      path: '/api/v1/auth/login',
      headers: { 'content-type': 'application/json' },
      setupRequest: (request: Record<string, unknown>) => {
        const email = emails[next++ % emails.length];
        return { ...request, body: JSON.stringify({ email, password: PASSWORD }) };
      },
    },
  ];
};

/** Password sign-ins at OWASP argon2id parameters, against the physical limit measured in the same run. */
export const passwordLogin: Scenario = {
  name: 'password-login',
  description:
    'POST /api/v1/auth/login at default argon2id parameters (19 MiB, t=2, p=1) vs the raw hash rate; then a flood',
  async run(settings) {
    const gatehouse = await startGatehouse({ accounts: { notifyNewSignIn: false } });
    try {
      const emails = await createUsers(gatehouse, USERS);
      const raw = await rawHashRate(settings.durationSeconds);
      const steady = await measure('logins, 16 connections', {
        url: gatehouse.url,
        connections: 16,
        duration: settings.durationSeconds,
        warmupSeconds: settings.warmupSeconds,
        requests: loginRequests(emails) as never,
        timeout: 30,
      });
      const flood = await measure('login flood, 400 connections', {
        url: gatehouse.url,
        connections: 400,
        duration: settings.durationSeconds,
        requests: loginRequests(emails) as never,
        timeout: 30,
      });
      const ok = (result: typeof steady) => (result.statusCodes['200'] ?? 0) / result.durationSeconds;
      const floodTotal = Object.values(flood.statusCodes).reduce((sum, count) => sum + count, 0);
      return {
        measurements: [steady, flood],
        figures: {
          'raw argon2id hashes/s (4 threads)': round(raw),
          'successful logins/s (steady)': round(ok(steady)),
          'logins / raw hash rate': round(ok(steady) / raw, 2),
          'p50 / p99 ms (steady)': `${steady.latencyMs.p50} / ${steady.latencyMs.p99}`,
          'successful logins/s (flood)': round(ok(flood)),
          'share of 503 under flood': round((flood.statusCodes['503'] ?? 0) / Math.max(floodTotal, 1), 3),
          'p99 ms (flood)': flood.latencyMs.p99,
        },
        notes: [
          'Every login verifies an argon2id hash with OWASP parameters, creates a session (SQLite) and sets the cookie; the new-sign-in e-mail is off for the run.',
          'Targets from the issue: >= 0.8 of the raw hash rate, >= 100 logins/s, p99 < 500 ms. On this 2-core machine the raw hash rate itself is the ceiling.',
          'Server, hashing threads and autocannon share the same 2 cores.',
        ],
      };
    } finally {
      await gatehouse.stop();
    }
  },
};

/** What a signed-in request costs on top of the platform: session lookup (cached) and the user read. */
export const sessionOverhead: Scenario = {
  name: 'session-me',
  description: 'Authenticated GET /api/v1/me vs GET /health/live on the same server, same run',
  async run(settings) {
    const gatehouse = await startGatehouse({ accounts: { notifyNewSignIn: false } });
    try {
      const [email] = await createUsers(gatehouse, 1);
      const login = await fetch(`${gatehouse.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: PASSWORD }),
      });
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
      const common = {
        connections: settings.connections,
        duration: settings.durationSeconds,
        warmupSeconds: settings.warmupSeconds,
      };
      const live = await measure('GET /health/live', { url: `${gatehouse.url}/health/live`, ...common });
      const me = await measure('GET /api/v1/me (session cookie)', {
        url: `${gatehouse.url}/api/v1/me`,
        headers: { cookie },
        ...common,
      });
      if ((me.statusCodes['200'] ?? 0) === 0) throw new Error('the session was not accepted during the run');
      return {
        measurements: [live, me],
        figures: {
          'throughput ratio me/live': round(me.requestsPerSecond.mean / live.requestsPerSecond.mean, 2),
          'p99 ms live / me': `${live.latencyMs.p99} / ${me.latencyMs.p99}`,
        },
        notes: [
          'The session is validated from the in-memory cache after the first request; GET /api/v1/me also reads the user row (SQLite).',
        ],
      };
    } finally {
      await gatehouse.stop();
    }
  },
};
