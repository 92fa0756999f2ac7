import { Type } from '@sinclair/typebox';

const Iso = Type.String({ format: 'date-time' });
const Pattern = Type.String({
  minLength: 1,
  maxLength: 100,
  description: 'An event name (auth.login.failed), a prefix (auth. or auth.*), or * for every event',
});

export const WebhookSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    url: Type.String(),
    events: Type.Array(Type.String()),
    enabled: Type.Boolean(),
    createdAt: Iso,
    updatedAt: Iso,
  },
  { title: 'Webhook' },
);

export const WebhookBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    url: Type.String({
      minLength: 8,
      maxLength: 2000,
      description: 'https:// (public addresses only by default)',
    }),
    events: Type.Array(Pattern, { minItems: 1, maxItems: 50 }),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const WebhookPatch = Type.Partial(WebhookBody, { additionalProperties: false, minProperties: 1 });
export const WebhookParams = Type.Object({ webhookId: Type.String({ minLength: 1, maxLength: 64 }) });
export const DeliveryParams = Type.Object({ deliveryId: Type.String({ minLength: 1, maxLength: 64 }) });

export const WebhookResponse = Type.Object({ webhook: WebhookSchema });
export const WebhooksResponse = Type.Object({ webhooks: Type.Array(WebhookSchema) });
export const CreatedWebhookResponse = Type.Object({
  webhook: WebhookSchema,
  secret: Type.String({ description: 'The signing secret, shown this once (whsec_…)' }),
});
export const SecretResponse = Type.Object({ secret: Type.String({ description: 'Shown this once' }) });

const DeliveryStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('dead'),
]);
export const DeliverySchema = Type.Object(
  {
    id: Type.String(),
    webhookId: Type.String(),
    eventId: Type.String(),
    eventName: Type.String(),
    status: DeliveryStatus,
    attempts: Type.Integer(),
    lastStatusCode: Type.Union([Type.Integer(), Type.Null()]),
    lastError: Type.Union([Type.String(), Type.Null()]),
    createdAt: Iso,
    updatedAt: Iso,
  },
  { title: 'WebhookDelivery' },
);
export const DeliveryQuery = Type.Object(
  {
    status: Type.Optional(DeliveryStatus),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    before: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export const DeliveriesResponse = Type.Object({ deliveries: Type.Array(DeliverySchema) });
export const DeliveryResponse = Type.Object({ delivery: DeliverySchema });
export const DeliveryDetailResponse = Type.Object({
  delivery: Type.Object({
    ...DeliverySchema.properties,
    body: Type.String({ description: 'The exact JSON body sent and signed' }),
    tries: Type.Array(
      Type.Object({
        at: Iso,
        statusCode: Type.Union([Type.Integer(), Type.Null()]),
        error: Type.Union([Type.String(), Type.Null()]),
        durationMs: Type.Integer(),
      }),
    ),
  }),
});
