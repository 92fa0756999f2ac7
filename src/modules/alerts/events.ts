/** Audit events of the alerts module. */
export const AlertEvents = {
  ruleCreated: 'alert.rule.created',
  ruleUpdated: 'alert.rule.updated',
  ruleDeleted: 'alert.rule.deleted',
  fired: 'alert.fired',
} as const;
