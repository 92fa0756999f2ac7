import { defineErrorCodes } from '../../platform/errors.js';

export const AlertErrors = defineErrorCodes({
  alert_rule_not_found: { status: 404, title: 'No such alert rule', expose: true },
  alert_rule_invalid: { status: 400, title: 'The alert rule is not valid', expose: true },
});
