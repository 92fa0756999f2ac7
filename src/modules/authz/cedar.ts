import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { AuthzSettings, PolicyAttributeType } from './settings.js';

/**
 * Attribute policies run on Cedar (the policy language and engine AWS maintains; its WebAssembly build runs on
 * Node 20). Roles decide first; policies then refine or restrict that answer. A built-in policy stands for the
 * roles' answer, so Cedar's own rule gives the combination: allowed when the roles or some `permit` policy
 * allow it, unless a `forbid` policy applies.
 */
const RBAC_POLICY_ID = 'gatehouse:roles';
const RBAC_POLICY = 'permit (principal, action, resource) when { context.roles_allow };';

export interface PolicyProblem {
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

export interface CedarRequest {
  readonly principal: { type: 'User' | 'ServiceAccount'; id: string; attributes: Record<string, unknown> };
  readonly action: string;
  readonly resource: Record<string, unknown> | undefined;
  readonly context: Record<string, unknown>;
  readonly rolesAllow: boolean;
}

export interface CedarDecision {
  readonly allowed: boolean;
  /** Names of the stored policies that decided (the roles' own answer is not one of them). */
  readonly matched: string[];
  readonly errors: string[];
}

function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1]!.length + 1 };
}

/** Checks one policy's syntax; problems carry the line and column they start at. */
export function checkPolicy(text: string): PolicyProblem[] {
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure') {
    return parts.errors.map((error) => ({
      message: error.help ? `${error.message} (${error.help})` : error.message,
      ...(error.sourceLocations?.[0] ? position(text, error.sourceLocations[0].start) : {}),
    }));
  }
  if (parts.policy_templates.length > 0)
    return [{ message: 'templates are not supported; write a static policy' }];
  if (parts.policies.length !== 1) {
    return [{ message: `one policy per entry, found ${parts.policies.length}` }];
  }
  return [];
}

type AttributeType = Record<string, unknown>;

const cedarType = (type: PolicyAttributeType, required: boolean): AttributeType => {
  const base =
    type === 'Set<String>'
      ? { type: 'Set', element: { type: 'String' } }
      : type === 'ipaddr'
        ? { type: 'Extension', name: 'ipaddr' }
        : { type };
  return { ...base, required };
};

const record = (
  fixed: Record<string, AttributeType>,
  declared: Record<string, PolicyAttributeType>,
): AttributeType => ({
  type: 'Record',
  attributes: {
    ...Object.fromEntries(Object.entries(declared).map(([name, type]) => [name, cedarType(type, false)])),
    ...fixed,
  },
});

/**
 * The Cedar schema policies are validated against: principals (users and service accounts) with their id,
 * roles and groups; one action per registered permission; resources and context with the attributes the
 * settings declare (Cedar has no open records, so an attribute must be declared before a policy reads it).
 */
export function policySchema(settings: AuthzSettings, permissions: readonly string[]) {
  const principal = {
    shape: record(
      {
        id: cedarType('String', true),
        roles: cedarType('Set<String>', true),
        groups: cedarType('Set<String>', true),
      },
      {},
    ),
  };
  const context = record(
    {
      hour: cedarType('Long', true),
      weekday: cedarType('Long', true),
      roles_allow: cedarType('Boolean', true),
    },
    settings.contextAttributes,
  );
  return {
    '': {
      entityTypes: {
        User: principal,
        ServiceAccount: principal,
        Resource: { shape: record({ id: cedarType('String', false) }, settings.resourceAttributes) },
      },
      actions: Object.fromEntries(
        permissions.map((permission) => [
          permission,
          {
            appliesTo: {
              principalTypes: ['User', 'ServiceAccount'],
              resourceTypes: ['Resource'],
              context,
            },
          },
        ]),
      ),
    },
  };
}

export type PolicySchema = ReturnType<typeof policySchema>;

/** Where in `text` a Cedar source location starts, as line and column. */
const located = (text: string, locations: { start: number }[] | undefined) =>
  locations?.[0] ? position(text, locations[0].start) : {};

/**
 * Checks one policy: its syntax, then its meaning against the schema (unknown actions, attributes not
 * declared, optional attributes read without `has`, type mismatches). Problems carry line and column.
 */
export function checkPolicyAgainst(text: string, schema: PolicySchema): PolicyProblem[] {
  const syntax = checkPolicy(text);
  if (syntax.length > 0) return syntax;
  const answer = cedar.validate({
    schema: schema as never,
    policies: { staticPolicies: { policy: text } },
    validationSettings: { mode: 'strict' },
  });
  if (answer.type === 'failure') {
    throw new Error(`the policy schema is not valid: ${answer.errors.map((e) => e.message).join('; ')}`);
  }
  return answer.validationErrors.map(({ error }) => ({
    message: error.help ? `${error.message} (${error.help})` : error.message,
    ...located(text, error.sourceLocations),
  }));
}

/** Which attributes hold IP addresses, so their string values reach Cedar as `ip` values. */
export function ipAttributes(settings: AuthzSettings) {
  const names = (declared: Record<string, PolicyAttributeType>) =>
    new Set(
      Object.entries(declared)
        .filter(([, type]) => type === 'ipaddr')
        .map(([name]) => name),
    );
  return { resource: names(settings.resourceAttributes), context: names(settings.contextAttributes) };
}

const cedarValues = (values: Record<string, unknown>, ipNames: ReadonlySet<string>) =>
  Object.fromEntries(
    Object.entries(values).map(([key, value]) => [
      key,
      ipNames.has(key) && typeof value === 'string' ? { __extn: { fn: 'ip', arg: value } } : value,
    ]),
  );

/**
 * A compiled set of policies, kept parsed inside the engine under `setId`. Compiling again under the same id
 * replaces the set (so changes do not pile up in the engine's memory).
 */
export function compilePolicies(
  setId: 'live' | 'draft',
  policies: readonly { name: string; text: string }[],
  ipNames: ReturnType<typeof ipAttributes>,
) {
  const id = `gatehouse-${setId}`;
  const staticPolicies: Record<string, string> = { [RBAC_POLICY_ID]: RBAC_POLICY };
  for (const policy of policies) staticPolicies[policy.name] = policy.text;
  const parsed = cedar.preparsePolicySet(id, { staticPolicies });
  if (parsed.type === 'failure') {
    throw new Error(
      `stored policies do not parse: ${parsed.errors.map((error) => error.message).join('; ')}`,
    );
  }
  return {
    size: policies.length,
    evaluate(request: CedarRequest): CedarDecision {
      const principal = { type: request.principal.type, id: request.principal.id };
      const resourceId = typeof request.resource?.id === 'string' ? request.resource.id : 'unspecified';
      const resource = { type: 'Resource', id: resourceId };
      const context = cedarValues(request.context, ipNames.context);
      const answer = cedar.statefulIsAuthorized({
        principal,
        action: { type: 'Action', id: request.action },
        resource,
        context: { ...context, roles_allow: request.rolesAllow },
        preparsedPolicySetId: id,
        entities: [
          { uid: principal, attrs: request.principal.attributes as never, parents: [] },
          {
            uid: resource,
            attrs: cedarValues(request.resource ?? {}, ipNames.resource) as never,
            parents: [],
          },
        ],
      });
      if (answer.type === 'failure') {
        // Fail closed: a request the engine cannot evaluate is refused.
        return { allowed: false, matched: [], errors: answer.errors.map((error) => error.message) };
      }
      return {
        allowed: answer.response.decision === 'allow',
        matched: answer.response.diagnostics.reason.filter((policy) => policy !== RBAC_POLICY_ID),
        errors: answer.response.diagnostics.errors.map(
          (error) => `${error.policyId}: ${error.error.message}`,
        ),
      };
    },
  };
}

export type CompiledPolicies = ReturnType<typeof compilePolicies>;
