import { measure, round, type Scenario, startGatehouse } from '../harness.js';

const PASSWORD = 'bench-password-correct-horse-77';
const USERS = 200;
const ACTIONS = ['invoices:read', 'invoices:write', 'invoices:approve', 'reports:read', 'ledger:close'];

/**
 * Authorization decisions: in-process (the service, cached after each user's first decision) and over HTTP
 * (`POST /api/v1/authz/check` with an owner's session), on a model with inheritance and nested groups.
 */
export const authzChecks: Scenario = {
  name: 'authz-checks',
  description:
    'authorization decisions per second in-process (cached) and over HTTP, on 12 roles with inheritance, 6 nested groups and 200 users',
  async run(settings) {
    const gatehouse = await startGatehouse();
    const { authz, accounts } = gatehouse.app.services;
    try {
      for (const name of ACTIONS) await authz.createPermission({ name }, {});
      // A chain of roles, each including the previous one, so a decision walks inheritance.
      let previous: string | undefined;
      for (let index = 0; index < 12; index += 1) {
        const role = await authz.createRole(
          {
            name: `role-${index}`,
            permissions: [ACTIONS[index % ACTIONS.length]!],
            ...(previous ? { includes: [previous] } : {}),
          },
          {},
        );
        previous = role.name;
      }
      const groups: string[] = [];
      for (let index = 0; index < 6; index += 1) {
        const group = await authz.createGroup({ name: `group-${index}` }, {});
        if (index > 0) await authz.nest(group.id, groups[index - 1]!, {});
        await authz.assign({ type: 'group', id: group.id }, `role-${index * 2}`, {});
        groups.push(group.id);
      }
      const users: string[] = [];
      for (let start = 0; start < USERS; start += 4) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(4, USERS - start) }, (_, offset) =>
            accounts.adminCreate(
              { email: `authz-${start + offset}@example.com`, password: PASSWORD, verified: true },
              {},
            ),
          ),
        );
        for (const user of batch) {
          users.push(user.id);
          await authz.addMember(groups[users.length % groups.length]!, user.id, {});
        }
      }
      const owner = await accounts.adminCreate(
        { email: 'authz-owner@example.com', password: PASSWORD, verified: true },
        {},
      );
      await authz.assign({ type: 'user', id: owner.id }, 'owner', {});

      // In-process: every user once (cold), then as many decisions as fit in the measured time.
      const coldStart = performance.now();
      for (const id of users) await authz.check({ subject: { type: 'user', id }, action: 'invoices:read' });
      const coldMs = performance.now() - coldStart;
      const until = performance.now() + settings.durationSeconds * 1000;
      let decisions = 0;
      let allowed = 0;
      while (performance.now() < until) {
        for (let index = 0; index < 1_000; index += 1) {
          const decision = await authz.check({
            subject: { type: 'user', id: users[decisions % users.length]! },
            action: ACTIONS[decisions % ACTIONS.length]!,
          });
          if (decision.allowed) allowed += 1;
          decisions += 1;
        }
      }
      const inProcess = decisions / settings.durationSeconds;

      const login = await fetch(`${gatehouse.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'authz-owner@example.com', password: PASSWORD }),
      });
      const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
      const csrf = ((await login.json()) as { csrfToken: string }).csrfToken;
      const http = await measure('POST /api/v1/authz/check (owner session)', {
        url: `${gatehouse.url}/api/v1/authz/check`,
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf, origin: gatehouse.url },
        body: JSON.stringify({ subject: { type: 'user', id: users[7] }, action: 'invoices:write' }),
        connections: settings.connections,
        duration: settings.durationSeconds,
        warmupSeconds: settings.warmupSeconds,
      });
      // The same with attribute policies in place: the roles' answer is then combined by Cedar on every check.
      await authz.savePolicy(
        {
          name: 'owner-edits',
          text: 'permit (principal, action == Action::"invoices:write", resource) when { resource has owner && resource.owner == principal.id };',
        },
        {},
      );
      await authz.savePolicy(
        {
          name: 'office-hours',
          text: 'forbid (principal, action == Action::"ledger:close", resource) when { context.hour < 6 };',
        },
        {},
      );
      await authz.savePolicy(
        {
          name: 'second-factor',
          text: 'forbid (principal, action == Action::"invoices:approve", resource) unless { context has acr && context.acr >= 2 };',
        },
        {},
      );
      const policyUntil = performance.now() + settings.durationSeconds * 1000;
      let withPolicies = 0;
      while (performance.now() < policyUntil) {
        for (let index = 0; index < 200; index += 1) {
          await authz.check({
            subject: { type: 'user', id: users[withPolicies % users.length]! },
            action: ACTIONS[withPolicies % ACTIONS.length]!,
            resource: { id: `doc-${withPolicies % 50}`, owner: users[withPolicies % 7]! },
            context: { acr: withPolicies % 3 },
          });
          withPolicies += 1;
        }
      }
      const inProcessWithPolicies = withPolicies / settings.durationSeconds;
      // Questions never asked before (a new resource each time): every one runs Cedar.
      const freshStart = performance.now();
      for (let index = 0; index < 2_000; index += 1) {
        await authz.check({
          subject: { type: 'user', id: users[index % users.length]! },
          action: 'invoices:write',
          resource: { id: `fresh-${index}`, owner: users[index % 7]! },
        });
      }
      const freshMs = (performance.now() - freshStart) / 2_000;

      return {
        measurements: [http],
        figures: {
          'in-process decisions/s (cached)': round(inProcess),
          'in-process decisions/s with 3 Cedar policies (repeated questions)': round(inProcessWithPolicies),
          'ms per never-asked question with policies (Cedar runs)': round(freshMs, 3),
          'share allowed (in-process mix)': round(allowed / decisions, 2),
          'first decision per user, ms (cold, 200 users)': round(coldMs / users.length, 3),
          'HTTP decisions/s': http.requestsPerSecond.mean,
          'HTTP p99 ms': http.latencyMs.p99,
        },
        notes: [
          'In-process: authz.check awaited one at a time on the event loop, each user cached after their first decision.',
          'With policies, Cedar answers a question once and its answer is cached until anything changes; the mix repeats 200 users × 5 actions × 50 resources × 3 acr levels, so most come from the cache. The HTTP figure is measured before any policy exists.',
          'HTTP: the full request path (session cookie, CSRF, permission guard, validation, decision, response schema); autocannon in a worker thread.',
        ],
      };
    } finally {
      await gatehouse.stop();
    }
  },
};
