/** Audit events of the webhooks module (deliveries themselves are counted in metrics and kept per webhook). */
export const WebhookEvents = {
  created: 'webhook.created',
  updated: 'webhook.updated',
  deleted: 'webhook.deleted',
  secretRotated: 'webhook.secret.rotated',
  replayed: 'webhook.delivery.replayed',
} as const;
