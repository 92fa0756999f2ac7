import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AuthzGraph,
  covers,
  expandGroups,
  expandRoles,
  permissionsOf,
  type RoleNode,
  wouldCycle,
} from './graph.js';

/** The reference: grow the set until nothing changes (no stacks, no cleverness). */
function naiveClosure(start: string[], edges: ReadonlyMap<string, readonly string[]>): Set<string> {
  const result = new Set(start);
  let grew = true;
  while (grew) {
    grew = false;
    for (const id of [...result]) {
      for (const next of edges.get(id) ?? []) {
        if (!result.has(next)) {
          result.add(next);
          grew = true;
        }
      }
    }
  }
  return result;
}

const ids = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => `${prefix}${index}`);

/** Random role graphs (cycles allowed: the resolver must not loop), groups, and a user's direct holdings. */
const scenario = fc
  .record({ roleCount: fc.integer({ min: 1, max: 12 }), groupCount: fc.integer({ min: 0, max: 10 }) })
  .chain(({ roleCount, groupCount }) => {
    const roles = ids('r', roleCount);
    const groups = ids('g', groupCount);
    const permission = fc.constantFrom('a:read', 'a:write', 'b:read', 'b:*', 'c:run', '*');
    return fc.record({
      roles: fc.constant(roles),
      groups: fc.constant(groups),
      permissions: fc.array(fc.uniqueArray(permission, { maxLength: 3 }), {
        minLength: roleCount,
        maxLength: roleCount,
      }),
      includes: fc.array(fc.uniqueArray(fc.constantFrom(...roles), { maxLength: 3 }), {
        minLength: roleCount,
        maxLength: roleCount,
      }),
      parents:
        groupCount === 0
          ? fc.constant([] as string[][])
          : fc.array(fc.uniqueArray(fc.constantFrom(...groups), { maxLength: 2 }), {
              minLength: groupCount,
              maxLength: groupCount,
            }),
      memberOf: groupCount === 0 ? fc.constant([] as string[]) : fc.uniqueArray(fc.constantFrom(...groups)),
      groupRoles:
        groupCount === 0
          ? fc.constant([] as string[][])
          : fc.array(fc.uniqueArray(fc.constantFrom(...roles), { maxLength: 2 }), {
              minLength: groupCount,
              maxLength: groupCount,
            }),
      direct: fc.uniqueArray(fc.constantFrom(...roles), { maxLength: 3 }),
      asked: fc.constantFrom('a:read', 'a:write', 'b:read', 'b:delete', 'c:run', 'd:read'),
    });
  });

describe('role and group graph', () => {
  it('resolves effective permissions exactly as a naive fixed-point evaluator does, cycles included', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const roleNodes = new Map<string, RoleNode>(
          input.roles.map((id, index) => [
            id,
            { id, name: id, permissions: input.permissions[index]!, includes: input.includes[index]! },
          ]),
        );
        const groupParents = new Map(input.groups.map((id, index) => [id, input.parents[index]!]));
        const graph: AuthzGraph = { roles: roleNodes, groupParents };

        const groups = expandGroups(graph, input.memberOf);
        expect(groups).toEqual(naiveClosure(input.memberOf, groupParents));
        const viaGroups = input.groups.flatMap((id, index) =>
          groups.has(id) ? input.groupRoles[index]! : [],
        );
        const roles = expandRoles(graph, [...input.direct, ...viaGroups]);
        const includeEdges = new Map(input.roles.map((id, index) => [id, input.includes[index]!]));
        expect(roles).toEqual(naiveClosure([...input.direct, ...viaGroups], includeEdges));

        const held = permissionsOf(graph, roles);
        const naiveHeld = new Set<string>(
          input.roles.flatMap((id, index) => (roles.has(id) ? input.permissions[index]! : [])),
        );
        expect(new Set(held.keys())).toEqual(naiveHeld);
        const allowed = [...held.keys()].some((permission) => covers(permission, input.asked));
        const naiveAllowed =
          naiveHeld.has('*') || naiveHeld.has(input.asked) || naiveHeld.has(`${input.asked.split(':')[0]}:*`);
        expect(allowed).toBe(naiveAllowed);
      }),
      { numRuns: 500 },
    );
  });

  it('says an edge closes a cycle exactly when the reverse path exists', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }).chain((count) =>
          fc.record({
            nodes: fc.constant(ids('n', count)),
            edges: fc.array(fc.uniqueArray(fc.constantFrom(...ids('n', count)), { maxLength: 2 }), {
              minLength: count,
              maxLength: count,
            }),
            from: fc.constantFrom(...ids('n', count)),
            to: fc.constantFrom(...ids('n', count)),
          }),
        ),
        ({ nodes, edges, from, to }) => {
          const next = new Map(nodes.map((id, index) => [id, edges[index]!]));
          const expected = from === to || naiveClosure([to], next).has(from);
          expect(wouldCycle(from, to, (id) => next.get(id))).toBe(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('matches wildcards only where they apply', () => {
    expect(covers('*', 'anything:at-all')).toBe(true);
    expect(covers('invoices:*', 'invoices:read')).toBe(true);
    expect(covers('invoices:*', 'invoicesx:read')).toBe(false);
    expect(covers('invoices:read', 'invoices:write')).toBe(false);
    expect(covers('invoices:read', 'invoices:read')).toBe(true);
  });
});
