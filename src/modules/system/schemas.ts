import { Type } from '@sinclair/typebox';

const Status = Type.Union([Type.Literal('up'), Type.Literal('down')]);

export const LiveResponse = Type.Object({ status: Type.Literal('up') });

export const ReadyResponse = Type.Object({
  status: Status,
  shuttingDown: Type.Boolean(),
  failed: Type.Array(Type.String(), { description: 'Critical components that are down.' }),
});

const Component = Type.Object({
  status: Status,
  critical: Type.Boolean(),
  latencyMs: Type.Number(),
  error: Type.Optional(Type.String({ description: 'Only for operators.' })),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Only for operators.' })),
});

export const HealthResponse = Type.Object({
  status: Status,
  shuttingDown: Type.Boolean(),
  version: Type.String(),
  components: Type.Record(Type.String(), Component),
  installationId: Type.Optional(Type.String({ description: 'Only for operators.' })),
  uptimeSeconds: Type.Optional(Type.Number({ description: 'Only for operators.' })),
});

export const HealthHeaders = Type.Object({
  authorization: Type.Optional(
    Type.String({ description: 'Bearer <health.token> shows component details.' }),
  ),
});
