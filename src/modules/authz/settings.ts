import { type Static, Type } from '@sinclair/typebox';

/** The Cedar types a declared attribute may have. */
export const POLICY_ATTRIBUTE_TYPES = ['String', 'Long', 'Boolean', 'Set<String>', 'ipaddr'] as const;
export type PolicyAttributeType = (typeof POLICY_ATTRIBUTE_TYPES)[number];

const AttributeTypes = (defaults: Record<string, PolicyAttributeType>, description: string) =>
  Type.Record(
    Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }),
    Type.Union(
      POLICY_ATTRIBUTE_TYPES.map((name) => Type.Literal(name)),
      { errorMessage: `must be one of ${POLICY_ATTRIBUTE_TYPES.join(', ')}` },
    ),
    { default: defaults, description },
  );

export const AuthzSettingsSchema = Type.Object(
  {
    resourceAttributes: AttributeTypes(
      { owner: 'String', organization: 'String' },
      'Attributes a check may give its `resource`, by name and Cedar type. Policies are validated against them: a policy that reads an attribute not declared here, or compares it as the wrong type, is refused when saved. All are optional, so policies test them with `has` first.',
    ),
    contextAttributes: AttributeTypes(
      { ip: 'ipaddr', acr: 'Long', mfa: 'Boolean' },
      'Attributes a check may give its `context` besides `hour` and `weekday` (which Gatehouse always sets), by name and Cedar type; optional like the resource attributes. `ipaddr` values are given as strings ("10.1.2.3", "2001:db8::/32").',
    ),
  },
  { default: {}, additionalProperties: false },
);

export type AuthzSettings = Static<typeof AuthzSettingsSchema>;
