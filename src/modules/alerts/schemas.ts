import { Type } from '@sinclair/typebox';

const Iso = Type.String({ format: 'date-time' });
const Url = Type.String({ minLength: 8, maxLength: 2000 });

export const AlertChannelSchema = Type.Union([
  Type.Object(
    { type: Type.Literal('email'), to: Type.String({ minLength: 3, maxLength: 254 }) },
    { additionalProperties: false },
  ),
  Type.Object(
    { type: Type.Literal('slack'), url: Url },
    {
      additionalProperties: false,
      description: 'A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat…)',
    },
  ),
  Type.Object(
    {
      type: Type.Literal('pagerduty'),
      routingKey: Type.String({ minLength: 20, maxLength: 64, description: 'The integration (routing) key' }),
      url: Type.Optional(Url),
    },
    { additionalProperties: false, description: 'PagerDuty Events API v2' },
  ),
  Type.Object(
    {
      type: Type.Literal('webhook'),
      url: Url,
      secret: Type.Optional(Type.String({ minLength: 16, maxLength: 200 })),
    },
    { additionalProperties: false, description: 'A JSON POST, signed like webhooks when a secret is given' },
  ),
]);

export const AlertRuleBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    enabled: Type.Optional(Type.Boolean()),
    source: Type.Union([Type.Literal('events'), Type.Literal('audit_writer')]),
    eventPattern: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    outcome: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('failure')])),
    threshold: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'Fires above this count' }),
    ),
    windowSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 86_400 })),
    cooldownSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 604_800 })),
    severity: Type.Optional(
      Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')]),
    ),
    channels: Type.Array(AlertChannelSchema, { minItems: 1, maxItems: 10 }),
  },
  { additionalProperties: false },
);

export const AlertRuleSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    enabled: Type.Boolean(),
    source: Type.String(),
    eventPattern: Type.Union([Type.String(), Type.Null()]),
    outcome: Type.Union([Type.String(), Type.Null()]),
    threshold: Type.Integer(),
    windowSeconds: Type.Integer(),
    cooldownSeconds: Type.Integer(),
    severity: Type.String(),
    channels: Type.Array(
      Type.Object({ type: Type.String(), target: Type.String({ description: 'Secrets masked' }) }),
    ),
    lastFiredAt: Type.Union([Iso, Type.Null()]),
  },
  { title: 'AlertRule' },
);
export const AlertRuleParams = Type.Object({ ruleId: Type.String({ minLength: 1, maxLength: 64 }) });
export const AlertRuleResponse = Type.Object({ rule: AlertRuleSchema });
export const AlertRulesResponse = Type.Object({ rules: Type.Array(AlertRuleSchema) });
export const FiringsResponse = Type.Object({
  firings: Type.Array(
    Type.Object({ id: Type.String(), firedAt: Iso, count: Type.Integer(), summary: Type.String() }),
  ),
});
export const TestResponse = Type.Object({
  channels: Type.Array(
    Type.Object({
      type: Type.String(),
      target: Type.String(),
      sent: Type.Boolean(),
      error: Type.Optional(Type.String()),
    }),
  ),
});
