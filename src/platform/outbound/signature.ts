import { createHmac } from 'node:crypto';

/**
 * The `Gatehouse-Signature` header of a webhook request (audit forwarding, webhooks, alert channels):
 * `t=<unix seconds>,v1=<hex HMAC-SHA256>`, where the HMAC is keyed with the webhook secret over
 * `<t>.<raw request body>`.
 *
 * To verify: split the header on `,` into `t` and `v1`; compute HMAC-SHA256(secret, `${t}.${body}`) over the
 * body exactly as received (before any JSON parsing); compare it with `v1` in constant time; and refuse `t`
 * more than a few minutes from your clock, so a captured request cannot be replayed later.
 */
export function signWebhookBody(secret: string, body: string, timestampSeconds: number): string {
  const signature = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`, 'utf8').digest('hex');
  return `t=${timestampSeconds},v1=${signature}`;
}
