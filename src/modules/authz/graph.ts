/**
 * The role and group graph, resolved in memory. Pure functions: the service loads the rows, these answer.
 *
 * - A role grants its own permissions and those of every role it includes, transitively.
 * - A group is inside its parent groups: members of a group are members of every group above it.
 * - A user's roles are those assigned to them and to every group they are (transitively) in.
 */

export interface RoleNode {
  readonly id: string;
  readonly name: string;
  readonly permissions: readonly string[];
  readonly includes: readonly string[];
}

export interface AuthzGraph {
  readonly roles: ReadonlyMap<string, RoleNode>;
  /** group id → the groups it sits in directly. */
  readonly groupParents: ReadonlyMap<string, readonly string[]>;
}

/** Everything reachable from `start` (itself included) following `next`; safe on cycles. */
export function reachable(
  start: Iterable<string>,
  next: (id: string) => readonly string[] | undefined,
): Set<string> {
  const seen = new Set<string>();
  const stack = [...start];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const following of next(id) ?? []) if (!seen.has(following)) stack.push(following);
  }
  return seen;
}

/**
 * Would adding the edge from → to close a cycle? True when `from` is reachable from `to` already (or they are
 * the same). Used for role inclusion and group nesting at write time.
 */
export function wouldCycle(
  from: string,
  to: string,
  next: (id: string) => readonly string[] | undefined,
): boolean {
  return from === to || reachable([to], next).has(from);
}

/** The roles a set of directly held roles amounts to, with the inclusions followed. */
export function expandRoles(graph: AuthzGraph, direct: Iterable<string>): Set<string> {
  return reachable(direct, (id) => graph.roles.get(id)?.includes);
}

/** Groups a user is in: the ones they are a member of, and every group above those. */
export function expandGroups(graph: AuthzGraph, memberOf: Iterable<string>): Set<string> {
  return reachable(memberOf, (id) => graph.groupParents.get(id));
}

export interface Grant {
  readonly permission: string;
  /** The role that carries the permission, and the path it was reached by (for explanations). */
  readonly role: string;
}

/** Permissions of a set of roles (already expanded), each with a role that grants it. */
export function permissionsOf(graph: AuthzGraph, roles: Iterable<string>): Map<string, Grant> {
  const result = new Map<string, Grant>();
  for (const roleId of roles) {
    const role = graph.roles.get(roleId);
    if (!role) continue;
    for (const permission of role.permissions) {
      if (!result.has(permission)) result.set(permission, { permission, role: role.name });
    }
  }
  return result;
}

/**
 * Whether a held permission covers the one asked for. `resource:*` covers every action on the resource and
 * `*` covers everything (the owner role holds it).
 */
export function covers(held: string, wanted: string): boolean {
  if (held === wanted || held === '*') return true;
  if (!held.endsWith(':*')) return false;
  return wanted.startsWith(held.slice(0, -1));
}
