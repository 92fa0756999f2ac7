import { type Static, Type } from '@sinclair/typebox';
import { Count } from '../../config/fields.js';

export const OutboundSettingsSchema = Type.Object(
  {
    timeoutMs: Type.Integer({
      minimum: 100,
      default: 10_000,
      description:
        'Time limit of one outbound call (SMTP, SMS, webhooks, alert channels) unless its target sets its own.',
    }),
    consecutiveFailures: Count(
      5,
      'Failures in a row that open a circuit: calls to that target then fail at once.',
    ),
    allowPrivateNetworks: Type.Boolean({
      default: false,
      description:
        'Let webhooks and alert channels call loopback and private addresses (and plain http). Off: only public https URLs, checked on save and before each call.',
    }),
    halfOpenAfterMs: Type.Integer({
      minimum: 100,
      default: 30_000,
      description: 'How long an open circuit waits before letting one trial call through.',
    }),
  },
  { default: {}, additionalProperties: false },
);

export type OutboundSettings = Static<typeof OutboundSettingsSchema>;
