import { defineErrorCodes } from '../../platform/errors.js';

export const WebhookErrors = defineErrorCodes({
  webhook_not_found: { status: 404, title: 'No such webhook', expose: true },
  webhook_delivery_not_found: { status: 404, title: 'No such delivery', expose: true },
  webhook_invalid: { status: 400, title: 'The webhook is not valid', expose: true },
});
